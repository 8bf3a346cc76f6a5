"""refsnn.checking."""
