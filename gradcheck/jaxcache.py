"""JAX's persistent compilation cache, so that a new `gradcheck` process loads the
oracle's compiled programs from disk instead of compiling them again (about 1.3 s
of a cold `gradcheck run`).

The cache lives in the user's cache directory, `$XDG_CACHE_HOME/gradcheck/jax`
(default `~/.cache/gradcheck/jax`). It holds only compiled programs, keyed by the
program, the JAX/XLA version and the flags: deleting it is always safe, JAX
compiles again what is missing. Off with `GRADCHECK_NO_COMPILE_CACHE=1` (or the
CLI's `--no-compile-cache`). JAX trusts what it loads from the cache, so the
directory must be writable by this user only, as a home cache directory is.
"""

from __future__ import annotations

import os
from pathlib import Path

OFF_ENV = "GRADCHECK_NO_COMPILE_CACHE"


def cache_home() -> Path:
    """gradcheck's cache directory (compiled programs, Hypothesis's files):
    `$XDG_CACHE_HOME/gradcheck`, or `~/.cache/gradcheck` when XDG_CACHE_HOME is unset
    or not absolute (as the XDG base directory spec says)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "gradcheck"


def default_directory() -> Path:
    """Where JAX's compiled programs are kept: `cache_home() / "jax"`."""
    return cache_home() / "jax"


def enable_compile_cache(directory: str | os.PathLike[str] | None = None) -> Path | None:
    """Point JAX's persistent compilation cache at `directory` and return it.

    Without `directory`, a cache directory already given to JAX (the user's
    JAX_COMPILATION_CACHE_DIR, or an earlier call, e.g. the test suite's) is kept,
    else `default_directory()` is used. Returns None, leaving JAX as it was, when
    GRADCHECK_NO_COMPILE_CACHE is set (to anything but "" or "0") or the directory
    cannot be created. Call it before the first compile: JAX decides once per
    process whether it uses a cache.
    """
    if os.environ.get(OFF_ENV, "") not in ("", "0"):
        return None
    import jax

    configured = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]
    if directory is not None:
        path = Path(directory)
    else:
        path = Path(configured) if configured else default_directory()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: run as before, compiling everything
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    # JAX's defaults keep only programs that took over 1 s to compile; ours take
    # 0.05-0.3 s each, and a run compiles a dozen of them, so keep every one.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return path
