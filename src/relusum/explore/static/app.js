/* relusum explorer page: the shared explorer (explorer.js) over HTTP to its own server.
 *
 * Talks only to the server it came from (same origin, JSON API of relusum/explore/api.py)
 * and keeps the view in the URL's fragment, so a link reopens the same view.
 * window.relusumState (and relusumChart, relusumErrChart, relusumEval, relusumReady)
 * expose the explorer for tests and for the curious.
 */
import { createExplorer } from "./explorer.js";

async function request(path, body, raw) {
  const opts = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const res = await fetch(path, opts);
  const ctype = res.headers.get("Content-Type") || "";
  if (!res.ok) {
    let payload = { error: `${res.status} ${res.statusText}` };
    if (ctype.startsWith("application/json")) payload = await res.json();
    const err = new Error(payload.error || `request failed (${res.status})`);
    err.payload = payload; err.status = res.status;
    throw err;
  }
  if (ctype.startsWith("application/json") && !raw) return res.json();
  return res.blob();
}

/** The view in the URL's fragment: #f=..&a=..&b=..&n=..&m=..&t=..[&h=1&hb=..&hk=..&hw=..]. */
const urlState = {
  save(S) {
    const q = new URLSearchParams();
    if (S.data) q.set("data", "1");
    else { q.set("f", S.formula); q.set("a", S.a); q.set("b", S.b); }
    q.set("n", String(S.units)); q.set("m", S.method);
    q.set("t", S.showTerms ? "1" : "0");
    if (S.hand && S.model) {
      q.set("h", "1");
      q.set("hb", String(+S.model.bias.toPrecision(12)));
      q.set("hk", S.model.knots.map((v) => +v.toPrecision(12)).join(","));
      q.set("hw", S.model.weights.map((v) => +v.toPrecision(12)).join(","));
    }
    if (S.selected >= 0) q.set("u", String(S.selected));
    if (S.challenge) q.set("c", "1");
    const hash = "#" + q.toString();
    if (location.hash !== hash) history.replaceState(null, "", hash);
  },
  load(S) {
    const q = new URLSearchParams(location.hash.slice(1));
    if (q.has("f")) S.formula = q.get("f");
    if (q.has("a")) S.a = q.get("a");
    if (q.has("b")) S.b = q.get("b");
    const n = parseInt(q.get("n"), 10);
    if (n >= 1 && n <= 200) S.units = n;
    if (q.has("m")) S.method = q.get("m");
    S.showTerms = q.get("t") !== "0";
    S.challenge = q.get("c") === "1";
    const u = q.has("u") ? parseInt(q.get("u"), 10) : -1;
    S.selected = Number.isInteger(u) && u >= 0 && u < 200 ? u : -1;
    if (q.get("h") === "1" && q.has("hk") && q.has("hw")) {
      const num = (s) => s === "" ? [] : s.split(",").map(Number);
      const knots = num(q.get("hk")), weights = num(q.get("hw")), bias = Number(q.get("hb") || 0);
      if (knots.length === weights.length && knots.length <= 200 && [...knots, ...weights, bias].every(isFinite)) {
        S.hand = true;
        S.model = { bias, knots, weights, domain: null };
        S.units = knots.length || S.units;
      }
    }
  },
};

if (typeof window.uPlot === "undefined") {
  document.getElementById("status").textContent = "the chart library did not load";
} else {
  const explorer = createExplorer({
    root: document,
    uPlot: window.uPlot,
    request,
    state: urlState,
    share: () => navigator.clipboard.writeText(location.href),
    keyTarget: document,
    dropTarget: document,
    unreachable: "cannot reach the relusum server: ",
    onReady: () => { window.relusumReady = true; },
  });
  window.relusumExplorer = explorer;
  window.relusumState = explorer.state;
  window.relusumEval = explorer.evalAt;
  Object.defineProperty(window, "relusumChart", { get: () => explorer.chart });
  Object.defineProperty(window, "relusumErrChart", { get: () => explorer.errChart });
}
