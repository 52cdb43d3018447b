"""End-to-end tests of the explorer page in Debian's Chromium, driven by Playwright.

Every request that does not go to the local server is blocked and counted (there
must be none), and the page must log no console errors.  Without Chromium or
Playwright these tests skip -- except under CI (``CI`` set), where they fail, so a
green CI run means the page was really tested.
"""

from __future__ import annotations

import os
import shutil
import time
from urllib.parse import urlsplit

import numpy as np
import pytest

import relusum
from relusum.fitting.api import measure
from relusum.model import ReluSum

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed"
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


def test_a_missing_browser_fails_under_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run under CI"):
        _skip_or_fail("no chromium")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _skip_or_fail("no chromium")


@pytest.fixture(scope="module")
def server():
    from relusum.explore import make_server

    srv = make_server(port=0, workers=2).start()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason:
        _skip_or_fail(reason)
    from playwright.sync_api import sync_playwright

    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=path, args=ARGS)
        except Exception as exc:  # noqa: BLE001 - any launch failure means "no browser"
            _skip_or_fail(f"Chromium did not start: {exc}")
        yield b
        b.close()


class Page:
    """A page on the explorer with outside requests blocked and console errors collected."""

    def __init__(self, browser, server, width=1366, height=768):
        self.server = server
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.external: list[str] = []
        self.errors: list[str] = []
        self.expected_errors: list[str] = []
        own = urlsplit(server.url).netloc

        def route(r):
            u = urlsplit(r.request.url)
            if u.scheme in ("http", "https") and u.netloc != own:
                self.external.append(r.request.url)
                r.abort()
            elif u.scheme not in ("http", "https", "data", "blob"):
                self.external.append(r.request.url)
                r.abort()
            else:
                r.continue_()

        self.context.route("**/*", route)

        def console(msg):
            if msg.type == "error" and not any(e in msg.text for e in self.expected_errors):
                self.errors.append(msg.text)

        self.page.on("console", console)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def open(self, fragment=""):
        self.page.goto(self.server.url + fragment)
        self.wait("window.relusumReady === true")
        return self

    def js(self, expr):
        return self.page.evaluate(expr)

    def wait(self, expr, timeout=20.0):
        # Poll with page.evaluate: the page's CSP forbids the eval behind wait_for_function,
        # and page.wait_for_timeout keeps Playwright's routing running meanwhile.
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.js(expr):
                return
            self.page.wait_for_timeout(30)
        raise AssertionError(f"timed out waiting for {expr}")

    def chart(self):
        """x and the drawn sum of the main chart (uPlot's data)."""
        xs, _, sums, *_ = self.js("relusumChart.data")
        return np.array(xs, dtype=float), np.array(sums, dtype=float)

    def close(self):
        self.context.close()


@pytest.fixture
def page(browser, server):
    p = Page(browser, server)
    yield p
    try:
        assert p.external == [], f"requests outside the local server: {p.external}"
        assert p.errors == [], f"console errors: {p.errors}"
    finally:
        p.close()


def _server_fit(formula, a, b, units):
    return relusum.fit(formula, domain=(a, b), n_units=units).model


def _check_drawn_sum(p: Page, model: ReluSum):
    x, y = p.chart()
    assert x.size > 500
    # The drawn curve: at every chart x (knots included) it is the server's ReluSum.
    np.testing.assert_allclose(y, model(x), rtol=1e-9, atol=1e-9)
    # And at a few points in between, interpolating the drawn polyline.
    rng = np.random.default_rng(0)
    xq = rng.uniform(x[0], x[-1], 7)
    np.testing.assert_allclose(np.interp(xq, x, y), model(xq), rtol=1e-9, atol=1e-9)


def test_page_loads_offline_without_errors(page):
    page.open()
    assert page.js("document.title").startswith("relusum explorer")
    assert page.js("relusumState.model.knots.length") == 8
    # The chart library is the vendored uPlot and the charts are drawn in canvases.
    assert page.js("typeof uPlot") == "function"
    assert page.js("document.querySelectorAll('#chart canvas').length") == 1
    assert page.js("document.querySelectorAll('#errchart canvas').length") == 1
    # Every method is listed; the unavailable ones are disabled with a reason.
    opts = page.js(
        "[...document.querySelectorAll('#method option')].map(o => [o.value, o.disabled])"
    )
    assert [o[0] for o in opts] == ["interp", "lstsq", "opt-l2", "opt-linf", "train"]
    info = page.server.api.methods()
    assert all(disabled == (not info[key]["available"]) for key, disabled in opts)


def test_formula_and_units_slider_match_the_server(page):
    p = page.open()
    p.page.fill("#formula", "tanh(2*x) + 0.1*x")
    p.page.fill("#dom-a", "-2")
    p.page.fill("#dom-b", "3")
    p.page.press("#dom-b", "Enter")
    p.wait("relusumState.target && relusumState.target.label === 'tanh(2*x) + 0.1*x'")
    errors = []
    for n in (2, 5, 17, 60, 200):
        p.page.fill("#units-range", str(n))  # moves the slider (an input event)
        p.wait(
            f"relusumState.lastDraw && relusumState.lastDraw.units === {n} && "
            f"relusumState.model.knots.length === {n}"
        )
        assert p.js("document.getElementById('units').value") == str(n)
        model = _server_fit("tanh(2*x) + 0.1*x", -2.0, 3.0, n)
        _check_drawn_sum(p, model)
        shown = float(p.js("document.getElementById('r-max').textContent"))
        assert shown == pytest.approx(
            relusum.fit("tanh(2*x) + 0.1*x", (-2, 3), n).report.max_abs_error, rel=1e-3
        )
        assert int(p.js("document.getElementById('r-units').textContent")) == n
        errors.append(shown)
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    # The URL holds the view.
    p.wait("location.hash.includes('n=200') && location.hash.includes('f=tanh')")


def test_bad_formula_shows_an_inline_error(page):
    p = page.open()
    p.expected_errors.append("422")  # the browser logs the server's 422 answer
    p.page.fill("#formula", "sin(x) + y")
    p.page.press("#formula", "Enter")
    p.wait("!document.getElementById('formula-error').hidden")
    text = p.js("document.getElementById('formula-error').textContent")
    assert "unknown name 'y' at column 10" in text
    assert p.js("document.querySelector('#formula-error mark').textContent") == "y"
    assert p.js("document.getElementById('formula').getAttribute('aria-invalid')") == "true"
    # Fixing it clears the error and draws the new target.
    p.page.fill("#formula", "sin(x) + x")
    p.page.press("#formula", "Enter")
    p.wait("document.getElementById('formula-error').hidden")
    p.wait("relusumState.target.label === 'sin(x) + x'")


def test_over_limit_units_are_refused_on_the_page(page):
    p = page.open()
    p.page.fill("#units", "500")
    p.page.press("#units", "Enter")
    p.wait("relusumState.lastDraw && relusumState.lastDraw.units === 200")
    assert p.js("document.getElementById('units-range').value") == "200"


def test_hand_mode_changes_the_curve(page):
    p = page.open()
    p.page.check("#hand")
    p.wait("relusumState.hand === true && relusumState.selected === 0")
    x0, y0 = p.chart()
    # Drag the third knot to the right with the mouse.
    pos = p.js("""(() => { const u = relusumChart, S = relusumState;
        const r = u.over.getBoundingClientRect(), h = S.model.knots[2];
        return [r.left + u.valToPos(h, 'x'), r.top + u.valToPos(relusumEval(h), 'y'), h]; })()""")
    p.page.mouse.move(pos[0], pos[1])
    p.page.mouse.down()
    p.page.mouse.move(pos[0] + 60, pos[1] + 5, steps=4)
    p.page.mouse.up()
    assert p.js("relusumState.selected") == 2
    h_new = p.js("relusumState.model.knots[2]")
    assert h_new > pos[2] + 0.1
    x1, y1 = p.chart()
    m = p.js("relusumState.model")
    hand = ReluSum(m["bias"], m["knots"], m["weights"])
    np.testing.assert_allclose(y1, hand(x1), rtol=1e-12, atol=1e-12)  # drawn = the hand model
    assert not np.allclose(np.interp(x0, x1, y1), y0)  # and it moved
    # Change the unit's weight in its box: the sum follows at once.
    p.page.fill("#u-w", "2.5")
    p.wait("relusumState.model.weights[2] === 2.5")
    x2, y2 = p.chart()
    m = p.js("relusumState.model")
    np.testing.assert_allclose(
        y2, ReluSum(m["bias"], m["knots"], m["weights"])(x2), rtol=1e-12, atol=1e-12
    )
    assert not np.allclose(y2, np.interp(x2, x1, y1))
    # The neuron panel: a = 1, b = -h, h = -b/a, the output weight.
    text = p.js("document.getElementById('neuron-body').textContent")
    assert "a = 1" in text and "b = −h" in text and "h = −b/a" in text and "w = 2.5" in text
    # The readouts are then measured by the server on the verification grid.
    p.wait("relusumState.report && !relusumState.report.approx")
    ref = measure(
        ReluSum(m["bias"], m["knots"], m["weights"], (-np.pi, np.pi)),
        relusum.make_target("sin(x)", ("-pi", "pi")),
    )
    assert p.js("relusumState.report.max_abs_error") == pytest.approx(ref[1], rel=1e-9)


def test_keyboard_selects_and_moves_units(page):
    p = page.open()
    p.page.focus("#chart")
    p.page.keyboard.press("h")
    p.wait("relusumState.hand === true")
    p.page.keyboard.press("]")
    sel = p.js("relusumState.selected")
    before = p.js(f"relusumState.model.knots[{sel}]")
    w_before = p.js(f"relusumState.model.weights[{sel}]")
    p.page.keyboard.press("ArrowRight")
    p.page.keyboard.press("ArrowUp")
    assert p.js(f"relusumState.model.knots[{sel}]") > before
    assert p.js(f"relusumState.model.weights[{sel}]") > w_before
    p.page.keyboard.press("t")
    assert p.js("relusumState.showTerms") is False


def test_shared_url_restores_the_view(page, browser, server):
    p = page.open()
    p.page.select_option("#preset", "runge")
    p.wait("relusumState.target && relusumState.target.label === '1/(1 + 25*x**2)'")
    p.page.fill("#units", "11")
    p.page.press("#units", "Enter")
    p.wait("relusumState.lastDraw && relusumState.lastDraw.units === 11")
    p.page.check("#hand")
    p.wait("relusumState.hand === true")
    p.page.fill("#u-w", "-0.75")
    p.wait("relusumState.model.weights[0] === -0.75")
    p.page.uncheck("#show-terms")
    p.wait("location.hash.includes('t=0') && location.hash.includes('hw=-0.75')")
    url = p.page.url
    state = p.js(
        "({m: relusumState.model, f: relusumState.formula, n: relusumState.units, "
        "t: relusumState.showTerms})"
    )
    x, y = p.chart()

    q = Page(browser, server)
    try:
        q.page.goto(url)
        q.wait("window.relusumReady === true")
        got = q.js(
            "({m: relusumState.model, f: relusumState.formula, n: relusumState.units, "
            "t: relusumState.showTerms, hand: relusumState.hand})"
        )
        assert got["f"] == state["f"] and got["n"] == 11 and got["hand"] is True
        assert got["t"] is False
        np.testing.assert_allclose(got["m"]["knots"], state["m"]["knots"], rtol=1e-11)
        np.testing.assert_allclose(got["m"]["weights"], state["m"]["weights"], rtol=1e-11)
        assert q.js("document.getElementById('formula').value") == "1/(1 + 25*x**2)"
        assert q.js("document.getElementById('hand').checked") is True
        x2, y2 = q.chart()
        np.testing.assert_allclose(x2, x)
        np.testing.assert_allclose(y2, y, rtol=1e-10, atol=1e-12)
        assert q.external == [] and q.errors == []
    finally:
        q.close()


def test_challenge_and_exports(page):
    p = page.open()
    p.page.click("#challenge")
    p.wait("relusumState.challenge && relusumState.hand && relusumState.model.knots.length === 6")
    p.wait("relusumState.report && !relusumState.report.approx")
    assert p.js("relusumState.target.label") == "tanh(x)"
    assert "Goal: max error below 0.05" in p.js(
        "document.getElementById('challenge-info').textContent"
    )
    # Better knots (where tanh bends) and their best weights meet the goal.
    p.js("relusumState.model.knots = [-1.97, -1.06, -0.34, 0.14, 0.89, 1.6]")
    p.page.click("#refit-weights")
    p.wait(
        "relusumState.report && !relusumState.report.approx && "
        "relusumState.report.max_abs_error < 0.05"
    )
    p.wait("document.querySelector('#challenge-info .ok') !== null")
    # PyTorch snippet in a dialog.
    p.page.click("#exp-torch")
    p.wait("document.getElementById('torch-dialog').open")
    code = p.js("document.getElementById('torch-code').textContent")
    assert "nn.Sequential(nn.Linear(1, 6), nn.ReLU(), nn.Linear(6, 1))" in code
    p.page.click("#torch-close")
    # JSON download.
    with p.page.expect_download() as dl:
        p.page.click("#exp-json")
    path = dl.value.path()
    s = ReluSum.load(path)
    assert s.n_units == 6 and s.domain == (-4.0, 4.0)


def test_csv_dropped_on_the_page_is_fitted(page, tmp_path):
    p = page.open()
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(0, 2, 120))
    y = np.sqrt(x) + 0.01 * rng.standard_normal(120)
    text = "t,v\n" + "\n".join(f"{float(a)!r},{float(b)!r}" for a, b in zip(x, y))
    f = tmp_path / "points.csv"
    f.write_text(text)
    p.page.set_input_files("#csv-file", str(f))
    p.wait(
        "relusumState.data && relusumState.target.kind === 'data' && "
        "relusumState.report && relusumState.report.error_on === 'data'"
    )
    p.wait(f"relusumState.model.knots.length === {p.js('relusumState.units')}")
    m = p.js("relusumState.model")
    ref = relusum.fit((x, y), n_units=len(m["knots"])).model
    assert ReluSum(m["bias"], m["knots"], m["weights"]).allclose(ref, rtol=1e-9, atol=1e-12)
    # Dropping works the same way (a DataTransfer with the file).
    dropped = text.replace(",v", ",w")
    p.js(f"""(() => {{ const dt = new DataTransfer();
        dt.items.add(new File([{dropped!r}], 'dropped.csv', {{type: 'text/csv'}}));
        document.dispatchEvent(new DragEvent('drop', {{dataTransfer: dt, bubbles: true}}));
        }})()""")
    p.wait("relusumState.data.name === 'dropped.csv'")


@pytest.mark.torch
def test_trained_network_with_progress(page, server):
    p = page.open()
    if not server.api.methods()["train"]["available"]:
        assert p.js("document.querySelector('#method option[value=train]').disabled") is True
        return
    p.page.select_option("#method", "train")
    p.page.fill("#units", "6")
    p.page.press("#units", "Enter")
    p.page.fill("#steps", "200")
    p.page.click("#train-go")
    p.wait("!document.getElementById('train-progress').hidden")
    p.wait("relusumState.report && relusumState.report.knots_method === 'trained'", timeout=120)
    assert p.js("document.getElementById('train-progress').hidden") is True
    assert "trained network with 6 hidden units" in p.js(
        "document.getElementById('r-where').textContent"
    )
    m = p.js("relusumState.model")
    x, y = p.chart()
    np.testing.assert_allclose(
        y, ReluSum(m["bias"], m["knots"], m["weights"])(x), rtol=1e-9, atol=1e-9
    )


def test_the_page_fills_a_1366x768_viewport(page):
    """The main chart takes the room; under it only the error chart, reaching the bottom."""
    import io

    from PIL import Image

    p = page.open()
    p.wait("relusumState.sweep !== null")
    vw, vh = p.js("[innerWidth, innerHeight]")
    assert (vw, vh) == (1366, 768)
    assert p.js("document.documentElement.scrollHeight") <= vh  # nothing below the fold
    # The main chart's box, from a screenshot of it.
    shot = Image.open(io.BytesIO(p.page.locator("#chart").screenshot())).convert("RGB")
    width, height = shot.size
    assert width >= 1000 and height >= 0.64 * vh, shot.size
    # The chart is drawn down to the bottom of its box (axis labels and legend there).
    px = np.asarray(shot, dtype=int)
    bottom = px[int(0.88 * height) : height - 2, 2:-2]
    assert (np.abs(bottom - 255).sum(axis=2) > 60).any(axis=1).sum() >= 4
    canvas = p.js("document.querySelector('#chart canvas').getBoundingClientRect().height")
    assert canvas >= height - 50
    # Below it: the error chart across the whole width, ending at the viewport's bottom.
    box = p.js("""(() => { const b = e => document.querySelector(e).getBoundingClientRect();
        return {chart: b('#chart'), lower: b('#lower'), err: b('#errchart canvas')}; })()""")
    assert box["lower"]["top"] - box["chart"]["bottom"] < 16
    assert vh - box["lower"]["bottom"] < 16
    assert box["err"]["width"] >= 0.95 * box["lower"]["width"]
    assert box["lower"]["height"] <= 0.25 * vh
    # No empty panel under the plot: the lower row holds the error chart only.
    assert p.js("[...document.querySelectorAll('#lower > *')].map(e => e.id)") == ["err-wrap"]


def test_without_torch_the_page_says_what_to_install_in_one_line(browser, server, monkeypatch):
    import relusum.explore.api as api_module

    monkeypatch.setattr(api_module, "torch_available", lambda: False)
    p = Page(browser, server)
    try:
        p.open()
        assert p.js("document.querySelector('#method option[value=train]').disabled") is True
        p.wait("!document.getElementById('method-note').hidden")
        note = p.js("document.getElementById('method-note').textContent")
        assert note == "The trained-network curve needs PyTorch: pip install 'relusum[torch]'"
        assert p.js("document.querySelector('#method-note code').textContent") == (
            "pip install 'relusum[torch]'"
        )
        text = p.js("document.body.innerText")
        assert "No module named" not in text and "ModuleNotFoundError" not in text
        assert p.external == [] and p.errors == []
    finally:
        p.close()
    monkeypatch.undo()
    q = Page(browser, server)  # with torch (or without it for real), the note matches the truth
    try:
        q.open()
        available = server.api.methods()["train"]["available"]
        assert q.js("document.getElementById('method-note').hidden") is available
    finally:
        q.close()
