/* relusum notebook widget: the shared explorer (explorer.js) over anywidget messages.
 *
 * makeWidget() returns anywidget's {render}: each view draws the explorer's markup
 * (index.html's body) in a shadow root, so its styles and element ids stay inside it,
 * and sends every API request to the Python kernel as a custom message
 *   {type: "request", id, method: "GET"|"POST", path, body}
 * answered by relusum.notebook's widget with the same ExploreApi as the web server:
 *   {type: "response", id, status, payload[, ctype, binary, text]} (+ a buffer for files).
 * The view's settings live in the widget's traitlets (formula, domain, units, method, hand,
 * show_terms): the kernel sees every move, and a change made in Python redraws the view.
 *
 * The bundle that anywidget loads is built by relusum/notebook/bundle.py from this file,
 * explorer.js and the vendored uPlot (no bundler, nothing fetched from outside).
 */
import { createExplorer } from "./explorer.js";

/** Seconds to wait for the kernel's answer before a request fails. */
const ANSWER_SECONDS = 300;

/** The traitlets the view keeps in sync. */
const TRAITS = ["formula", "domain", "units", "method", "hand", "show_terms"];

export function makeWidget({ uPlot, css, markup }) {
  function render({ model, el }) {
    const host = document.createElement("div");
    host.className = "relusum-widget";
    // Keys pressed in the widget are the widget's, not JupyterLab's command-mode shortcuts.
    host.setAttribute("data-lm-suppress-shortcuts", "true");
    el.appendChild(host);
    const shadow = host.attachShadow({ mode: "open" });
    shadow.innerHTML = `<style>${css}</style><div class="relusum-root">${markup}</div>`;
    const box = shadow.querySelector(".relusum-root");

    // ------------------------------------------------------- requests to the kernel
    let seq = 0;
    const waiting = new Map();
    function onMessage(msg, buffers) {
      if (!msg || msg.type !== "response") return;
      const w = waiting.get(msg.id);
      if (!w) return;
      waiting.delete(msg.id);
      clearTimeout(w.timer);
      if (msg.status >= 400) {
        const payload = msg.payload && typeof msg.payload === "object" ? msg.payload
          : { error: `request failed (${msg.status})` };
        const err = new Error(payload.error || `request failed (${msg.status})`);
        err.payload = payload; err.status = msg.status;
        w.reject(err);
      } else if (msg.binary) {
        w.resolve(new Blob(buffers && buffers.length ? [buffers[0]] : [], { type: msg.ctype }));
      } else if (w.raw) {
        const text = msg.text ? msg.payload : JSON.stringify(msg.payload);
        w.resolve(new Blob([text], { type: msg.ctype || "application/json" }));
      } else w.resolve(msg.payload);
    }
    model.on("msg:custom", onMessage);

    function request(path, body, raw) {
      const id = ++seq;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          const err = new Error("no answer from the Python kernel (is it running?)");
          err.payload = { error: err.message }; err.status = 504;
          reject(err);
        }, ANSWER_SECONDS * 1000);
        waiting.set(id, { resolve, reject, raw, timer });
        model.send({ type: "request", id, method: body === undefined ? "GET" : "POST", path,
                     body: body === undefined ? null : body });
      });
    }

    // ------------------------------------------------------- the view's settings
    let saving = false;
    const state = {
      load(S) {
        S.formula = String(model.get("formula"));
        const d = model.get("domain") || [];
        if (d.length === 2) { S.a = String(d[0]); S.b = String(d[1]); }
        const n = Number(model.get("units"));
        if (n >= 1 && n <= 200) S.units = Math.round(n);
        S.method = String(model.get("method"));
        S.showTerms = !!model.get("show_terms");
        let m = null;
        try { m = model.get("model_json") ? JSON.parse(model.get("model_json")) : null; } catch (e) { m = null; }
        if (model.get("hand") && m && Array.isArray(m.knots) && Array.isArray(m.weights)) {
          S.hand = true;
          S.model = { bias: m.bias, knots: m.knots.slice(), weights: m.weights.slice(), domain: m.domain };
          S.units = m.knots.length || S.units;
        }
      },
      save(S) {
        const now = { formula: S.formula, domain: [S.a, S.b], units: S.units, method: S.method,
                      hand: S.hand, show_terms: S.showTerms };
        let changed = false;
        saving = true;  // our own sets are not changes "from the model"
        try {
          for (const k of TRAITS) {
            if (JSON.stringify(model.get(k)) !== JSON.stringify(now[k])) { model.set(k, now[k]); changed = true; }
          }
        } finally { saving = false; }
        if (changed) model.save_changes();
      },
    };

    const ctl = createExplorer({
      root: shadow, uPlot, request, state, keyTarget: box, dropTarget: box,
      unreachable: "cannot reach the Python kernel: ",
    });
    host.relusumExplorer = ctl;  // for tests and for the curious

    // A change made in Python (or in another view of the same widget) redraws this view.
    const fromModel = () => {
      if (saving) return;
      const d = model.get("domain") || [];
      ctl.apply({ formula: model.get("formula"), a: d[0], b: d[1], units: model.get("units"),
                  method: model.get("method"), hand: model.get("hand"), showTerms: model.get("show_terms") });
    };
    for (const k of TRAITS) model.on(`change:${k}`, fromModel);

    // The output area's width changes without a window resize.
    const ro = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(() => ctl.resize());
    if (ro) ro.observe(box);

    return () => {
      if (ro) ro.disconnect();
      for (const k of TRAITS) model.off(`change:${k}`, fromModel);
      model.off("msg:custom", onMessage);
      for (const w of waiting.values()) clearTimeout(w.timer);
      waiting.clear();
      ctl.destroy();
    };
  }
  return { render };
}
