/* relusum explorer: the drawing and the controls, shared by the page and the notebook widget.
 *
 * One ES module, no transport of its own: createExplorer() is given a root (the page's
 * document, or the widget's shadow root) holding the markup of index.html, and a
 * ``request(path, body, raw)`` function that answers the explorer's JSON API
 * (relusum/explore/api.py).  app.js sends those requests over HTTP to `relusum explore`;
 * widget.js sends them as messages to the Python kernel, which answers them with the same
 * ExploreApi.  Neither this file nor the transports fetch anything from outside.
 *
 * The model on the page is always {bias, knots, weights, domain}: the sum
 * f(x) = bias + sum_i weights[i] * max(0, x - knots[i]). It is evaluated here
 * exactly (sorted knots, running slope), so hand edits redraw at once.
 */

/**
 * Start an explorer in ``opts.root`` and return its controller.
 *
 * opts: {
 *   root,        // Document or ShadowRoot with the markup (ids as in index.html)
 *   uPlot,       // the uPlot constructor
 *   request,     // (path, body, raw) => Promise of the JSON answer (a Blob when raw)
 *   state,       // optional {load(S), save(S)}: where the view is kept between visits
 *   share,       // optional (S) => Promise: "Copy link" (hidden without it)
 *   keyTarget,   // where keyboard shortcuts listen (default: root)
 *   dropTarget,  // where a CSV file may be dropped (default: root)
 *   unreachable, // status text prefix when the API cannot be reached
 *   onReady,     // optional (controller) => void, after the first fit is drawn
 * }
 * controller: {state, chart, errChart, evalAt(x), apply(changes), resize(), destroy(), ready}
 */
export function createExplorer(opts) {
  const root = opts.root;
  const uPlot = opts.uPlot;
  const keyTarget = opts.keyTarget || root;
  const dropTarget = opts.dropTarget || root;
  opts = { unreachable: "cannot reach relusum: ", ...opts };
  let ready = false;

  const $ = (id) => root.getElementById(id);
  const SWEEP_UNITS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 160, 200];
  const SWEEP_UNITS_SLOW = [1, 2, 4, 8, 16, 32, 64, 128, 200];  // optimal knots take longer
  const DEFAULT = { f: "sin(x)", a: "-pi", b: "pi", n: 8, m: "lstsq", t: 1, h: 0 };

  const S = {
    info: null,
    formula: DEFAULT.f, a: DEFAULT.a, b: DEFAULT.b,
    units: DEFAULT.n, method: DEFAULT.m, showTerms: true, hand: false,
    data: null,          // {x: [...], y: [...], name}
    target: null,        // {kind, x, y, domain, label} from the server
    model: null,         // {bias, knots, weights, domain}
    report: null,        // errors of the model: {rmse, max_abs_error, n_pieces, n_units, ...}
    sweep: null,         // {method, rows}
    selected: -1,
    challenge: false,
    draws: 0,
    lastDraw: null,      // {units, t, n} after each redraw of the main chart
    pending: 0,
  };

  // ------------------------------------------------------------------ helpers
  function fmt(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential((digits || 4) - 1);
    return Number(v.toPrecision(digits || 4)).toString();
  }
  function setStatus(text) { $("status").textContent = text || ""; }
  function showError(id, msg) {
    const el = $(id);
    if (!msg) { el.hidden = true; el.textContent = ""; return; }
    el.hidden = false;
    el.textContent = msg;
  }

  /** One request through the transport: a JSON answer, or a Blob when ``raw`` (downloads).
   *  A failure throws an Error with ``payload`` ({error, field?, column?, ...}) and ``status``. */
  const api = (path, reqBody, raw) => opts.request(path, reqBody, raw);

  // ------------------------------------------------------------- the model
  /** Sorted copy of the model for evaluation: knots ascending, running slopes and knot values. */
  function prepare(model) {
    const n = model.knots.length;
    const idx = Array.from({ length: n }, (_, i) => i).sort((i, j) => model.knots[i] - model.knots[j]);
    const h = new Float64Array(n), slope = new Float64Array(n), val = new Float64Array(n);
    let s = 0, v = model.bias;
    for (let k = 0; k < n; k++) {
      h[k] = model.knots[idx[k]];
      if (k > 0) v += s * (h[k] - h[k - 1]);
      val[k] = v;
      s += model.weights[idx[k]];
      slope[k] = s;
    }
    return { bias: model.bias, h, slope, val, n };
  }
  /** Evaluate at ascending xs (one sweep: O(N + n)). */
  function evalSorted(p, xs) {
    const out = new Float64Array(xs.length);
    let k = -1;
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      while (k + 1 < p.n && p.h[k + 1] <= x) k++;
      out[i] = k < 0 ? p.bias : p.val[k] + p.slope[k] * (x - p.h[k]);
    }
    return out;
  }
  function evalAt(p, x) {
    let k = -1;
    while (k + 1 < p.n && p.h[k + 1] <= x) k++;
    return k < 0 ? p.bias : p.val[k] + p.slope[k] * (x - p.h[k]);
  }
  const evalModel = (x) => (S.model ? evalAt(prepare(S.model), x) : NaN);

  function domain() { return S.target ? S.target.domain : [-1, 1]; }

  // ---------------------------------------------------------------- charts
  let chart = null, chartKind = null, errChart = null;
  const COLORS = { target: "#222", sum: "#d1495b", terms: "rgba(61,125,216,0.55)", sel: "#1f5fbf" };

  function yRange() {
    const ys = S.target.y.filter((v) => v !== null);
    let lo = Math.min(...ys), hi = Math.max(...ys);
    if (!(hi > lo)) { lo -= 1; hi += 1; }
    const pad = 0.12 * (hi - lo);
    return [lo - pad, hi + pad];
  }

  function drawExtras(u) {
    if (!S.model || !S.target) return;
    const ctx = u.ctx, [a, b] = domain();
    const { left, top, width, height } = u.bbox;
    const X = (v) => u.valToPos(v, "x", true), Y = (v) => u.valToPos(v, "y", true);
    ctx.save();
    ctx.beginPath(); ctx.rect(left, top, width, height); ctx.clip();
    const dpr = window.devicePixelRatio || 1;
    if (S.showTerms) {
      // Each unit: w * max(0, x - h), zero left of its knot, a straight line right of it.
      // One path for all the units (one stroke), then the selected unit on top.
      const { knots, weights } = S.model;
      const trace = (i) => {
        const h = knots[i], w = weights[i];
        if (h > a) { ctx.moveTo(X(a), Y(0)); ctx.lineTo(X(Math.min(h, b)), Y(0)); }
        else ctx.moveTo(X(a), Y(w * (a - h)));
        if (h < b) ctx.lineTo(X(b), Y(w * (b - h)));
      };
      ctx.strokeStyle = COLORS.terms;
      ctx.lineWidth = 1.1 * dpr;
      ctx.beginPath();
      for (let i = 0; i < knots.length; i++) if (i !== S.selected) trace(i);
      ctx.stroke();
      if (S.selected >= 0 && S.selected < knots.length) {
        ctx.strokeStyle = COLORS.sel; ctx.lineWidth = 2.4 * dpr;
        ctx.beginPath(); trace(S.selected); ctx.stroke();
      }
    }
    // Knots as handles on the sum: one path for all, the selected one on top.
    const p = prepare(S.model), knots = S.model.knots;
    const vals = evalSorted(p, p.h);  // values at the sorted knots
    const order = knots.map((h, i) => i).sort((i, j) => knots[i] - knots[j]);
    const r = (knots.length <= 30 ? 4 : knots.length <= 80 ? 3 : 2) * dpr;  // crowded: smaller
    ctx.beginPath();
    order.forEach((i, k) => {
      const h = knots[i];
      if (h < a || h > b || i === S.selected) return;
      const x = X(h), y = Y(vals[k]);
      ctx.moveTo(x + r, y); ctx.arc(x, y, r, 0, 2 * Math.PI);
    });
    ctx.fillStyle = "#fff"; ctx.strokeStyle = COLORS.sum; ctx.lineWidth = 1.6 * dpr;
    ctx.fill(); ctx.stroke();
    if (S.selected >= 0 && S.selected < knots.length) {
      const h = knots[S.selected];
      if (h >= a && h <= b) {
        ctx.beginPath(); ctx.arc(X(h), Y(evalAt(p, h)), 6 * dpr, 0, 2 * Math.PI);
        ctx.fillStyle = COLORS.sel; ctx.fill();
      }
    }
    ctx.restore();
  }

  function chartSize(el) {
    const r = el.getBoundingClientRect();
    return { width: Math.max(300, Math.floor(r.width) - 2), height: Math.max(200, Math.floor(r.height) - 40) };
  }

  function makeChart() {
    const el = $("chart");
    if (chart) { chart.destroy(); chart = null; }
    const isData = S.target.kind === "data";
    chartKind = S.target.kind;
    const opts = {
      ...chartSize(el),
      scales: { x: { time: false, range: () => domain() }, y: { range: () => yRange() } },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      legend: { show: true, live: false },
      series: [
        { label: "x" },
        isData
          ? { label: "data", stroke: COLORS.target, fill: COLORS.target, paths: () => null,
              points: { show: true, size: 4, stroke: COLORS.target, fill: COLORS.target } }
          : { label: "target", stroke: COLORS.target, width: 2, spanGaps: true, points: { show: false } },
        { label: "sum of ReLUs", stroke: COLORS.sum, width: 2, points: { show: false } },
        { label: "ReLU units w·max(0, x − h)", stroke: "rgb(61,125,216)", width: 1.5, show: S.showTerms,
          points: { show: false } },
      ],
      axes: [{ stroke: "#444", grid: { stroke: "#eceef3" } }, { stroke: "#444", grid: { stroke: "#eceef3" } }],
      hooks: {
        draw: [drawExtras],
        setSeries: [(u, i) => {
          if (i === 3 && u.series[3].show !== S.showTerms) {
            S.showTerms = u.series[3].show; $("show-terms").checked = S.showTerms; saveState();
          }
        }],
      },
    };
    chart = new uPlot(opts, chartData(), el);
    attachPointer(chart);
  }

  /** x: the target's points merged with the knots; target (null at knots) and the sum. */
  function chartData() {
    const tx = S.target.x, ty = S.target.y, [a, b] = domain();
    let knots = S.model ? S.model.knots.filter((h) => h >= a && h <= b).sort((p, q) => p - q) : [];
    const xs = [], ys = [];
    let i = 0, j = 0;
    while (i < tx.length || j < knots.length) {
      if (j >= knots.length || (i < tx.length && tx[i] <= knots[j])) {
        if (j < knots.length && tx[i] === knots[j]) j++;
        xs.push(tx[i]); ys.push(ty[i]); i++;
      } else { xs.push(knots[j]); ys.push(null); j++; }
    }
    const sum = S.model ? Array.from(evalSorted(prepare(S.model), xs)) : xs.map(() => null);
    return [xs, ys, sum, xs.map(() => null)];
  }

  function redraw() {
    if (!S.target) return;
    if (!chart || chartKind !== S.target.kind) makeChart();
    else {
      if (chart.series[3].show !== S.showTerms) chart.setSeries(3, { show: S.showTerms });
      chart.setData(chartData(), true);
    }
    S.draws += 1;
    S.lastDraw = { units: S.model ? S.model.knots.length : 0, t: performance.now(), n: S.draws };
    showReadouts();
    showNeuron();
    drawErrChart();
  }

  function drawErrChart() {
    const el = $("errchart");
    const rows = S.sweep ? S.sweep.rows : [];
    const ref = S.sweepRef && S.sweep && S.sweep.method !== "lstsq" ? S.sweepRef.rows : [];
    const xs = [...new Set([...rows.map((r) => r.units), ...ref.map((r) => r.units)])].sort((p, q) => p - q);
    const pick = (list, key) => {
      const m = new Map(list.map((r) => [r.units, r[key]]));
      return xs.map((n) => (m.get(n) > 0 ? m.get(n) : null));
    };
    const data = [xs, pick(rows, "max_abs_error"), pick(rows, "rmse"), pick(ref, "max_abs_error")];
    $("err-method").textContent = S.sweep && S.info ? S.info.methods[S.sweep.method].label +
      (S.method === "train" ? ", for comparison" : "") + (S.sweep.complete ? "" : ", cut short in time")
      : "computing…";
    $("err-ref").hidden = !(ref.length);
    if (!errChart) {
      errChart = new uPlot({
        ...errSize(),
        scales: { x: { time: false, distr: 3, range: [1, 200] }, y: { distr: 3 } },
        cursor: { drag: { x: false, y: false } },
        legend: { show: false },
        series: [
          { label: "units" },
          { label: "max error", stroke: "#d1495b", width: 1.8, spanGaps: true, points: { show: true, size: 4 } },
          { label: "RMSE", stroke: "#3d7dd8", width: 1.8, spanGaps: true, points: { show: true, size: 4 } },
          { label: "max error, uniform least squares", stroke: "#9aa0aa", width: 1.4, dash: [5, 4],
            spanGaps: true, points: { show: false } },
        ],
        axes: [{ stroke: "#444", grid: { stroke: "#eceef3" } },
               { stroke: "#444", grid: { stroke: "#eceef3" }, size: 52,
                 splits: (u, i, min, max) => {
                   const out = [];
                   for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
                     const v = Math.pow(10, e); if (v >= min * 0.999 && v <= max * 1.001) out.push(v);
                   }
                   return out.length ? out : [min, max];
                 },
                 values: (u, vals) => vals.map((v) => v == null ? "" : "1e" + Math.round(Math.log10(v))) }],
        hooks: { draw: [(u) => {
          const n = S.model ? S.model.knots.length : S.units;
          const ctx = u.ctx, x = u.valToPos(n, "x", true), dpr = window.devicePixelRatio || 1;
          ctx.save();
          ctx.strokeStyle = "#888"; ctx.setLineDash([4 * dpr, 3 * dpr]); ctx.lineWidth = dpr;
          ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
          if (S.report && S.report.max_abs_error > 0) {
            const y = u.valToPos(S.report.max_abs_error, "y", true);
            if (isFinite(y)) {
              ctx.setLineDash([]); ctx.fillStyle = "#d1495b";
              ctx.beginPath(); ctx.arc(x, y, 5 * dpr, 0, 2 * Math.PI); ctx.fill();
            }
          }
          ctx.restore();
        }] },
      }, data, el);
    } else {
      errChart.setData(data, true);
    }
  }

  function errSize() {
    const wrap = $("err-wrap").getBoundingClientRect();
    return { width: Math.max(260, Math.floor(wrap.width) - 10),
             height: Math.max(120, Math.floor(wrap.height) - $("err-title").offsetHeight - 8) };
  }
  function resize() {
    if (chart) chart.setSize(chartSize($("chart")));
    if (errChart) errChart.setSize(errSize());
  }
  const onResize = () => { clearTimeout(resize.t); resize.t = setTimeout(resize, 100); };
  window.addEventListener("resize", onResize);

  // -------------------------------------------------------------- readouts
  function showReadouts() {
    const r = S.report;
    $("r-rmse").textContent = r ? fmt(r.rmse) : "–";
    $("r-max").textContent = r ? fmt(r.max_abs_error) : "–";
    $("r-units").textContent = S.model ? S.model.knots.length : "–";
    $("r-pieces").textContent = r && r.n_pieces ? r.n_pieces : (S.model ? countPieces() : "–");
    let where = "";
    if (r) {
      if (r.approx) where = `hand-made; errors ≈ on the ${r.n_verify.toLocaleString()} plotted points (checking…)`;
      else if (r.error_on === "grid") where = `errors on ${r.n_verify.toLocaleString()} check points (not the ${(r.n_samples || 2000).toLocaleString()} fit samples)`;
      else where = `errors on the ${r.n_verify.toLocaleString()} data points`;
      if (r.knots_method === "trained" && !S.hand) {
        where = `trained network with ${S.trainedUnits} hidden units = this sum on the domain; ` + where +
          ` · trained in ${fmt(r.seconds, 3)} s`;
      } else if (r.seconds !== undefined && !S.hand) where += ` · fit ${fmt(r.seconds * 1000, 3)} ms`;
    }
    $("r-where").textContent = where;
    $("r-where").title = where;
    if (S.challenge) {
      const el = $("challenge-info");
      const n = S.model ? S.model.knots.length : 0;
      el.hidden = false;
      if (r && !r.approx && r.max_abs_error < 0.05 && n <= 6) {
        el.innerHTML = "";
        const b = document.createElement("span"); b.className = "ok";
        b.textContent = `Done: max error ${fmt(r.max_abs_error)} with ${n} unit${n === 1 ? "" : "s"}.`;
        el.appendChild(b);
      } else {
        el.textContent = `Goal: max error below 0.05 with 6 units (now ${r ? fmt(r.max_abs_error) : "–"}). ` +
          "Drag the knots (dots) to where tanh bends, then press “Best weights for these knots”.";
      }
    }
  }
  function countPieces() {
    const [a, b] = domain();
    const inside = new Set(S.model.knots.filter((h) => h > a && h < b));
    return inside.size + 1;
  }

  /** Errors of the current model on the plotted points, at once (hand mode). */
  function quickErrors() {
    const t = S.target, xs = [], ys = [];
    for (let i = 0; i < t.x.length; i++) if (t.y[i] !== null) { xs.push(t.x[i]); ys.push(t.y[i]); }
    const f = evalSorted(prepare(S.model), xs);
    let ss = 0, mx = 0;
    for (let i = 0; i < xs.length; i++) { const r = f[i] - ys[i]; ss += r * r; mx = Math.max(mx, Math.abs(r)); }
    return { rmse: Math.sqrt(ss / xs.length), max_abs_error: mx, n_verify: xs.length, approx: true,
             n_pieces: countPieces() };
  }

  // ---------------------------------------------------------------- neuron
  function showNeuron() {
    const body = $("neuron-body"), box = $("hand-box");
    box.hidden = !S.hand || !S.model;
    if (S.hand && S.model) $("u-bias").value = +S.model.bias.toPrecision(8);
    if (!S.model || S.selected < 0 || S.selected >= S.model.knots.length) {
      body.textContent = S.model
        ? `Bias ${fmt(S.model.bias, 5)}. Click a knot (a dot on the sum) or press ] to see its neuron.`
        : "Click a knot (a dot on the sum) to see its neuron.";
      return;
    }
    const i = S.selected, h = S.model.knots[i], w = S.model.weights[i];
    const order = S.model.knots.map((k, j) => [k, j]).sort((p, q) => p[0] - q[0]).findIndex((e) => e[1] === i);
    body.innerHTML = "";
    const lines = [
      `Unit ${order + 1} of ${S.model.knots.length}: w · max(0, x − h) is the neuron`,
      `w · ReLU(a·x + b)  with  a = 1,  b = −h = ${fmt(-h, 6)}`,
      `knot  h = −b/a = ${fmt(h, 6)}`,
      `output weight  w = ${fmt(w, 6)}  (the slope jumps by w at h)`,
    ];
    lines.forEach((t, k) => {
      const d = document.createElement(k === 0 ? "div" : "code");
      d.textContent = t; d.style.display = "block";
      body.appendChild(d);
    });
    if (S.hand) {
      if (root.activeElement !== $("u-h")) $("u-h").value = +h.toPrecision(8);
      if (root.activeElement !== $("u-w")) $("u-w").value = +w.toPrecision(8);
      const span = Math.max(1, 2 * Math.abs(w));
      const rng = $("u-w-range");
      if (root.activeElement !== rng) { rng.min = -span; rng.max = span; rng.value = w; }
    }
  }

  // ------------------------------------------------------- saved state
  // The transport keeps the view (the page: in the URL; the widget: in its traitlets).
  // Saves are batched: Chrome throttles history updates that come too fast (e.g. while dragging).
  let saveTimer = null;
  function saveState() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveStateNow, 150);
  }
  function saveStateNow() {
    clearTimeout(saveTimer);
    if (opts.state) opts.state.save(S);
  }

  function syncControls() {
    $("formula").value = S.formula; $("dom-a").value = S.a; $("dom-b").value = S.b;
    $("units").value = S.units; $("units-range").value = S.units;
    $("show-terms").checked = S.showTerms; $("hand").checked = S.hand;
    if ([...$("method").options].some((o) => o.value === S.method && !o.disabled)) $("method").value = S.method;
    else S.method = $("method").value;
    const preset = Object.entries(S.info.presets).find(([, p]) => p.formula === S.formula &&
      p.domain[0] === S.a && p.domain[1] === S.b);
    $("preset").value = preset && !S.data ? preset[0] : "";
    $("units").disabled = $("units-range").disabled = S.hand;
    $("units-range").title = S.hand ? "leave hand mode to change the number of units" : "";
    $("train-box").hidden = S.method !== "train";
    $("formula").disabled = !!S.data;
    $("data-info").hidden = $("data-clear").hidden = !S.data;
    if (S.data) $("data-info").textContent = `${S.data.name}: ${S.data.x.length.toLocaleString()} points`;
  }

  // ------------------------------------------------------------- requests
  function targetBody() {
    if (S.data) return { data: { x: S.data.x, y: S.data.y }, domain: null };
    return { formula: S.formula, domain: [S.a, S.b] };
  }

  function showFormulaError(payload) {
    const el = $("formula-error");
    $("formula").setAttribute("aria-invalid", "true");
    el.hidden = false; el.innerHTML = "";
    const col = payload.column;
    if (col && S.formula) {
      const src = document.createElement("span"); src.className = "src";
      const i = Math.min(Math.max(col - 1, 0), S.formula.length);
      src.append(S.formula.slice(0, i));
      const m = document.createElement("mark"); m.textContent = S.formula.slice(i, i + 1) || " ";
      src.append(m, S.formula.slice(i + 1));
      el.appendChild(src);
    }
    el.append(payload.error);
  }
  function clearTargetErrors() {
    showError("formula-error", ""); showError("domain-error", "");
    $("formula").removeAttribute("aria-invalid");
    $("dom-a").removeAttribute("aria-invalid"); $("dom-b").removeAttribute("aria-invalid");
  }
  function handleTargetError(err) {
    const p = err.payload || { error: err.message };
    if (p.field === "formula") showFormulaError(p);
    else if (p.field && p.field.startsWith("domain")) {
      showError("domain-error", p.error);
      $(p.field === "domain0" ? "dom-a" : "dom-b").setAttribute("aria-invalid", "true");
    } else showError("fit-error", p.error);
  }

  let targetSeq = 0;
  async function loadTarget() {
    const seq = ++targetSeq;
    setStatus("sampling the target…");
    try {
      const t = await api("/api/target", { target: targetBody() });
      if (seq !== targetSeq) return false;
      clearTargetErrors();
      S.target = t;
      if (S.data) { S.a = String(+t.domain[0].toPrecision(6)); S.b = String(+t.domain[1].toPrecision(6)); syncControls(); }
      setStatus("");
      return true;
    } catch (err) {
      if (seq !== targetSeq) return false;
      handleTargetError(err);
      setStatus("");
      return false;
    }
  }

  // One fit in flight at a time; the latest wish wins.
  let fitBusy = false, fitAgain = false;
  async function refit() {
    if (S.hand || !S.target) { redraw(); return; }
    if (S.method === "train") { redraw(); return; }
    if (fitBusy) { fitAgain = true; return; }
    fitBusy = true;
    try {
      do {
        fitAgain = false;
        const want = { target: targetBody(), method: S.method, units: S.units };
        try {
          const out = await api("/api/fit", want);
          if (fitAgain) continue;
          S.model = out.model; S.report = out.report;
          if (S.selected >= S.model.knots.length) S.selected = -1;
          showError("fit-error", "");
          redraw();
        } catch (err) {
          if (fitAgain) continue;
          const p = err.payload || { error: err.message };
          S.model = null; S.report = null; S.selected = -1;
          redraw();
          if (p.unavailable) markUnavailable(p.unavailable, p.error);
          if (p.field) handleTargetError(err); else showError("fit-error", p.error);
        }
      } while (fitAgain);
    } finally { fitBusy = false; saveState(); }
  }

  let sweepSeq = 0;
  async function resweep() {
    if (!S.target) return;
    const seq = ++sweepSeq;
    S.sweep = null; S.sweepRef = null; drawErrChart();
    // A trained network is compared with least squares (training every n would take minutes).
    const method = S.method === "train" ? "lstsq" : S.method;
    try {
      const units = method.startsWith("opt-") ? SWEEP_UNITS_SLOW : SWEEP_UNITS;
      if (method !== "lstsq") {  // the uniform least-squares curve, for comparison (fast)
        S.sweepRef = await api("/api/sweep", { target: targetBody(), method: "lstsq", units: SWEEP_UNITS });
        if (seq !== sweepSeq) return;
      }
      const out = await api("/api/sweep", { target: targetBody(), method, units });
      if (seq !== sweepSeq) return;
      S.sweep = out; drawErrChart();
    } catch (err) {
      if (seq !== sweepSeq) return;
      $("err-method").textContent = "not available: " + ((err.payload && err.payload.error) || err.message);
    }
  }

  let measureSeq = 0, measureTimer = null;
  function measureSoon() {
    // Every change makes the measures still on their way stale (their model is not this one).
    clearTimeout(measureTimer);
    const seq = ++measureSeq;
    measureTimer = setTimeout(async () => {
      try {
        const out = await api("/api/measure", { target: targetBody(), model: S.model });
        if (seq !== measureSeq || !S.hand) return;
        S.report = out; showReadouts(); drawErrChart();
      } catch (err) { showError("fit-error", (err.payload && err.payload.error) || err.message); }
    }, 250);
  }

  function markUnavailable(method, reason) {
    const opt = [...$("method").options].find((o) => o.value === method);
    if (opt) { opt.disabled = true; opt.textContent = S.info.methods[method].label + " (unavailable)"; opt.title = reason; }
    if (method === "train") showMethodNote(reason);
  }

  // One line under the method list when the trained-network curve cannot run (no PyTorch).
  function showMethodNote(reason) {
    const note = $("method-note");
    const text = String(reason || "").split("\n")[0];
    const cmd = "pip install 'relusum[torch]'";
    note.textContent = "";
    if (text.includes(cmd)) {
      const lead = text.slice(0, text.indexOf(cmd));
      note.append(lead.charAt(0).toUpperCase() + lead.slice(1));
      const c = document.createElement("code"); c.textContent = cmd; note.append(c);
      note.append(text.slice(text.indexOf(cmd) + cmd.length));
    } else {
      note.textContent = text.charAt(0).toUpperCase() + text.slice(1);
    }
    note.hidden = !text;
  }

  async function retarget() {
    const ok = await loadTarget();
    if (!ok) return;
    if (S.hand && S.model) { S.report = quickErrors(); redraw(); measureSoon(); }
    else await refit();
    resweep();
    saveState();
  }

  // ---------------------------------------------------------------- hand mode
  function handChanged() {
    S.report = quickErrors();
    redraw();
    measureSoon();
    saveState();
  }

  function setHand(on) {
    S.hand = on;
    if (!on) { syncControls(); refit(); return; }
    if (!S.model) return;
    S.model = { bias: S.model.bias, knots: S.model.knots.slice(), weights: S.model.weights.slice(), domain: S.model.domain };
    if (S.selected < 0) S.selected = 0;
    syncControls();
    handChanged();
  }

  function attachPointer(u) {
    let drag = -1;
    const over = u.over;
    const near = (e) => {
      if (!S.model) return -1;
      const r = over.getBoundingClientRect(), mx = e.clientX - r.left, my = e.clientY - r.top;
      const p = prepare(S.model);
      let best = -1, bd = 12;
      S.model.knots.forEach((h, i) => {
        const d = Math.hypot(u.valToPos(h, "x") - mx, u.valToPos(evalAt(p, h), "y") - my);
        if (d < bd) { bd = d; best = i; }
      });
      return best;
    };
    over.addEventListener("mousedown", (e) => {
      const i = near(e);
      if (i < 0) return;
      S.selected = i;
      if (S.hand) { drag = i; e.preventDefault(); }
      redraw(); saveState();
    });
    over.addEventListener("mousemove", (e) => {
      if (drag < 0) { over.style.cursor = near(e) >= 0 ? (S.hand ? "grab" : "pointer") : ""; return; }
      const r = over.getBoundingClientRect();
      const [a, b] = domain();
      let h = u.posToVal(e.clientX - r.left, "x");
      h = Math.min(Math.max(h, a), b - 1e-9 * (b - a));
      S.model.knots[drag] = h;
      handChanged();
    });
    window.addEventListener("mouseup", () => { drag = -1; });
  }

  function nudge(dh, dw) {
    const i = S.selected;
    if (!S.hand || !S.model || i < 0) return;
    const [a, b] = domain();
    if (dh) S.model.knots[i] = Math.min(Math.max(S.model.knots[i] + dh * (b - a), a), b - 1e-9 * (b - a));
    if (dw) {
      const w = S.model.weights[i];
      S.model.weights[i] = w + dw * Math.max(Math.abs(w) * 0.1, 0.02);
    }
    handChanged();
  }
  function selectNext(step) {
    if (!S.model || !S.model.knots.length) return;
    const order = S.model.knots.map((k, j) => [k, j]).sort((p, q) => p[0] - q[0]).map((e) => e[1]);
    const pos = order.indexOf(S.selected);
    const next = pos < 0 ? (step > 0 ? 0 : order.length - 1) : (pos + step + order.length) % order.length;
    S.selected = order[next];
    redraw(); saveState();
  }

  // ----------------------------------------------------------------- training
  async function train() {
    const steps = parseInt($("steps").value, 10) || 2000;
    const prog = $("train-progress");
    prog.hidden = false; prog.value = 0; $("train-go").disabled = true;
    showError("fit-error", "");
    try {
      const units = S.units;
      const job = await api("/api/train", { target: targetBody(), units, steps, seed: 0 });
      for (;;) {
        await new Promise((r) => setTimeout(r, 300));
        const st = await api(`/api/jobs/${encodeURIComponent(job.job)}`);
        prog.value = st.progress || 0;
        setStatus(`training… ${Math.round(100 * (st.progress || 0))}% (${fmt(st.seconds, 2)} s)`);
        if (st.state === "done") {
          S.trainedUnits = units; S.model = st.result.model; S.report = st.result.report; redraw(); break;
        }
        if (st.state === "failed") { showError("fit-error", st.error.error); break; }
      }
    } catch (err) {
      showError("fit-error", (err.payload && err.payload.error) || err.message);
    } finally { $("train-go").disabled = false; setStatus(""); prog.hidden = true; saveState(); }
  }

  // ------------------------------------------------------------------- export
  function download(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 5000);
  }
  async function exportAs(format) {
    if (!S.model) return;
    showError("export-error", "");
    try {
      const model = { ...S.model, domain: domain() };
      const blob = await api("/api/export", { model, format }, true);
      if (format === "pytorch") {
        $("torch-code").textContent = await blob.text();
        $("torch-dialog").showModal();
      } else download(blob, format === "onnx" ? "relusum_model.onnx" : "relusum_model.json");
    } catch (err) { showError("export-error", (err.payload && err.payload.error) || err.message); }
  }

  // --------------------------------------------------------------------- CSV
  function parseCsv(text) {
    const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    if (!lines.length) throw new Error("the CSV file is empty");
    const delim = [",", ";", "\t"].find((d) => lines[0].includes(d));
    const split = (l) => (delim ? l.split(delim) : l.split(/\s+/)).map((c) => c.trim().replace(/^"|"$/g, ""));
    let rows = lines.map(split);
    const isNum = (c) => c !== "" && isFinite(Number(c));
    if (!rows[0].every(isNum)) rows = rows.slice(1);
    if (rows.length < 2) throw new Error("the CSV file needs at least two rows of numbers");
    const x = [], y = [];
    rows.forEach((r, i) => {
      if (r.length < 2 || !isNum(r[0]) || !isNum(r[1])) {
        throw new Error(`row ${i + 1} of the data: cannot read two numbers from “${r.join(delim || " ").slice(0, 60)}”`);
      }
      x.push(Number(r[0])); y.push(Number(r[1]));
    });
    const max = S.info.limits.max_points;
    if (x.length > max) throw new Error(`the file has ${x.length.toLocaleString()} points; the limit is ${max.toLocaleString()}`);
    return { x, y };
  }
  async function loadCsvFile(file) {
    try {
      if (file.size > S.info.limits.max_body / 2) throw new Error("the CSV file is too large");
      const d = parseCsv(await file.text());
      S.data = { ...d, name: file.name };
      S.hand = false; S.challenge = false; $("challenge-info").hidden = true;
      clearTargetErrors();
      syncControls();
      await retarget();
    } catch (err) { showError("formula-error", err.message); }
  }

  // --------------------------------------------------------------------- wiring
  function wire() {
    const sel = $("preset");
    const none = document.createElement("option"); none.value = ""; none.textContent = "(your formula)";
    sel.appendChild(none);
    for (const [key, p] of Object.entries(S.info.presets)) {
      const o = document.createElement("option"); o.value = key; o.textContent = `${p.label}: ${p.formula}`;
      sel.appendChild(o);
    }
    const ms = $("method");
    for (const [key, m] of Object.entries(S.info.methods)) {
      const o = document.createElement("option"); o.value = key;
      o.textContent = m.label + (m.available ? "" : " (unavailable)");
      o.disabled = !m.available; if (!m.available) o.title = m.reason;
      ms.appendChild(o);
    }
    if (!S.info.methods.train.available) showMethodNote(S.info.methods.train.reason);
    $("exp-onnx").disabled = !S.info.onnx;
    if (!S.info.onnx) $("exp-onnx").title = "needs PyTorch: pip install 'relusum[torch]'";

    sel.addEventListener("change", () => {
      const p = S.info.presets[sel.value];
      if (!p) return;
      S.data = null; S.formula = p.formula; S.a = p.domain[0]; S.b = p.domain[1];
      if (S.hand) { S.hand = false; }
      S.challenge = false; $("challenge-info").hidden = true;
      syncControls(); retarget();
    });
    let typing = null;
    const formulaChanged = () => {
      clearTimeout(typing);
      S.formula = $("formula").value; S.a = $("dom-a").value.trim(); S.b = $("dom-b").value.trim();
      syncControls();
      retarget();
    };
    for (const id of ["formula", "dom-a", "dom-b"]) {
      $(id).addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(formulaChanged, 400); });
      $(id).addEventListener("keydown", (e) => { if (e.key === "Enter") formulaChanged(); });
    }
    const setUnits = (v, fromRange) => {
      v = Math.round(Number(v));
      if (!(v >= 1)) return;
      v = Math.min(v, 200);
      S.units = v;
      if (fromRange) $("units").value = v; else $("units-range").value = v;
      refit();
    };
    $("units-range").addEventListener("input", (e) => setUnits(e.target.value, true));
    $("units").addEventListener("change", (e) => setUnits(e.target.value, false));
    $("units").addEventListener("keydown", (e) => { if (e.key === "Enter") setUnits(e.target.value, false); });
    $("method").addEventListener("change", (e) => {
      S.method = e.target.value; syncControls();
      if (S.method === "train") { setHand(false); resweep(); saveState(); return; }
      if (S.hand) setHand(false); else { refit(); }
      resweep();
    });
    $("train-go").addEventListener("click", train);
    $("show-terms").addEventListener("change", (e) => { S.showTerms = e.target.checked; redraw(); saveState(); });
    $("hand").addEventListener("change", (e) => setHand(e.target.checked));
    $("u-h").addEventListener("input", (e) => {
      const v = Number(e.target.value), [a, b] = domain();
      if (S.selected >= 0 && isFinite(v) && v >= a && v < b) { S.model.knots[S.selected] = v; handChanged(); }
    });
    const setW = (v) => { if (S.selected >= 0 && isFinite(v)) { S.model.weights[S.selected] = v; handChanged(); } };
    $("u-w").addEventListener("input", (e) => setW(Number(e.target.value)));
    $("u-w-range").addEventListener("input", (e) => setW(Number(e.target.value)));
    $("u-bias").addEventListener("input", (e) => {
      const v = Number(e.target.value); if (isFinite(v) && e.target.value !== "") { S.model.bias = v; handChanged(); }
    });
    $("refit-weights").addEventListener("click", async () => {
      try {
        const out = await api("/api/fit", { target: targetBody(), method: "lstsq", units: S.model.knots.length,
                                           knots: S.model.knots });
        S.model = out.model; S.report = out.report; showError("fit-error", ""); handChanged();
      } catch (err) { showError("fit-error", (err.payload && err.payload.error) || err.message); }
    });
    $("challenge").addEventListener("click", startChallenge);
    $("exp-json").addEventListener("click", () => exportAs("json"));
    $("exp-torch").addEventListener("click", () => exportAs("pytorch"));
    $("exp-onnx").addEventListener("click", () => exportAs("onnx"));
    $("torch-close").addEventListener("click", () => $("torch-dialog").close());
    $("torch-copy").addEventListener("click", () => navigator.clipboard.writeText($("torch-code").textContent)
      .then(() => setStatus("copied"), () => setStatus("select the text and copy it")));
    $("torch-save").addEventListener("click", () => download(new Blob([$("torch-code").textContent],
      { type: "text/x-python" }), "relusum_model.py"));
    if (opts.share) {
      $("share").addEventListener("click", () => {
        saveStateNow();
        opts.share(S).then(() => setStatus("link copied"),
          () => setStatus("copy the address bar: it holds the whole view"));
      });
    } else $("share").hidden = true;
    $("csv-file").addEventListener("change", (e) => { if (e.target.files[0]) loadCsvFile(e.target.files[0]); e.target.value = ""; });
    $("data-clear").addEventListener("click", () => {
      S.data = null; S.formula = DEFAULT.f; S.a = DEFAULT.a; S.b = DEFAULT.b; syncControls(); retarget();
    });
    const overlay = $("drop-overlay");
    dropTarget.addEventListener("dragover", (e) => { e.preventDefault(); overlay.hidden = false; });
    dropTarget.addEventListener("dragleave", (e) => {
      if (e.target === overlay || !e.relatedTarget || !dropTarget.contains(e.relatedTarget)) overlay.hidden = true;
    });
    dropTarget.addEventListener("drop", (e) => {
      e.preventDefault(); overlay.hidden = true;
      const f = e.dataTransfer && e.dataTransfer.files[0];
      if (f) loadCsvFile(f);
    });
    $("chart").addEventListener("keydown", (e) => {
      const map = { ArrowLeft: [-0.005, 0], ArrowRight: [0.005, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
      if (e.key === "]") { selectNext(1); e.preventDefault(); }
      else if (e.key === "[") { selectNext(-1); e.preventDefault(); }
      else if (map[e.key] && S.hand) {
        const [dh, dw] = map[e.key]; nudge(dh * (e.shiftKey ? 5 : 1), dw * (e.shiftKey ? 5 : 1)); e.preventDefault();
      }
    });
    keyTarget.addEventListener("keydown", (e) => {
      const tag = (e.target.tagName || "").toLowerCase();
      if (["input", "select", "textarea"].includes(tag) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "h") { $("hand").checked = !S.hand; setHand(!S.hand); }
      else if (e.key === "t") { S.showTerms = !S.showTerms; $("show-terms").checked = S.showTerms; redraw(); saveState(); }
      else if ((e.key === "]" || e.key === "[") && e.target.id !== "chart") selectNext(e.key === "]" ? 1 : -1);
    });
  }

  async function startChallenge() {
    S.data = null; S.formula = "tanh(x)"; S.a = "-4"; S.b = "4"; S.units = 6; S.method = "lstsq";
    S.hand = false; S.challenge = true; S.selected = 0;
    syncControls();
    if (!(await loadTarget())) return;
    await refit();             // the uniform least-squares fit: max error about 0.10
    resweep();
    setHand(true);
  }

  async function start() {
    try {
      S.info = await api("/api/info");
    } catch (err) { setStatus(opts.unreachable + err.message); return; }
    wire();
    if (opts.state) opts.state.load(S);
    syncControls();
    if (!(await loadTarget())) { saveState(); return; }
    if (S.hand && S.model) { S.model.domain = S.target.domain; syncControls(); handChanged(); }
    else await refit();
    resweep();
    ready = true;
    if (opts.onReady) opts.onReady(controller);
  }

  // ------------------------------------------------------ from outside
  /** Changes made outside the page (the widget's traitlets set in Python):
   *  {formula, a, b, units, method, hand, showTerms}; unknown or equal values are ignored. */
  function apply(ch) {
    if (!ready) { Object.assign(pendingApply, ch); return; }
    const str = (v) => (v === undefined || v === null ? undefined : String(v));
    const f = str(ch.formula), a = str(ch.a), b = str(ch.b);
    let retargeted = false;
    if ((f !== undefined && f !== S.formula) || (a !== undefined && a !== S.a) ||
        (b !== undefined && b !== S.b)) {
      if (f !== undefined) S.formula = f;
      if (a !== undefined) S.a = a;
      if (b !== undefined) S.b = b;
      S.data = null; S.challenge = false; $("challenge-info").hidden = true;
      retargeted = true;
    }
    if (ch.showTerms !== undefined && !!ch.showTerms !== S.showTerms) {
      S.showTerms = !!ch.showTerms;
      syncControls(); redraw();
    }
    let refitNeeded = false;
    if (ch.method !== undefined && ch.method !== S.method && S.info.methods[ch.method] &&
        S.info.methods[ch.method].available) {
      S.method = ch.method; refitNeeded = true;
    }
    const n = Math.round(Number(ch.units));
    if (ch.units !== undefined && n >= 1 && n <= 200 && n !== S.units && !S.hand) {
      S.units = n; refitNeeded = true;
    }
    if (ch.hand !== undefined && !!ch.hand !== S.hand) {
      syncControls();
      setHand(!!ch.hand);
      if (retargeted) retarget();
      return;
    }
    syncControls();
    if (retargeted) retarget();
    else if (refitNeeded) {
      if (S.method === "train") { redraw(); resweep(); return; }
      refit();
      if (ch.method !== undefined) resweep();
    }
  }
  const pendingApply = {};

  const controller = {
    state: S,
    get chart() { return chart; },
    get errChart() { return errChart; },
    get ready() { return ready; },
    evalAt: evalModel,
    apply,
    resize,
    destroy() { window.removeEventListener("resize", onResize); clearTimeout(saveTimer); },
  };
  start().then(() => { if (Object.keys(pendingApply).length) apply(pendingApply); });
  return controller;
}
