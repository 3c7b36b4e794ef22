"""JAX's persistent compilation cache: where it lives, that the oracle's small
programs are really kept and loaded by the next process, and how to turn it off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from gradcheck import jaxcache

# What a gradcheck worker does with JAX (enable the cache, then check one layer),
# in a fresh process, reporting JAX's cache events.
RUN = """
import json, jax.monitoring
events = {}
jax.monitoring.register_event_listener(lambda e, **kw: events.__setitem__(e, events.get(e, 0) + 1))
from gradcheck.jaxcache import enable_compile_cache
from gradcheck.runner import RunOptions, reference_targets, run
enable_compile_cache()
report = run(reference_targets(["Affine"]), RunOptions(max_examples=2))
print(json.dumps({"exit": 0 if report.passed else 1, "hits": events.get("/jax/compilation_cache/cache_hits", 0),
                  "misses": events.get("/jax/compilation_cache/cache_misses", 0)}))
"""


def clean_env(cache_home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR", jaxcache.OFF_ENV)}
    env["XDG_CACHE_HOME"] = str(cache_home)
    return env


def run_in(cache_home: Path, *, off: bool = False) -> dict:
    env = clean_env(cache_home) | ({jaxcache.OFF_ENV: "1"} if off else {})
    r = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_default_directory_is_under_the_users_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert jaxcache.default_directory() == tmp_path / "xdg" / "gradcheck" / "jax"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for unset in ("", "relative/path"):  # the XDG spec ignores a relative XDG_CACHE_HOME
        monkeypatch.setenv("XDG_CACHE_HOME", unset)
        assert jaxcache.default_directory() == tmp_path / "home" / ".cache" / "gradcheck" / "jax"


@pytest.mark.parametrize("value", ["1", "yes"])
def test_env_var_leaves_jax_without_our_cache(monkeypatch, tmp_path, value):
    monkeypatch.setenv(jaxcache.OFF_ENV, value)
    before = jax.config.jax_compilation_cache_dir
    assert jaxcache.enable_compile_cache(tmp_path / "c") is None
    assert jax.config.jax_compilation_cache_dir == before
    assert not (tmp_path / "c").exists()


def test_cli_option_reaches_the_worker_and_skips_the_cache(tmp_path):
    """The supervisor never imports JAX: --no-compile-cache must reach the worker."""
    gradcheck = [sys.executable, "-m", "gradcheck", "run", "--layers", "Affine", "--max-examples", "1"]
    on = subprocess.run(gradcheck, env=clean_env(tmp_path / "on"), capture_output=True, text=True, timeout=120)
    assert on.returncode == 0, on.stderr
    assert any((tmp_path / "on" / "gradcheck" / "jax").iterdir())
    off = subprocess.run(
        [*gradcheck, "--no-compile-cache"], env=clean_env(tmp_path / "off"), capture_output=True, text=True, timeout=120
    )
    assert off.returncode == 0, off.stderr
    assert not (tmp_path / "off" / "gradcheck" / "jax").exists()


def test_a_second_process_loads_every_program_from_the_cache(tmp_path):
    cold = run_in(tmp_path)
    entries = sorted(p.name for p in (tmp_path / "gradcheck" / "jax").iterdir())
    assert cold["exit"] == 0 and cold["misses"] >= 1 and cold["hits"] == 0, cold
    assert len(entries) == cold["misses"], entries  # every compiled program was kept, small as it is
    warm = run_in(tmp_path)
    assert warm == {"exit": 0, "hits": cold["misses"], "misses": 0}, warm
    assert sorted(p.name for p in (tmp_path / "gradcheck" / "jax").iterdir()) == entries
    off = run_in(tmp_path / "off", off=True)
    assert off["exit"] == 0 and off["hits"] == 0 and not (tmp_path / "off").exists(), off
