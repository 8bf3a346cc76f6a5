"""refsnn.learning."""
