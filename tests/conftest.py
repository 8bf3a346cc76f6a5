"""Hypothesis profiles. "ci" (the default) is derandomised: every run draws the same
examples, so a failure reproduces exactly. Set HYPOTHESIS_PROFILE=dev for fresh,
random examples while developing."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=40,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
