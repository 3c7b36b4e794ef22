"""gradcheck: check hand-written layers' forward and backward against JAX specs
and finite differences.

`gradcheck.check(...)` (gradcheck/api.py) checks a class, a module or a file and
returns a report (text with print(), an HTML table in Jupyter); `gradcheck.declare(...)`
(gradcheck/userspecs.py) declares a layer of your own. Both are imported on first
use: `import gradcheck` stays light (no JAX), as the supervisor process needs.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["check", "declare", "LayerSpec", "load_ipython_extension"]

_LAZY = {"check": "api", "load_ipython_extension": "api", "declare": "userspecs", "LayerSpec": "userspecs"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")


def _register_magic() -> None:
    """Inside a running IPython, `%gradcheck` comes with `import gradcheck`; IPython
    is never imported here (it is not a dependency)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is not None and hasattr(shell, "register_magic_function"):
        from .api import load_ipython_extension

        load_ipython_extension(shell)


_register_magic()
