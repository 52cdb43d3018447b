"""Memory proportional to the problem (issue 16.4): refuse before allocating, bounded samples."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import relusum
from relusum.targets import MAX_SAMPLES

SRC = str(Path(__file__).resolve().parents[1] / "src")
LIMITED = textwrap.dedent(
    """
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # 1 GiB of address space
    import relusum
    try:
        relusum.fit("sin(x)", (0, 1), **json.loads(sys.argv[1]))
    except ValueError as exc:
        print(exc)
    """
)


@pytest.mark.parametrize(
    "kwargs",
    [
        '{"n_units": 100000000}',
        '{"n_units": 1000000000}',
        '{"n_units": 100000000, "knots": "optimal"}',
        '{"n_units": 100000000, "loss": "linf"}',
    ],
)
def test_unit_counts_are_refused_before_allocating(kwargs):
    r = subprocess.run(
        [sys.executable, "-c", LIMITED, kwargs],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert re.search(r"use at most 1,?999 units or more samples", r.stdout), r.stdout


def test_units_against_data_are_refused_in_one_line(tmp_path):
    from relusum.cli import main

    p = tmp_path / "d.csv"
    p.write_text("x,y\n0,1\n1,2\n2,5\n3,3\n")
    with pytest.raises(ValueError, match="data points have 4; use at most 3 units"):
        relusum.fit(relusum.read_csv(p), n_units=10**9)
    assert main(["fit", "--data", str(p), "--units", "1000000000"]) == 2


def test_samples_are_capped_at_what_fits_in_two_gigabytes():
    assert MAX_SAMPLES == 2_000_000
    with pytest.raises(ValueError, match="samples must be at most 2,000,000"):
        relusum.fit("sin(x)", (0, 1), samples=MAX_SAMPLES + 1)
    # Peak memory grows linearly with the samples (fit + 20x verification grid):
    # measure it at 1/10 of the cap and extrapolate.
    code = textwrap.dedent(
        """
        import resource, relusum

        def peak_kb():
            # This process's own peak (VmHWM): ru_maxrss also counts the parent's
            # pages at the fork before exec (a big pytest process hid the growth).
            try:
                with open("/proc/self/status") as f:
                    return [int(l.split()[1]) for l in f if l.startswith("VmHWM")][0]
            except (OSError, IndexError):
                return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        relusum.fit("sin(x)", (0, 1), n_units=16, samples=2000)
        base = peak_kb()
        relusum.fit("sin(x)", (0, 1), n_units=16, samples=200_000)
        print((peak_kb() - base) * 1024)
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        timeout=300,
    )
    per_sample = int(r.stdout) / 198_000
    assert per_sample * MAX_SAMPLES < 2 * 2**30, f"{per_sample:.0f} bytes per sample"


def test_long_grids_are_measured_block_by_block_with_the_same_numbers(monkeypatch):
    # A 2,000,000-sample fit is measured on 40,000,000 points; block by block there is
    # no residual array of that length.  The max error is the same to the bit and the
    # RMSE to rounding (its sum is grouped differently).
    import numpy as np

    import relusum.fitting.report as report
    from relusum.targets import make_target

    t = make_target("sin(x) + 0.1*sign(x - 0.3)", (-1.0, 1.0))
    m = relusum.fit("sin(x) + 0.1*sign(x - 0.3)", (-1.0, 1.0), n_units=7).model
    one = report._measure(m, t)
    monkeypatch.setattr(report, "_BLOCK", 4096)
    blocks = report._measure(m, t)
    assert blocks[1] == one[1] and blocks[2] == one[2]
    assert blocks[0] == pytest.approx(one[0], rel=1e-12)
    y = np.array([0.0, 1.0, np.nan])
    assert np.isnan(report._residual_stats(np.zeros(3), y)[1])  # nan is not hidden
