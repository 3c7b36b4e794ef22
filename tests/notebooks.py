"""Notebooks for the tests, built from text: the seed notebook (a study notebook
for chapter 5 of the book, /work/shared/seed) rebuilt as an .ipynb, and small
ones written cell by cell. Not a test module."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import seed_notebook

SEED_TEXT = Path("/work/shared/seed/000_1496cd9a9534a4d4.txt")
# The model cell's first lines put the book on sys.path and star-import its layers over the
# notebook's own (tests/seed_notebook.py explains why it comments them out).
BOOK_IMPORT = ("import sys\n", "sys.path.append('..')\n", "from common.time_layers import *\n")


def seed_cells() -> list[tuple[str, str]]:
    """(cell_type, source) of the seed notebook, in order: a code cell starts after an
    `In [n]:` line and runs to the next markdown (`## ...`, `![...`) or `In [`."""
    cells: list[tuple[str, list[str]]] = []
    for line in SEED_TEXT.read_text(encoding="utf-8").splitlines(keepends=True):
        if re.match(r"In \[\d*\]:", line):
            cells.append(("code", []))
        elif line.startswith(("## ", "![")) or not cells:
            if not cells or cells[-1][0] != "markdown" or line.startswith("## "):
                cells.append(("markdown", []))
            cells[-1][1].append(line)
        else:
            cells[-1][1].append(line)
    return [(kind, "".join(lines).rstrip() + "\n") for kind, lines in cells]


def seed_as_run_by_the_tests() -> list[tuple[str, str]]:
    """The seed's cells with the edits tests/seed_notebook.py makes: the book import
    commented out, and a first cell with the `softmax` the notebook calls without
    defining and a stand-in `TimeEmbedding` (the same source as seed_notebook.py's)."""
    prelude = "import numpy as np\n\n" + inspect.getsource(seed_notebook.softmax) + "\n\n"
    prelude += inspect.getsource(seed_notebook.TimeEmbedding)
    out = [("code", prelude)]
    for kind, src in seed_cells():
        for line in BOOK_IMPORT:
            src = src.replace(line, "# " + line)
        out.append((kind, src))
    return out


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    """An nbformat-4 notebook of `cells` (sources stored as lists of lines, as Jupyter does)."""
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            {
                "cell_type": kind,
                "metadata": {},
                "source": src.splitlines(keepends=True),
                **({"outputs": [], "execution_count": None} if kind == "code" else {}),
            }
            for kind, src in cells
        ],
    }
    path.write_text(json.dumps(nb, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_script(path: Path, cells: list[tuple[str, str]]) -> Path:
    """The same code cells as one .py file, in order."""
    path.write_text("\n\n".join(src for kind, src in cells if kind == "code"), encoding="utf-8")
    return path
