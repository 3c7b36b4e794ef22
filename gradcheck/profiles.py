"""Hypothesis profiles, registered in this one place.

`register()` is called explicitly (by conftest.py and the CLI), never on import.
Tests pick a profile with HYPOTHESIS_PROFILE, the CLI with --profile.

Example counts are per layer. `ci` is derandomized (same examples every run, so the
same report), has no deadline (the first example of a layer pays JAX's compile),
and no example database (a database would replay old failures and make two runs
differ).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hypothesis import settings

PROFILES: dict[str, dict[str, Any]] = {
    "quick": dict(max_examples=8, derandomize=False),
    "ci": dict(max_examples=30, derandomize=True),
    "thorough": dict(max_examples=500, derandomize=False),
}
DEFAULT = "ci"
# The dims an axis is made of (gradcheck/specs/base.py says what each is), in the
# order examples draw them. Here, not with the specs, so that the command line can
# validate --dims without importing JAX.
LETTERS = "NTSDHV"
# Upper bounds of the drawn dims per profile (strategies.DEFAULT_BOUNDS otherwise:
# N<=3, T,S<=5, D,H<=4, V<=6). thorough also reaches sizes where a bug that only shows
# past a few steps (BPTT cut off after 8 steps, say) or at a wider H appears.
DIMS: dict[str, dict[str, int]] = {
    "thorough": {"max_N": 4, "max_T": 12, "max_S": 12, "max_D": 6, "max_H": 8, "max_V": 10}
}


def _common() -> dict[str, Any]:
    """Settings every profile shares. Hypothesis is imported here, not at the top:
    the command line reads PROFILES for its --help and options, and every `gradcheck`
    process (usage errors too) would pay ~0.13 s for an import it may not need."""
    from hypothesis import HealthCheck

    return dict(
        deadline=None,
        # One failure per layer is reported. With True, Hypothesis keeps generating
        # after the first failure until 10 s have passed since it (a wall-clock rule):
        # under load two runs of the derandomized profile then differ in examples run.
        report_multiple_bugs=False,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def register() -> None:
    from hypothesis import settings

    common = _common()
    for name, kw in PROFILES.items():
        settings.register_profile(name, **common, **kw)


def dims(name: str | None = None) -> dict[str, int]:
    """The max_X bounds of a profile's examples ({} for the defaults)."""
    return dict(DIMS.get(name or os.environ.get("HYPOTHESIS_PROFILE") or DEFAULT, {}))


def get(name: str | None = None) -> settings:
    """The settings of a profile (registering them if needed)."""
    name = name or os.environ.get("HYPOTHESIS_PROFILE") or DEFAULT
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}")
    register()
    from hypothesis import settings

    return settings.get_profile(name)
