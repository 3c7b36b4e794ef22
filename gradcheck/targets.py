"""Load a user's module (a .py path or an importable name) and find the classes
that carry the book's layer names. Every failure is a `TargetError` with a
one-line message (exit code 2), never a traceback from gradcheck."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from .runner import Target, targets_in
from .specs import SPECS


class TargetError(Exception):
    """Usage or input error: the message is for the user, exit code 2."""


def load_module(target: str, paths: list[str] | None = None) -> ModuleType:
    for p in reversed(paths or []):
        if not Path(p).is_dir():
            raise TargetError(f"--path {p}: no such directory")
        sys.path.insert(0, str(Path(p).resolve()))
    looks_like_file = target.endswith(".py") or "/" in target or "\\" in target
    if looks_like_file:
        path = Path(target)
        if not path.is_file():
            raise TargetError(f"no such file: {target}")
        # The book's scripts import siblings (and `common` from the parent), so the
        # file's own directory goes on the path like `python file.py` would put it.
        sys.path.insert(0, str(path.resolve().parent))
        name = f"gradcheck_target_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise TargetError(f"cannot load {target} as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        _execute(target, lambda: spec.loader.exec_module(module))
        return module
    err: ImportError | ValueError | None
    try:
        found = importlib.util.find_spec(target)
    except (ImportError, ValueError) as exc:
        found, err = None, exc
    else:
        err = None
    if found is None:
        hint = f" ({err})" if err else ""
        raise TargetError(
            f"no such file or module: {target}{hint}; give a path to a .py file or an importable module name"
        )
    return _execute(target, lambda: importlib.import_module(target))


def _execute(target: str, load):
    try:
        return load()
    except SyntaxError as exc:
        line = (exc.text or "").rstrip("\n")
        where = f"{exc.filename}:{exc.lineno}"
        raise TargetError(f"syntax error in {where}: {exc.msg}" + (f"\n    {line.strip()}" if line else "")) from None
    except BaseException as exc:  # the target's own code failed while importing
        if isinstance(exc, KeyboardInterrupt):
            raise
        frames = [
            f
            for f in traceback.extract_tb(exc.__traceback__)
            if "importlib" not in f.filename and "/gradcheck/" not in f.filename
        ]
        where = f" at {frames[-1].filename}:{frames[-1].lineno}: {frames[-1].line}" if frames else ""
        hint = ""
        if isinstance(exc, ModuleNotFoundError):
            hint = " (the book's scripts import `common` from the repository root: add --path DIR)"
        raise TargetError(f"importing {target} failed: {type(exc).__name__}: {exc}{where}{hint}") from None


def find_targets(module: ModuleType, layers: list[str] | None = None) -> list[Target]:
    """The classes of `module` under the book's names, in the order of SPECS."""
    if layers:
        unknown = [n for n in layers if n not in SPECS]
        if unknown:
            raise TargetError(f"--layers: unknown layer {', '.join(unknown)}; known: {', '.join(SPECS)}")
    found = {n: getattr(module, n) for n in SPECS if callable(getattr(module, n, None))}
    if not found:
        raise TargetError(f"no class with a known name in {module.__name__}: expected one of {', '.join(SPECS)}")
    names = [n for n in SPECS if n in found and (not layers or n in layers)]
    missing = [n for n in layers or [] if n not in found]
    if missing:
        raise TargetError(f"--layers: {module.__name__} has no {', '.join(missing)} (found: {', '.join(found)})")
    return targets_in(found, names)
