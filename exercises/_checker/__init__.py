"""The exercise checker's per-exercise checks. Run them with ``python exercises/check.py exNN``."""
