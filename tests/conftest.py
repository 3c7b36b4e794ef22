"""Fixtures shared by the test modules of tests/ (profiles and the JAX cache: ../conftest.py)."""

import pytest


@pytest.fixture
def clean_user_specs():
    """Declarations a test makes (gradcheck.declare) are gone after it."""
    from gradcheck.userspecs import USER_SPECS

    before = dict(USER_SPECS)
    yield
    USER_SPECS.clear()
    USER_SPECS.update(before)
