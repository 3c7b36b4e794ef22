"""Hypothesis profiles for the whole test suite: chosen by HYPOTHESIS_PROFILE
(quick | ci | thorough; default ci), registered in gradcheck/profiles.py."""

import os

from hypothesis import settings

from gradcheck import profiles

profiles.register()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", profiles.DEFAULT))
