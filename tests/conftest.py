"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``shared/`` folder beside the checkout (data we are given)."""
    return ROOT.parent / "shared"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the numba kernels once, before any test with a time limit runs.

    The first compile after an install takes seconds to tens of seconds; it
    writes numba's on-disk cache, from which every later process (CLI
    subprocesses, explorer workers) loads in about a second.
    """
    from relusum.fitting.warm import warm_kernels

    warm_kernels()
