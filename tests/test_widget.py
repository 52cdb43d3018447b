"""The notebook widget's kernel side: traitlet sync, request messages, the bundle it ships.

The front end is simulated the way ipywidgets delivers it: custom messages through
``_handle_custom_msg`` and state through ``set_state`` (no comm, no kernel).  The front
end itself is driven in Chromium by tests/test_widget_browser.py.
"""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
import traitlets

import relusum
from relusum.notebook import NOTEBOOK_NEEDED, bundle
from relusum.notebook.explorer import ExplorerWidget

SIN = {"formula": "sin(x)", "domain": ["-3", "3"]}


def _fit_msg(rid, units, method="lstsq", target=SIN, **extra):
    body = {"target": target, "method": method, "units": units, **extra}
    return {"type": "request", "id": rid, "method": "POST", "path": "/api/fit", "body": body}


@pytest.fixture
def w(monkeypatch):
    widget = relusum.widget("sin(x)", domain=(-3, 3), units=8)
    widget.sent = []
    monkeypatch.setattr(widget, "send", lambda c, b=None: widget.sent.append((c, b)))
    yield widget
    widget.close()


def _reference(units, method_kwargs=None, domain=(-3, 3)):
    return relusum.fit("sin(x)", domain=domain, n_units=units, **(method_kwargs or {})).model


# ---------------------------------------------------------------- construction
def test_widget_starts_with_the_fit_of_its_settings(w):
    assert isinstance(w, ExplorerWidget)
    assert (w.formula, w.domain, w.units, w.method) == ("sin(x)", ["-3", "3"], 8, "lstsq")
    assert w.model.n_units == 8
    assert w.model.allclose(_reference(8))
    assert w.model.domain == (-3.0, 3.0)
    assert json.loads(w.model_json)["format"] == "relusum/1"
    assert w.report["n_units"] == 8 and w.report["max_abs_error"] > 0
    assert "8 units" in repr(w)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "sin(("}, "never closed"),
        ({"domain": (1, 0)}, "reversed"),
        ({"domain": (0,)}, "domain must be"),
        ({"units": 0}, "between 1 and 200"),
        ({"units": 201}, "between 1 and 200"),
        ({"method": "magic"}, "unknown method"),
        ({"workers": -1}, "workers"),
    ],
)
def test_bad_settings_are_one_clear_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        relusum.widget(**kwargs)


def test_domain_ends_may_be_constant_expressions():
    w = relusum.widget("sin(x)", domain=("-pi", np.float64(2.5)), units=4)
    try:
        assert w.domain == ["-pi", "2.5"]
        assert w.model.domain == pytest.approx((-np.pi, 2.5))
    finally:
        w.close()


def test_fits_may_run_in_worker_processes():
    w = relusum.widget("sin(x)", domain=(-3, 3), units=6, workers=1)
    try:
        assert w._api.pool.pids()  # a process of its own, stopped at the explorer's time limits
        assert w.model.allclose(_reference(6))
        reply, _ = w.answer(_fit_msg(1, 9))
        assert reply["status"] == 200 and w.model.allclose(_reference(9))
    finally:
        w.close()
    assert w._api.pool.pids() == []


# ---------------------------------------------------------- front-end messages
def test_moving_the_units_slider_changes_the_model(w):
    # What the front end does when the slider moves to 12: it syncs `units` and asks for a fit.
    w.set_state({"units": 12})
    assert w.units == 12
    assert w.model.n_units == 8  # a front-end change is fitted by the front end's request
    w._handle_custom_msg(_fit_msg(5, 12), [])
    w._wait()
    (reply, buffers), *_ = w.sent
    assert reply["type"] == "response" and reply["id"] == 5 and reply["status"] == 200
    assert buffers is None
    assert len(reply["payload"]["model"]["knots"]) == 12
    assert w.model.n_units == 12
    assert w.model.allclose(_reference(12))
    assert w.report["n_units"] == 12
    assert w.report["rmse"] == pytest.approx(reply["payload"]["report"]["rmse"])


def test_methods_reach_the_fit(w):
    w.set_state({"method": "interp"})
    w._handle_custom_msg(_fit_msg(1, 10, method="interp"), [])
    w._wait()
    assert w.method == "interp"
    assert w.model.allclose(_reference(10, {"interpolate": True}))


def test_the_newest_request_sets_the_model_whatever_order_answers_come_in(w):
    # Two requests answered out of order (two views, or a slow fit): the later arrival wins.
    w.answer(_fit_msg(1, 5), seq=100)
    w.answer(_fit_msg(2, 3), seq=99)
    assert w.model.n_units == 5


def test_a_sweep_overtaken_by_a_newer_one_is_not_run(w):
    sweep = {
        "type": "request",
        "id": 1,
        "method": "POST",
        "path": "/api/sweep",
        "body": {"target": SIN, "method": "lstsq", "units": [2, 4]},
    }
    w._handle_custom_msg(sweep, [])
    w._wait()
    assert w.sent[-1][0]["status"] == 200
    assert [r["units"] for r in w.sent[-1][0]["payload"]["rows"]] == [2, 4]
    reply, _ = w.answer({**sweep, "id": 0}, seq=0)  # arrived before the one above
    assert reply["status"] == 409


def test_hand_mode_measure_makes_the_hand_made_model_current(w):
    w.set_state({"hand": True})
    hand = {"bias": 0.1, "knots": [-1.0, 0.0, 1.0], "weights": [1.0, -2.0, 1.0], "domain": None}
    msg = {
        "type": "request",
        "id": 9,
        "method": "POST",
        "path": "/api/measure",
        "body": {"target": SIN, "model": hand},
    }
    w._handle_custom_msg(msg, [])
    w._wait()
    reply = w.sent[-1][0]
    assert reply["status"] == 200
    m = relusum.ReluSum(0.1, [-1.0, 0.0, 1.0], [1.0, -2.0, 1.0], domain=(-3, 3))
    assert w.model == m
    xs = np.linspace(-3, 3, 20001)
    assert reply["payload"]["max_abs_error"] == pytest.approx(
        np.max(np.abs(m(xs) - np.sin(xs))), rel=1e-3
    )
    # Python-side settings do not refit over a hand-made model.
    w.units = 20
    assert w.model == m


def test_errors_come_back_as_the_pages_error_payloads(w):
    w._handle_custom_msg(_fit_msg(3, 8, target={"formula": "sin(x", "domain": ["0", "1"]}), [])
    w._handle_custom_msg(_fit_msg(4, 0), [])
    w._handle_custom_msg({"type": "request", "id": 5, "method": "GET", "path": "/etc"}, [])
    w._handle_custom_msg({"type": "something else"}, [])  # ignored: not a request
    w._wait()
    replies = {r["id"]: r for r, _ in w.sent}
    assert set(replies) == {3, 4, 5}
    assert replies[3]["status"] == 422
    assert replies[3]["payload"]["field"] == "formula" and replies[3]["payload"]["column"] == 4
    assert replies[4]["status"] == 422 and "at least 1" in replies[4]["payload"]["error"]
    assert replies[5]["status"] == 404
    assert w.model.n_units == 8  # unchanged


def test_info_and_downloads(w):
    model = {"bias": 0.5, "knots": [0.0, 1.0], "weights": [1.0, -1.0]}
    w._handle_custom_msg({"type": "request", "id": 1, "method": "GET", "path": "/api/info"}, [])
    w._handle_custom_msg(
        {
            "type": "request",
            "id": 2,
            "method": "POST",
            "path": "/api/export",
            "body": {"model": model, "format": "json"},
        },
        [],
    )
    w._wait()
    (info, _), (export, buffers) = w.sent
    assert set(info["payload"]["methods"]) >= {"interp", "lstsq", "opt-l2", "opt-linf", "train"}
    assert info["payload"]["limits"]["max_units"] == 200
    assert export["binary"] is True and export["ctype"] == "application/json"
    assert relusum.ReluSum.from_dict(json.loads(buffers[0])) == relusum.ReluSum(
        0.5, [0.0, 1.0], [1.0, -1.0]
    )


# ----------------------------------------------------------- changes in Python
def test_settings_changed_in_python_refit_in_python(w):
    w.units = 16
    assert w.model.n_units == 16 and w.model.allclose(_reference(16))
    w.domain = ["0", "pi"]
    assert w.model.domain == pytest.approx((0, np.pi))
    w.method = "interp"
    assert w.model.allclose(_reference(16, {"interpolate": True}, domain=(0, np.pi)))
    w.formula = "x**2"
    assert float(w.model(0.5)) == pytest.approx(0.25, abs=1e-2)


def test_bad_settings_from_python_are_refused_and_leave_the_widget_as_it_was(w):
    for name, value, message in [
        ("units", 0, "between 1 and 200"),
        ("formula", "sin((", "never closed"),
        ("domain", ["1", "0"], "reversed"),
        ("method", "magic", "unknown method"),
    ]:
        before = getattr(w, name)
        with pytest.raises(traitlets.TraitError, match=message):
            setattr(w, name, value)
        assert getattr(w, name) == before
    assert w.model.n_units == 8


def test_the_front_end_may_hold_a_formula_still_being_typed(w):
    w.set_state({"formula": "sin(("})  # the page shows its own error under the field
    assert w.formula == "sin(("
    assert w.model.n_units == 8


# ------------------------------------------------------------------- packaging
def test_missing_anywidget_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "anywidget", None)
    monkeypatch.delitem(sys.modules, "relusum.notebook.explorer", raising=False)
    with pytest.raises(ImportError) as err:
        relusum.widget()
    assert str(err.value) == NOTEBOOK_NEEDED
    assert "pip install 'relusum[notebook]'" in NOTEBOOK_NEEDED


def test_the_bundle_names_no_external_url():
    code = ExplorerWidget._esm
    assert code == bundle.esm()
    assert not re.search(r"\b(?:https?|wss?|ftp):", code), re.findall(r"\w+://\S{0,40}", code)
    assert not re.search(r"""(?:src|href)\s*=\s*\\?["']//""", code)
    for needle in ("fetch(", "XMLHttpRequest", "WebSocket", "import(", "@import", "sendBeacon"):
        assert needle not in code, needle
    # The only ES import/export syntax left is the bundle's own exports.
    assert not re.search(r"^\s*import\b", code, re.M)
    assert re.findall(r"^export\s+(?:default|function)\s+(\w+)", code, re.M) == [
        "createExplorer",
        "makeWidget",
        "makeWidget",
    ]


def test_the_bundle_is_the_explorer_pages_own_files():
    # One source for both: the widget ships the page's explorer.js and markup unchanged.
    code = bundle.esm()
    explorer = bundle.read_static("explorer.js")
    assert explorer in code
    widget_js = bundle.read_static("widget.js")
    assert 'import { createExplorer } from "./explorer.js";' in widget_js
    assert widget_js.replace('import { createExplorer } from "./explorer.js";\n', "") in code
    app_js = bundle.read_static("app.js")
    assert 'import { createExplorer } from "./explorer.js";' in app_js
    markup = bundle.markup()
    assert 'id="units-range"' in markup and 'id="hand"' in markup and "<script" not in markup
    assert json.dumps(markup, ensure_ascii=False)[1:-1] in code
    css = bundle.styles()
    assert ":host {" in css and not re.search(r"^:root", css, re.M)
