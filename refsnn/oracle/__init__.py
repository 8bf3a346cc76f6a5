"""refsnn.oracle."""
