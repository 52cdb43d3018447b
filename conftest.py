"""Root pytest configuration: doctests of the package run with the tests.

Modules that need an optional extra are skipped from doctest collection when
the extra is not installed (the test command installs every extra).
"""

from __future__ import annotations

import importlib.util

collect_ignore_glob: list[str] = []
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob += [
        "src/relusum/torch_bridge/*",
        "src/relusum/depth.py",
        "src/relusum/cli/net.py",
        "src/relusum/nn/*",
    ]
