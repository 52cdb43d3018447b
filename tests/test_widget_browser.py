"""The notebook widget's front end in Debian's Chromium, against the widget's Python side.

The page is a bare harness (no Jupyter): it imports the widget's real bundle
(``ExplorerWidget._esm``, as anywidget would) and renders it with a small model
object that implements anywidget's ``get/set/on/off/save_changes/send`` over the
Jupyter widget protocol.  On the Python side the widget talks through a real comm
(``comm.create_comm`` returns :class:`BrowserComm`, as ipykernel makes it return its
own), so ipywidgets itself serialises the state, sends ``update`` messages for what
Python sets and dispatches the page's ``custom`` and ``update`` messages
(``Widget._handle_msg``).  The comm's messages reach the page by polling and the
page's reach Python through an exposed function.  So the slider, the methods, the
army toggle and hand mode are driven in the browser and checked in the kernel.

Every request off the harness's own origin is blocked and counted (there must be
none), and the page must log no console errors.
"""

from __future__ import annotations

import base64
import json
import queue
import time

import comm
import numpy as np
import pytest
from comm.base_comm import BaseComm

import relusum
import test_explore_browser
from relusum.notebook.explorer import ExplorerWidget

pytestmark = pytest.mark.browser

#: The same module-scoped headless Chromium the explorer page tests use.
browser = test_explore_browser.browser

ORIGIN = "http://widget.test"

# The front end's half of the Jupyter widget protocol (what @jupyter-widgets/base does),
# reduced to what anywidget's model offers a widget.
HARNESS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>relusum widget harness</title></head>
<body><p id="outside">a notebook cell</p><div id="cell" style="width: 1100px"></div>
<script type="module">
import widget from "/widget.mjs";
const state = %(state)s;
const listeners = new Map();
const fire = (ev, ...args) => (listeners.get(ev) || []).slice().forEach((f) => f(...args));
const sent = [], synced = [];
let dirty = {};
const toView = (b64) => {
  const s = atob(b64), a = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);
  return new DataView(a.buffer);
};
const model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; dirty[k] = v; fire(`change:${k}`); },
  save_changes: () => {
    const d = dirty; dirty = {}; synced.push(d);
    window.pyComm({ method: "update", state: d, buffer_paths: [] });
  },
  on: (ev, f) => { if (!listeners.has(ev)) listeners.set(ev, []); listeners.get(ev).push(f); },
  off: (ev, f) => {
    const l = listeners.get(ev) || [], i = l.indexOf(f);
    if (i >= 0) l.splice(i, 1);
  },
  send: (content) => {
    sent.push(JSON.parse(JSON.stringify(content)));
    window.pyComm({ method: "custom", content });
  },
};
// The kernel's comm messages: state updates (set in Python) and custom messages (replies).
async function poll() {
  for (const [type, data, buffers] of await window.pyPoll()) {
    if (type !== "comm_msg") continue;
    if (data.method === "update") {
      for (const [k, v] of Object.entries(data.state)) { state[k] = v; fire(`change:${k}`); }
    } else if (data.method === "custom") fire("msg:custom", data.content, buffers.map(toView));
    // "echo_update" confirms the view's own changes: nothing to do.
  }
  setTimeout(poll, 20);
}
window.harness = { model, state, sent, synced };
window.harness.cleanup = widget.render({ model, el: document.getElementById("cell") });
window.harness.ctl = document.querySelector(".relusum-widget").relusumExplorer;
poll();
</script></body></html>
"""


class BrowserComm(BaseComm):
    """A comm whose messages go to the harness page (ipykernel's go to the front end)."""

    outbox: queue.Queue = queue.Queue()

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        data = json.loads(json.dumps(data or {}))
        self.outbox.put((self.comm_id, msg_type, data, list(buffers or [])))


class Harness:
    """A Chromium page with the widget's bundle, wired to an :class:`ExplorerWidget`'s comm."""

    def __init__(self, browser, w: ExplorerWidget, outbox: queue.Queue):
        self.w = w
        self.outbox = outbox
        self.external: list[str] = []
        self.errors: list[str] = []
        assert isinstance(w.comm, BrowserComm)
        self.comm_id = w.comm.comm_id
        opened = [d for c, t, d, _ in list(outbox.queue) if t == "comm_open" and c == self.comm_id]
        assert len(opened) == 1
        html = HARNESS % {"state": json.dumps(opened[0]["state"])}
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()

        def route(r):
            url = r.request.url
            if url in (ORIGIN + "/", ORIGIN + "/index.html"):
                r.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
            elif url == ORIGIN + "/widget.mjs":
                esm = opened[0]["state"]["_esm"]  # the bundle as the comm opened it
                r.fulfill(status=200, content_type="text/javascript; charset=utf-8", body=esm)
            elif url.startswith(("data:", "blob:")):
                r.continue_()
            else:
                self.external.append(url)
                r.abort()

        self.context.route("**/*", route)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

        def from_page(data):
            msg = {"content": {"comm_id": w.comm.comm_id, "data": data}, "buffers": []}
            w.comm.handle_msg(msg)

        self.page.expose_function("pyComm", from_page)
        self.page.expose_function("pyPoll", self._poll)
        self.page.goto(ORIGIN + "/")
        self.wait("window.harness && harness.ctl && harness.ctl.ready")

    def _poll(self):
        out = []
        while True:
            try:
                comm_id, msg_type, data, buffers = self.outbox.get_nowait()
            except queue.Empty:
                return out
            if comm_id != self.comm_id:  # the widget's Layout has a comm of its own
                continue
            out.append([msg_type, data, [base64.b64encode(bytes(b)).decode() for b in buffers]])

    def js(self, expr):
        return self.page.evaluate(expr)

    def wait(self, expr, timeout=30.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.js(expr):
                return
            self.page.wait_for_timeout(30)
        raise AssertionError(f"timed out waiting for {expr}")

    def wait_py(self, check, timeout=30.0):
        """Wait (keeping the page's exposed functions served) until ``check()`` holds."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if check():
                return
            self.page.wait_for_timeout(30)
        raise AssertionError("timed out waiting in Python")

    def shadow(self, expr):
        return self.js(
            f"(() => {{ const $ = (id) => document.querySelector('.relusum-widget')"
            f".shadowRoot.getElementById(id); return {expr}; }})()"
        )

    def fits(self):
        return [m for m in self.js("harness.sent") if m.get("path") == "/api/fit"]

    def check_drawn_sum(self, model):
        xs, _, sums, *_ = self.js("harness.ctl.chart.data")
        x, y = np.asarray(xs, dtype=float), np.asarray(sums, dtype=float)
        assert x.size > 500
        np.testing.assert_allclose(y, model(x), rtol=1e-9, atol=1e-9)

    def close(self):
        self.context.close()


@pytest.fixture
def h(browser, monkeypatch):
    outbox: queue.Queue = queue.Queue()
    monkeypatch.setattr(BrowserComm, "outbox", outbox)
    monkeypatch.setattr(comm, "create_comm", lambda *a, **kw: BrowserComm(*a, **kw))
    w = relusum.widget("sin(x)", domain=(-3, 3), units=8)
    harness = Harness(browser, w, outbox)
    yield harness
    try:
        assert harness.external == [], f"requests off the harness: {harness.external}"
        assert harness.errors == [], f"console errors: {harness.errors}"
    finally:
        harness.close()
        w.close()


def test_widget_renders_the_explorer_and_fits_in_the_kernel(h):
    first = h.js("harness.sent.map(m => [m.type, m.method, m.path])")
    assert first[0] == ["request", "GET", "/api/info"]
    assert ["request", "POST", "/api/target"] in first
    assert h.fits()[0]["body"] == {
        "target": {"formula": "sin(x)", "domain": ["-3", "3"]},
        "method": "lstsq",
        "units": 8,
    }
    # The explorer's controls, drawn from the page's own markup inside the shadow root.
    assert h.shadow("$('units-range').value") == "8"
    assert h.shadow("$('r-units').textContent") == "8"
    opts = h.shadow("[...$('method').options].map(o => o.value)")
    assert opts == ["interp", "lstsq", "opt-l2", "opt-linf", "train"]
    assert h.shadow("$('share').hidden") is True  # no page address to share in a notebook
    assert h.js("document.querySelectorAll('#units-range').length") == 0  # nothing leaks out
    # JupyterLab leaves the keys typed in the widget to the widget.
    host = "document.querySelector('.relusum-widget')"
    assert h.js(f"{host}.getAttribute('data-lm-suppress-shortcuts')") == "true"
    h.check_drawn_sum(h.w.model)


def test_moving_the_slider_sends_a_fit_and_the_kernel_model_follows(h):
    for n in (12, 3, 40):
        h.page.fill("#units-range", str(n))  # the slider, inside the shadow root (an input event)
        h.wait(f"harness.ctl.state.lastDraw.units === {n} && harness.state.units === {n}")
        assert h.fits()[-1]["body"]["units"] == n
        h.wait_py(lambda n=n: h.w.units == n and h.w.model.n_units == n)
        assert h.w.model.allclose(relusum.fit("sin(x)", domain=(-3, 3), n_units=n).model)
        h.check_drawn_sum(h.w.model)
        assert h.shadow("$('units').value") == str(n)
        shown = float(h.shadow("$('r-max').textContent"))
        assert shown == pytest.approx(h.w.report["max_abs_error"], rel=1e-3)


def test_settings_changed_in_python_redraw_the_view(h):
    h.w.units = 20
    assert h.w.model.n_units == 20
    h.wait("harness.ctl.state.lastDraw.units === 20")
    assert h.shadow("$('units-range').value") == "20"
    h.check_drawn_sum(h.w.model)
    h.w.formula = "abs(x)"
    # Drawn once the view's own fit of |x| is back (sin(-2) < 0 < |-2|).
    h.wait("harness.ctl.state.target.label === 'abs(x)' && harness.ctl.evalAt(-2) > 1.5")
    assert h.shadow("$('formula').value") == "abs(x)"
    assert h.js("harness.ctl.state.model.knots.length") == 20
    h.wait_py(lambda: float(h.w.model(-2.0)) > 1.5)
    h.check_drawn_sum(h.w.model)


def test_methods_army_and_hand_mode(h):
    h.page.select_option("#method", "interp")
    h.wait_py(lambda: h.w.method == "interp")
    h.wait("harness.ctl.state.report && harness.ctl.state.report.interpolate === true")
    assert h.fits()[-1]["body"]["method"] == "interp"
    h.wait_py(
        lambda: h.w.model.allclose(
            relusum.fit("sin(x)", domain=(-3, 3), n_units=8, interpolate=True).model
        )
    )
    # The army of units on and off.
    h.page.click("#show-terms")
    h.wait_py(lambda: h.w.show_terms is False)
    # A key pressed elsewhere in the notebook is not the widget's shortcut.
    h.page.click("#outside")
    h.page.keyboard.press("h")
    h.page.wait_for_timeout(300)
    assert h.w.hand is False and h.js("harness.ctl.state.hand") is False
    # Hand mode: edit a unit's weight; the kernel's model is the hand-made one.
    h.page.click("#hand")
    h.wait_py(lambda: h.w.hand is True)
    h.wait("harness.ctl.state.selected === 0")
    h.page.fill("#u-w", "2.5")
    h.wait(
        "harness.ctl.state.report && !harness.ctl.state.report.approx && "
        "harness.ctl.state.model.weights[0] === 2.5"
    )
    shown = h.js("harness.ctl.state.model")
    h.wait_py(lambda: 2.5 in list(h.w.model.weights))
    assert h.w.model.allclose(
        relusum.ReluSum(shown["bias"], shown["knots"], shown["weights"], domain=(-3, 3))
    )
    assert h.js("harness.sent.some(m => m.path === '/api/measure')")
