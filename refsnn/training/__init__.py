"""refsnn.training."""
