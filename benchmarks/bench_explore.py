"""Explorer responsiveness, measured in the browser: slider move -> redrawn chart.

Run ``python benchmarks/bench_explore.py``; it writes ``docs/bench/bench_explore.md``.

For 10, 100 and 200 units it times, inside the page (``performance.now()``):

* **slider -> chart**: the units slider moves (an ``input`` event), the page asks
  the server for the least-squares fit (a worker process fits and measures it on
  the 100,000-point verification grid), and the main chart is redrawn and painted
  (the next animation frame after the redraw);
* **hand edit -> chart**: in hand mode a unit's weight changes and the sum is
  re-evaluated and redrawn in the browser alone;

and, as the peer in the same run, the same fit called directly in Python
(``relusum.fit`` plus the verification, no HTTP, no browser).  Medians of
repeated moves between n and n - 1 units; the ratio is slider time / direct fit.
Target: under 100 ms at 200 units.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

import relusum
from _report import machine, write_report

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "bench" / "bench_explore.md"
UNITS = (10, 100, 200)
REPEATS = 15
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

SLIDER_JS = """async (n) => {
  const S = window.relusumState, el = document.getElementById('units-range');
  const t0 = performance.now();
  el.value = String(n);
  el.dispatchEvent(new Event('input', {bubbles: true}));
  while (!(S.lastDraw && S.lastDraw.units === n && S.lastDraw.t >= t0)) {
    await new Promise((r) => setTimeout(r, 0));
  }
  await new Promise((r) => requestAnimationFrame(() => r()));
  return performance.now() - t0;
}"""

HAND_JS = """async (w) => {
  const S = window.relusumState, el = document.getElementById('u-w');
  const before = S.draws, t0 = performance.now();
  el.value = String(w);
  el.dispatchEvent(new Event('input', {bubbles: true}));
  while (S.draws === before) await new Promise((r) => setTimeout(r, 0));
  await new Promise((r) => requestAnimationFrame(() => r()));
  return performance.now() - t0;
}"""


def direct_fit_ms(n: int) -> float:
    times = []
    for k in range(REPEATS):
        m = n if k % 2 == 0 else n - 1
        t = time.perf_counter()
        relusum.fit("sin(x)", domain=("-pi", "pi"), n_units=m)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main() -> int:
    from playwright.sync_api import sync_playwright

    from relusum.explore import make_server

    srv = make_server(port=0, workers=2).start()
    rows = []
    external: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768})

            def route(r):
                if r.request.url.startswith(srv.url):
                    r.continue_()
                else:
                    external.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(srv.url + "#f=sin(x)&a=-pi&b=pi&n=8&m=lstsq&t=1")
            end = time.monotonic() + 30
            while not page.evaluate("window.relusumReady === true"):
                if time.monotonic() > end:
                    raise RuntimeError("the page did not become ready")
                page.wait_for_timeout(50)
            page.wait_for_timeout(500)
            for n in UNITS:
                page.evaluate(SLIDER_JS, n - 1)  # warm up
                slider = [
                    page.evaluate(SLIDER_JS, n if k % 2 == 0 else n - 1) for k in range(REPEATS)
                ]
                page.evaluate(SLIDER_JS, n)
                page.check("#hand")
                page.wait_for_timeout(300)
                hand = [page.evaluate(HAND_JS, 0.1 * ((k % 5) - 2)) for k in range(REPEATS)]
                page.uncheck("#hand")
                page.wait_for_timeout(300)
                direct = direct_fit_ms(n)
                rows.append(
                    (
                        n,
                        statistics.median(slider),
                        float(np.percentile(slider, 90)),
                        statistics.median(hand),
                        direct,
                    )
                )
                print(
                    f"n={n}: slider {rows[-1][1]:.1f} ms (p90 {rows[-1][2]:.1f}), "
                    f"hand {rows[-1][3]:.1f} ms, direct fit {direct:.1f} ms",
                    file=sys.stderr,
                )
            browser.close()
    finally:
        srv.close()
    if external:
        raise RuntimeError(f"the page made requests outside the server: {external}")

    lines = [
        "# Explorer: slider move to redrawn chart (in the browser)",
        "",
        "Written by `python benchmarks/bench_explore.py` (do not edit by hand).",
        "",
        f"Headless Debian Chromium driven by Playwright, viewport 1366×768; {machine()}.",
        "Target sin(x) on [−π, π], least squares with uniform knots, 2,000 samples; errors "
        "measured on the 100,000-point verification grid in every request.",
        f"Median of {REPEATS} moves between n and n − 1 units (p90 beside it).",
        "",
        "| units | slider → chart (ms) | p90 (ms) | hand edit → chart (ms) | "
        "direct `relusum.fit` (ms) | slider / direct |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n, med, p90, hand, direct in rows:
        lines.append(
            f"| {n} | {med:.1f} | {p90:.1f} | {hand:.1f} | {direct:.1f} | {med / direct:.1f}× |"
        )
    worst = rows[-1][1]
    verdict = "meets" if worst < 100 else "misses"
    lines += [
        "",
        f"At 200 units a slider move is redrawn in {worst:.0f} ms: this {verdict} the "
        "100 ms target.",
        "*slider → chart* is the whole round trip: input event, HTTP request, fit and "
        "verification in a worker process, JSON back, uPlot redraw, next frame painted. "
        "*hand edit → chart* is the browser alone (the sum evaluated from bias, knots and "
        "weights). *direct* is the fit and its verification called in Python with no server "
        "and no browser, in the same run.",
        "",
    ]
    write_report(OUT, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
