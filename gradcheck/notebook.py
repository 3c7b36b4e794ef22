"""Run a Jupyter notebook (.ipynb) as a module: its code cells in order, in one
namespace, the way "Run All" would, so that the classes it defines can be checked.

The JSON is read with the standard library (no nbformat, no IPython). IPython's own
syntax cannot run as Python: a cell that starts with a cell magic (`%%timeit`,
`%%bash`, ...) is skipped whole, and line magics and shell lines (`%matplotlib
inline`, `!pip install ...`) are dropped (blank lines keep the line numbers).
The first cell that raises stops the run: a `TargetError` naming the cell's
number (as Jupyter counts them, markdown included, from 1) and the line.

Runs in the worker process only, like the rest of `targets.py`.
"""

from __future__ import annotations

import json
import linecache
import os
import sys
from pathlib import Path
from types import ModuleType

from .frames import user_frame_of


class NotebookError(Exception):
    """The notebook cannot be read or a cell failed: a user-facing message (exit 2)."""


def code_cells(path: Path) -> list[tuple[int, str]]:
    """(cell number from 1, source) of each code cell to run, magics removed."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise NotebookError(f"{path}: not a readable notebook (.ipynb JSON): {exc}") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise NotebookError(f'{path}: not a notebook: no list of "cells" (nbformat 4 is supported)')
    out = []
    for n, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        text = "".join(src) if isinstance(src, list) else str(src)
        if text.lstrip().startswith("%%"):  # a cell magic: the whole cell is not Python
            continue
        out.append((n, python_only(text)))
    return out


def python_only(text: str) -> str:
    """The cell's lines with IPython line magics and shell escapes blanked out."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines())


def run_notebook(path: Path, module: ModuleType, shown: str) -> None:
    """Execute the code cells of `path` in `module`'s namespace, in order, from the
    notebook's directory (Jupyter's working directory: `sys.path.append('..')`
    means the notebook's parent)."""
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        _run_cells(path, module, shown)
    finally:
        os.chdir(cwd)


def _run_cells(path: Path, module: ModuleType, shown: str) -> None:
    for n, source in code_cells(path):
        filename = f"{shown} cell {n}"  # how tracebacks and findings name a line of the cell
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            code = compile(source, filename, "exec")
        except SyntaxError as exc:
            line = (exc.text or "").strip()
            raise NotebookError(
                f"syntax error in cell {n} of {shown}, line {exc.lineno}: {exc.msg}" + (f"\n    {line}" if line else "")
            ) from None
        try:
            exec(code, module.__dict__)
        except (KeyboardInterrupt, SystemExit) as exc:
            what = f"sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else "KeyboardInterrupt"
            raise NotebookError(f"cell {n} of {shown} raised {what}" + _at(exc)) from None
        except BaseException as exc:  # the notebook's own code failed: stop here, like Jupyter
            raise NotebookError(f"cell {n} of {shown} failed: {type(exc).__name__}: {exc}" + _at(exc)) from None


def _at(exc: BaseException) -> str:
    where = user_frame_of(exc)
    return f" at {where}" if where else ""


def load_notebook(path: Path, shown: str) -> ModuleType:
    """A fresh module holding what the notebook's cells defined."""
    name = f"gradcheck_notebook_{path.stem.replace('-', '_').replace(' ', '_')}"
    module = ModuleType(name)
    module.__file__ = str(path)
    module.__gradcheck_display__ = shown  # type: ignore[attr-defined]  # how messages name it
    sys.modules[name] = module  # classes defined in it report __module__ == name: "defined here"
    run_notebook(path, module, shown)
    return module
