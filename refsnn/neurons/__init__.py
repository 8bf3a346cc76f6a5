"""refsnn.neurons."""
