"""Hypothesis profiles for the whole test suite: chosen by HYPOTHESIS_PROFILE
(quick | ci | thorough; default ci), registered in gradcheck/profiles.py.

Each pytest process (each xdist worker too: this file runs in every one) loads
the profile and points JAX's persistent compilation cache at a directory of its
own under ~/.cache/gradcheck/jax: JAX writes an entry without a lock, so workers
compiling the same program at once would read each other's half-written files
(JAX then warns and compiles again, and warnings are errors here). The `gradcheck`
subprocesses that tests start use their worker's directory too, through
JAX_COMPILATION_CACHE_DIR. GRADCHECK_NO_COMPILE_CACHE=1 turns the cache off."""

import os

from hypothesis import settings

from gradcheck import jaxcache, profiles

profiles.register()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", profiles.DEFAULT))

_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_cache = jaxcache.enable_compile_cache(jaxcache.default_directory() / f"pytest-{_worker}")
if _cache is not None:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(_cache)
