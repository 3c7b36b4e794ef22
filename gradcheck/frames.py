"""Where in the user's code, and in which check, something happened: read from a
traceback or a stack, for crash findings and load errors."""

from __future__ import annotations

import sysconfig
import traceback
from pathlib import Path

_OWN_DIR = str(Path(__file__).resolve().parent)
_LIB_DIRS = tuple(
    sorted(
        {
            str(Path(p).resolve())
            for k, p in sysconfig.get_paths().items()
            if k in ("stdlib", "platstdlib", "purelib", "platlib")
        }
    )
)
# Checks whose documented name is not their function's name (engine._CHECK_IDS).
_RENAMED = {"check_state_methods": "state-reset", "setup": "setup (the first build, forward and backward)"}


def _ours(filename: str) -> bool:
    return filename.startswith(_OWN_DIR) or "importlib" in filename or filename.startswith("<")


def user_frame(frames: traceback.StackSummary | list[traceback.FrameSummary]) -> str:
    """file:line: code of the innermost frame in the user's code: outside gradcheck,
    importlib, the standard library and installed packages (so an error NumPy
    raises for the user's line points at that line); failing that, the innermost
    frame outside gradcheck and importlib; '' if none."""
    outside = [f for f in frames if not _ours(f.filename)]
    theirs = [f for f in outside if not str(Path(f.filename).resolve()).startswith(_LIB_DIRS)]
    if not (theirs or outside):
        return ""
    pick = (theirs or outside)[-1]
    where = f"{pick.filename}:{pick.lineno}" + (f" in {pick.name}" if pick.name != "<module>" else "")
    return where + (f": {pick.line}" if pick.line else "")


def user_frame_of(exc: BaseException) -> str:
    return user_frame(traceback.extract_tb(exc.__traceback__))


def check_of(frames: traceback.StackSummary | list[traceback.FrameSummary]) -> str | None:
    """The documented name of the innermost check on the stack (e.g. 'backward-fd')."""
    for f in reversed(frames):
        if f.filename.startswith(_OWN_DIR) and f.name != "check_example":
            if f.name in _RENAMED:
                return _RENAMED[f.name]
            if f.name.startswith("check_"):
                return f.name.removeprefix("check_").replace("_", "-")
    return None
