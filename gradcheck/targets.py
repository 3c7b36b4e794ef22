"""Load a user's module (a .py path or an importable name) and find the classes
that carry the book's layer names. Every failure is a `TargetError` with a
one-line message (exit code 2) naming the user's file and line and the one fix
that applies, never a traceback from gradcheck.

Runs in the worker process only (gradcheck/worker.py): the process the user
started never imports the user's module.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from .frames import user_frame_of

if TYPE_CHECKING:
    from .runner import Target

# runner and specs (and with them JAX) are imported where needed, not here: the
# supervisor uses TargetError and parse_layers and must stay light.


class TargetError(Exception):
    """Usage or input error: the message is for the user, exit code 2."""


def load_module(target: str, paths: list[str] | None = None) -> ModuleType:
    """Import `target` as `python -m` or `python FILE` would: a module name resolves
    from the current directory (after --path dirs); a file inside a package (a
    directory with __init__.py) is imported as part of its package."""
    for p in reversed(paths or []):
        if not Path(p).is_dir():
            raise TargetError(f"--path {p}: no such directory")
        sys.path.insert(0, str(Path(p).resolve()))
    if looks_like_file(target):
        return _load_file(target, paths or [])
    sys.path.insert(len(paths or []), os.getcwd())  # `python -m` puts the current directory first
    err: Exception | None = None
    try:
        found = importlib.util.find_spec(target)
    except (ImportError, ValueError) as exc:
        found, err = None, exc
    if found is None:
        hint = f" ({err})" if err else ""
        raise TargetError(
            f"no such file or module: {target}{hint}; give a path to a .py file or an importable module name"
        )
    origin = Path(found.origin) if found.origin and found.origin != "built-in" else None
    return _execute(target, origin, paths or [], lambda: importlib.import_module(target))


def load_declarations(path: str, paths: list[str]) -> None:
    """`--spec FILE`: run the file, whose `gradcheck.declare(...)` calls add specs."""
    from .userspecs import load_spec_file

    if not Path(path).is_file():
        raise TargetError(f"--spec {path}: no such file")
    _execute(path, Path(path).resolve(), paths, lambda: load_spec_file(path))


def looks_like_file(target: str) -> bool:
    return target.endswith((".py", ".ipynb")) or "/" in target or "\\" in target


def _load_file(target: str, paths: list[str]) -> ModuleType:
    path = Path(target)
    if not path.is_file():
        raise TargetError(f"no such file: {target}")
    path = path.resolve()
    if path.suffix == ".ipynb":
        from .notebook import NotebookError, load_notebook

        sys.path.insert(0, str(path.parent))  # Jupyter runs a notebook from its own directory
        try:
            return load_notebook(path, target)
        except NotebookError as exc:
            raise TargetError(str(exc)) from None
    package = _package_of(path)
    if package:
        root, name = package
        sys.path.insert(0, str(root))
        return _execute(target, path, paths, lambda: importlib.import_module(name))
    # The book's scripts import siblings (and `common` from the parent), so the
    # file's own directory goes on the path like `python file.py` would put it.
    sys.path.insert(0, str(path.parent))
    name = f"gradcheck_target_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"cannot load {target} as a Python module")
    module = importlib.util.module_from_spec(spec)
    module.__gradcheck_display__ = target  # type: ignore[attr-defined]  # how messages name it
    sys.modules[name] = module
    loader = spec.loader
    _execute(target, path, paths, lambda: loader.exec_module(module))
    return module


def _package_of(path: Path) -> tuple[Path, str] | None:
    """(root dir, dotted name) when `path` lies in a regular package, else None."""
    if not (path.parent / "__init__.py").is_file():
        return None
    parts = [] if path.name == "__init__.py" else [path.stem]
    d = path.parent
    while (d / "__init__.py").is_file():
        parts.insert(0, d.name)
        d = d.parent
    return d, ".".join(parts)


def _execute(target: str, origin: Path | None, paths: list[str], load):
    try:
        return load()
    except SyntaxError as exc:
        line = (exc.text or "").rstrip("\n")
        where = f"{exc.filename}:{exc.lineno}"
        raise TargetError(f"syntax error in {where}: {exc.msg}" + (f"\n    {line.strip()}" if line else "")) from None
    except (KeyboardInterrupt, SystemExit) as exc:
        what = f"sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else "KeyboardInterrupt"
        where = user_frame_of(exc)
        raise TargetError(f"importing {target} raised {what}" + (f" at {where}" if where else "")) from None
    except BaseException as exc:  # the target's own code failed while importing
        where = user_frame_of(exc)
        message = f"importing {target} failed: {type(exc).__name__}: {exc}" + (f" at {where}" if where else "")
        raise TargetError(message + _hint(exc, target, origin, paths)) from None


def _hint(exc: BaseException, target: str, origin: Path | None, paths: list[str]) -> str:
    """The one fix that applies, or ''."""
    if isinstance(exc, ImportError) and "no known parent package" in str(exc) and origin is not None:
        module = f"{origin.parent.name}.{origin.stem}"
        return (
            f" ({target} uses relative imports, so it is part of a package: check it by module name, "
            f"`gradcheck check {module} --path {shlex.quote(str(origin.parent.parent))}`)"
        )
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return ""
    missing = exc.name.split(".")[0]
    start = origin.parent if origin is not None else Path.cwd()
    for d in [start, *start.parents, Path.cwd()]:
        if (d / missing).is_dir() or (d / f"{missing}.py").is_file():
            if str(d) in sys.path:
                break
            return f" (`{missing}` is in {d}: add --path {shlex.quote(str(d))})"
    if missing == "common" and not paths:
        return " (the book's scripts import `common` from the repository root: add --path BOOK_ROOT)"
    given = f" (searched --path {', '.join(paths)})" if paths else ""
    return (
        f" (`{missing}` is not installed for {sys.executable} and is not next to {target}{given}: "
        f"install it, or import it only where it is used)"
    )


# --- which classes to check ---------------------------------------------------


@dataclass
class Discovery:
    targets: list[Target]
    not_checked: list[dict[str, str]] = field(default_factory=list)  # {"class": ..., "reason": ...}


def _norm(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def _lookalike(name: str) -> str | None:
    """The known layer `name` matches once lowercased and stripped of `_` and `-`."""
    from .userspecs import known_specs

    return next((n for n in known_specs() if _norm(n) == _norm(name)), None)


def parse_layers(text: str | None) -> list[str] | None:
    """`A,B,MINE=KNOWN` as a list of items (None when not given)."""
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def split_item(item: str) -> tuple[str, str]:
    """`MINE=KNOWN` -> (MINE, KNOWN); `KNOWN` -> (KNOWN, KNOWN)."""
    cls, eq, spec = item.partition("=")
    return cls.strip(), (spec if eq else cls).strip()


def check_layer_names(layers: list[str] | None) -> None:
    """Reject spec names no spec has (what can be checked without the module)."""
    from .userspecs import known_specs

    SPECS = known_specs()

    unknown = [spec for _, spec in map(split_item, layers or []) if spec not in SPECS]
    if unknown:
        looks = [f"{u}={_lookalike(u)}" for u in unknown if _lookalike(u)]
        hint = f"; to check a class under a known layer's spec: --layers {','.join(looks)}" if looks else ""
        raise TargetError(f"--layers: unknown layer {', '.join(unknown)}; known: {', '.join(SPECS)}{hint}")


def discover(module: ModuleType, layers: list[str] | None = None) -> Discovery:
    """The classes to check in `module`, in the order of SPECS, and notes on those
    not checked. By default: the classes the module *defines* under the book's
    names; imported ones and look-alike names are listed, checked only when named
    in `layers` (`KNOWN` or `MINE=KNOWN`)."""
    from .runner import Target
    from .userspecs import known_specs

    SPECS = known_specs()  # the book's and the declared ones (`gradcheck.declare`)
    check_layer_names(layers)
    shown = getattr(module, "__gradcheck_display__", module.__name__)
    callables = {n: v for n, v in vars(module).items() if callable(v) and not n.startswith("_")}

    def defined(n: str) -> bool:
        return getattr(callables[n], "__module__", None) == module.__name__

    notes: list[dict[str, str]] = []
    for n in callables:
        if n in SPECS and not defined(n):
            origin = getattr(callables[n], "__module__", "elsewhere")
            notes.append(
                {
                    "class": n,
                    "reason": f"imported from {origin}: not checked; check that module, or name it with --layers",
                }
            )
        elif n not in SPECS and _lookalike(n) and defined(n) and isinstance(callables[n], type):
            known = _lookalike(n)
            notes.append({"class": n, "reason": f"not checked: looks like {known}, use --layers {n}={known}"})
    if layers:
        wanted = [split_item(i) for i in layers]
        missing = [cls for cls, _ in wanted if cls not in callables]
        if missing:
            found = ", ".join(n for n in callables if isinstance(callables[n], type)) or "no classes"
            raise TargetError(f"--layers: {shown} has no {', '.join(missing)} (found: {found})")
        chosen = sorted(wanted, key=lambda w: list(SPECS).index(w[1]))
        named = {cls for cls, _ in wanted}
        notes = [n for n in notes if n["class"] not in named]
    else:
        chosen = [(n, n) for n in SPECS if n in callables and defined(n)]
    if not chosen:
        classes = [n for n, v in callables.items() if isinstance(v, type) and defined(n)]
        found = f"; found classes {', '.join(classes)}" if classes else "; it defines no classes"
        extra = "".join(f"; {n['class']}: {n['reason']}" for n in notes)
        raise TargetError(
            f"no class with a known name defined in {shown}: expected one of {', '.join(SPECS)}{found}{extra}"
        )
    targets = []
    for cls, spec in chosen:
        cell_name = SPECS[spec].cell
        cell = getattr(module, cell_name, None) if cell_name else None
        targets.append(Target(spec, callables[cls], cell if callable(cell) else None, cls_name=cls))
    return Discovery(targets, notes)


def find_targets(module: ModuleType, layers: list[str] | None = None) -> list[Target]:
    """The classes of `module` to check (see `discover`)."""
    return discover(module, layers).targets
