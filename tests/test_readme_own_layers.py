"""The README's "Check your own layers" snippets (issue 13) run as written: each
```sh tested``` command with the exit code its `# exit N` comment gives, each
```python tested``` block as a script, from a copy of examples/; the declaration
shown untagged is examples/layernorm.py's own code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_jobs import TIMEOUT

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Check your own layers"


def blocks() -> list[tuple[str, str]]:
    """(info string, body) of every fenced block in the README's section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end >= 0 else None]
    return [(m[1].strip(), m[2]) for m in re.finditer(r"```([^\n]*)\n(.*?)```", section, re.S)]


def snippets(lang: str) -> list[str]:
    return [body for info, body in blocks() if info == f"{lang} tested"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A copy of examples/ with bin/ holding `gradcheck` and `python` of this environment first on PATH."""
    d = tmp_path_factory.mktemp("readme") / "examples"
    shutil.copytree(ROOT / "examples", d, ignore=shutil.ignore_patterns("__pycache__"))
    return d


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def test_the_section_has_tested_snippets_of_each_kind():
    assert len(snippets("sh")) >= 3 and len(snippets("python")) >= 1


@pytest.mark.parametrize("index", range(len(snippets("sh"))))
def test_sh_snippet_runs_with_the_exit_codes_it_states(workdir, index):
    for line in snippets("sh")[index].splitlines():
        if not line.strip():
            continue
        command, _, comment = line.partition("  #")
        want = re.search(r"exit (\d+)", comment)
        r = subprocess.run(
            ["bash", "-c", command], cwd=workdir, env=_env(), capture_output=True, text=True, timeout=TIMEOUT
        )
        assert r.returncode == (int(want[1]) if want else 0), f"{command}\n{r.stdout}\n{r.stderr}"


@pytest.mark.parametrize("index", range(len(snippets("python"))))
def test_python_snippet_runs(workdir, index, tmp_path):
    script = tmp_path / "snippet.py"
    script.write_text(snippets("python")[index])
    r = subprocess.run([sys.executable, str(script)], cwd=workdir, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_declaration_shown_is_the_examples_code():
    (shown,) = [body for info, body in blocks() if info == "python" and "gradcheck.declare(" in body]
    example = (ROOT / "examples" / "layernorm.py").read_text()
    for part in shown.strip().split("\n\n"):
        assert textwrap.indent(part, "    ") in example, part
