// slod's pages: charts drawn as inline SVG from the chart data the page carries (a
// <script type="application/json"> in the shape of /api/v1/slos/{service}/{name}/history),
// automatic refresh, and the silences form. Hand-written, no dependencies, nothing fetched but
// slod's own pages and API: the same file runs inside the self-contained report of slod check.
"use strict";
(function () {
  var SVGNS = "http://www.w3.org/2000/svg";
  // W is set from each chart's width before it is drawn, so that one unit is one pixel.
  var W = 900, H = 240, M = { l: 58, r: 132, t: 12, b: 26 };
  var COLORS = ["#1565c0", "#00897b", "#8e24aa", "#ef6c00", "#5d4037", "#3949ab"];
  var SEV = { page: "#c62828", ticket: "#e65100" };

  // charts registers every chart drawn: what tests and scripts can read back.
  window.slodCharts = [];

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVGNS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function fmtTime(ms, withDate) {
    var d = new Date(ms), p = function (n) { return (n < 10 ? "0" : "") + n; };
    var hm = p(d.getUTCHours()) + ":" + p(d.getUTCMinutes());
    return withDate ? p(d.getUTCMonth() + 1) + "-" + p(d.getUTCDate()) + " " + hm : hm;
  }

  function fmtNum(v) {
    if (v === null || v === undefined) return "no data";
    var a = Math.abs(v);
    if (a === 0) return "0";
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    if (a >= 1) return v.toFixed(2);
    return v.toPrecision(2);
  }

  // ticks returns tick times (ms) for [a, b]: a step from the list giving at most 8 ticks.
  function timeTicks(a, b) {
    var min = 60e3, steps = [1, 5, 10, 30, 60, 180, 360, 720, 1440, 2880, 10080].map(function (m) { return m * min; });
    var step = steps[steps.length - 1];
    for (var i = 0; i < steps.length; i++) if ((b - a) / steps[i] <= 8) { step = steps[i]; break; }
    var out = [];
    for (var t = Math.ceil(a / step) * step; t <= b; t += step) out.push(t);
    return out;
  }

  function linearTicks(lo, hi) {
    var span = hi - lo || 1, raw = span / 5, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; }).filter(function (s) { return span / s <= 6; })[0] || 10 * mag;
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(+v.toFixed(10));
    return out;
  }

  // scale maps the chart's data to the plot area.
  function makeScale(h, y) {
    var x0 = Date.parse(h.from), x1 = Date.parse(h.to);
    if (!(x1 > x0)) x1 = x0 + 1;
    var pw = W - M.l - M.r, ph = H - M.t - M.b;
    var yf = y.log
      ? function (v) { var l0 = Math.log10(y.min), l1 = Math.log10(y.max); return M.t + ph - (Math.log10(Math.max(v, y.min)) - l0) / (l1 - l0) * ph; }
      : function (v) { return M.t + ph - (v - y.min) / (y.max - y.min) * ph; };
    return {
      x0: x0, x1: x1,
      x: function (t) { return M.l + (t - x0) / (x1 - x0) * pw; },
      y: yf,
      t: function (px) { return x0 + (px - M.l) / pw * (x1 - x0); }
    };
  }

  function drawAxes(svg, s, y, h) {
    var g = el("g", { "class": "axis" }, svg), grid = el("g", { "class": "grid" }, svg);
    var span = s.x1 - s.x0, ticks = timeTicks(s.x0, s.x1);
    ticks.forEach(function (t) {
      var x = s.x(t);
      el("line", { x1: x, x2: x, y1: M.t, y2: H - M.b }, grid);
      el("text", { x: x, y: H - M.b + 16, "text-anchor": "middle" }, g).textContent = fmtTime(t, span > 36e5 * 20 || t % 864e5 === 0);
    });
    var yt = y.log ? y.logTicks : linearTicks(y.min, y.max);
    yt.forEach(function (v) {
      var py = s.y(v);
      el("line", { x1: M.l, x2: W - M.r, y1: py, y2: py }, grid);
      el("text", { x: M.l - 6, y: py + 4, "text-anchor": "end" }, g).textContent = y.fmt(v);
    });
    el("text", { x: W - M.r, y: H - 2, "text-anchor": "end" }, g).textContent = "UTC";
    void h;
  }

  // bands shades the exclusions and the alert intervals by severity, marks silences along the top,
  // and hatches the intervals without data.
  function drawBands(svg, s, h) {
    var ph = H - M.t - M.b;
    var defs = el("defs", {}, svg), pat = el("pattern", { id: "slod-hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, defs);
    el("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#9aa5b1", "stroke-width": 2 }, pat);
    var t = h.t || [], data = h.data || [];
    for (var i = 0; i < t.length; i++) {
      if (data[i]) continue;
      var j = i;
      while (j + 1 < t.length && !data[j + 1]) j++;
      var a = i > 0 ? t[i - 1] * 1000 : Math.max(s.x0, t[i] * 1000 - 60e3), b = t[j] * 1000;
      var r = el("rect", { "class": "gap", x: s.x(a), y: M.t, width: Math.max(s.x(b) - s.x(a), 1), height: ph }, svg);
      el("title", {}, r).textContent = "no data " + fmtTime(a, true) + " – " + fmtTime(b, true);
      i = j;
    }
    (h.exclusions || []).forEach(function (ex) {
      var a = Math.max(Date.parse(ex.start), s.x0), b = Math.min(Date.parse(ex.end), s.x1);
      if (b <= a) return;
      var r = el("rect", { "class": "band excluded", x: s.x(a), y: M.t, width: Math.max(s.x(b) - s.x(a), 2), height: ph, "data-start": ex.start }, svg);
      el("title", {}, r).textContent = "excluded (" + ex.label + ") " + fmtTime(Date.parse(ex.start), true) + " – " + fmtTime(Date.parse(ex.end), true) + ": no events count, no alert rises";
    });
    (h.alerts || []).forEach(function (al) {
      var a = Math.max(Date.parse(al.start), s.x0), b = al.end ? Date.parse(al.end) : s.x1;
      if (b < s.x0 || a > s.x1) return;
      var cls = al.no_data ? "nodata" : (al.severity === "page" ? "page" : "ticket") + (al.budget ? " budget" : "");
      // A budget alert lasts days: a strip along the bottom, not a band over the whole chart.
      var y = al.budget ? M.t + ph - 5 : M.t, bh = al.budget ? 5 : ph;
      var r = el("rect", { "class": "band " + cls, x: s.x(a), y: y, width: Math.max(s.x(Math.min(b, s.x1)) - s.x(a), 2), height: bh,
        "data-severity": al.severity, "data-start": al.start }, svg);
      el("title", {}, r).textContent = (al.label || al.severity) + " firing " + fmtTime(Date.parse(al.start), true) + " – " + (al.end ? fmtTime(Date.parse(al.end), true) : "now");
    });
    (h.silences || []).forEach(function (si) {
      var a = Math.max(Date.parse(si.start), s.x0), b = Math.min(Date.parse(si.end), s.x1);
      if (b <= a) return;
      var r = el("rect", { "class": "band silence", x: s.x(a), y: M.t - 6, width: Math.max(s.x(b) - s.x(a), 2), height: 4 }, svg);
      el("title", {}, r).textContent = "silenced by " + si.label + " " + fmtTime(Date.parse(si.start), true) + " – " + fmtTime(Date.parse(si.end), true);
    });
  }

  // drawSeries draws one series as a path that breaks where a value is null or its interval had no
  // data, with a marker at its last point carrying the point's time and value.
  function drawSeries(svg, s, h, ser, idx) {
    var t = h.t || [], data = h.data || [], d = "", area = "", n = 0, last = -1, pen = false, px = 0;
    var base = ser.area ? s.y(0).toFixed(1) : 0;
    for (var i = 0; i < t.length; i++) {
      var v = ser.values[i];
      if (v === null || v === undefined || !data[i]) {
        if (pen && ser.area) area += "L" + px + " " + base + "Z";
        pen = false;
        continue;
      }
      var x = s.x(t[i] * 1000).toFixed(1), y = s.y(v).toFixed(1);
      d += (pen ? "L" : "M") + x + " " + y;
      if (ser.area) area += (pen ? "" : "M" + x + " " + base) + "L" + x + " " + y;
      pen = true; n++; last = i; px = x;
    }
    if (pen && ser.area) area += "L" + px + " " + base + "Z";
    var color = ser.color || COLORS[idx % COLORS.length];
    if (area) el("path", { "class": "area", d: area, fill: color }, svg);
    var p = el("path", { "class": "series", d: d || "M0 0", stroke: color, "data-series": ser.name, "data-points": n }, svg);
    if (ser.dash) p.setAttribute("stroke-dasharray", ser.dash);
    if (last >= 0) {
      el("circle", { "class": "last", cx: s.x(t[last] * 1000), cy: s.y(ser.values[last]), r: 3.5, fill: color,
        "data-series": ser.name, "data-t": t[last], "data-v": ser.values[last] }, svg);
    }
    return n;
  }

  function drawThresholds(svg, s, y, ths) {
    ths.forEach(function (th) {
      if (th.v < y.min || th.v > y.max) return;
      var py = s.y(th.v);
      el("line", { "class": "threshold", x1: M.l, x2: W - M.r, y1: py, y2: py, stroke: th.color, "data-threshold": th.v }, svg);
      el("text", { x: W - M.r + 4, y: py + 4, fill: th.color, "font-size": 11 }, svg).textContent = th.label;
    });
  }

  function legend(fig, items) {
    var div = document.createElement("div");
    div.className = "legend";
    items.forEach(function (it) {
      var span = document.createElement("span"), sw = document.createElement("i");
      sw.style.background = it.color;
      span.appendChild(sw);
      span.appendChild(document.createTextNode(it.label));
      div.appendChild(span);
    });
    fig.appendChild(div);
  }

  function tooltip(fig, svg, s, h, series, fmt) {
    var tip = document.createElement("div"), cursor = el("line", { "class": "cursor", y1: M.t, y2: H - M.b, visibility: "hidden" }, svg);
    tip.className = "tip";
    fig.appendChild(tip);
    var t = h.t || [];
    svg.addEventListener("mousemove", function (ev) {
      var box = svg.getBoundingClientRect(), px = (ev.clientX - box.left) / box.width * W;
      var ms = s.t(px), lo = 0, hi = t.length - 1;
      if (hi < 0 || px < M.l || px > W - M.r) { tip.style.display = "none"; cursor.setAttribute("visibility", "hidden"); return; }
      while (lo < hi) { var mid = (lo + hi) >> 1; if (t[mid] * 1000 < ms) lo = mid + 1; else hi = mid; }
      var x = s.x(t[lo] * 1000), lines = [fmtTime(t[lo] * 1000, true) + " UTC"];
      series.forEach(function (ser) { lines.push(ser.label + ": " + (h.data && !h.data[lo] ? "no data" : fmt(ser.values[lo]))); });
      tip.textContent = lines.join("\n");
      tip.style.display = "block";
      tip.style.left = Math.min(ev.clientX - fig.getBoundingClientRect().left + 12, fig.clientWidth - 180) + "px";
      tip.style.top = (ev.clientY - fig.getBoundingClientRect().top + 12) + "px";
      cursor.setAttribute("x1", x); cursor.setAttribute("x2", x); cursor.setAttribute("visibility", "visible");
    });
    svg.addEventListener("mouseleave", function () { tip.style.display = "none"; cursor.setAttribute("visibility", "hidden"); });
  }

  function pct(v) { return v === null || v === undefined ? null : v * 100; }

  // budgetChart draws the error budget in percent: the burndown of the current window (the
  // status page) or the budget remaining at each evaluation (the check report).
  function budgetChart(fig, svg, h) {
    var vals = (h.budget || []).map(pct), lo = 0, hi = 100;
    vals.forEach(function (v) { if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    var y = { min: lo, max: hi, fmt: function (v) { return fmtNum(v) + "%"; } };
    var s = makeScale(h, y);
    drawAxes(svg, s, y, h);
    drawBands(svg, s, h);
    if (lo < 0) el("line", { "class": "zero", x1: M.l, x2: W - M.r, y1: s.y(0), y2: s.y(0) }, svg);
    var ser = { name: "budget", label: "budget remaining", values: vals, color: "#2e7d32", area: true };
    var n = drawSeries(svg, s, h, ser, 0);
    legend(fig, [{ color: ser.color, label: ser.label }]);
    tooltip(fig, svg, s, h, [ser], function (v) { return fmtNum(v) + "%"; });
    return { points: n, series: [ser] };
  }

  // burnChart draws the burn rate over each window pair's long window, log scale, with a
  // threshold line per pair.
  function burnChart(fig, svg, h) {
    var series = (h.burn || []).map(function (b, i) { return { name: b.window, label: b.window + " burn rate", values: b.values, color: COLORS[i % COLORS.length] }; });
    var colorOf = {};
    series.forEach(function (s) { colorOf[s.name] = s.color; });
    var hi = 10;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null && v > hi) hi = v; }); });
    var ths = (h.pairs || []).map(function (p) {
      hi = Math.max(hi, p.burn_rate * 2);
      return { v: p.burn_rate, color: colorOf[p.long] || SEV[p.severity] || "#555", label: p.severity + " " + p.long + "/" + p.short + " " + fmtNum(p.burn_rate) + "×" };
    });
    var max = Math.pow(10, Math.ceil(Math.log10(hi))), ticks = [];
    for (var v = 0.01; v <= max * 1.0001; v *= 10) ticks.push(+v.toPrecision(1));
    var y = { log: true, min: 0.01, max: max, logTicks: ticks, fmt: function (v) { return fmtNum(v) + "×"; } };
    var s = makeScale(h, y);
    drawAxes(svg, s, y, h);
    drawBands(svg, s, h);
    var n = 0;
    series.forEach(function (ser, i) { n += drawSeries(svg, s, h, ser, i); });
    drawThresholds(svg, s, y, ths);
    legend(fig, series.map(function (s) { return { color: s.color, label: s.label }; }));
    tooltip(fig, svg, s, h, series, function (v) { return fmtNum(v) + "×"; });
    return { points: n, series: series };
  }

  function drawCharts(root) {
    var figs = root.querySelectorAll("figure.chart[data-source]");
    for (var i = 0; i < figs.length; i++) {
      var fig = figs[i], src = document.getElementById(fig.getAttribute("data-source"));
      if (!src) continue;
      var h = JSON.parse(src.textContent);
      var old = fig.querySelectorAll("svg, .legend, .tip");
      for (var j = 0; j < old.length; j++) old[j].remove();
      W = Math.max(480, Math.round(fig.clientWidth - 16));
      var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img" });
      fig.appendChild(svg);
      var kind = fig.getAttribute("data-kind");
      var r = kind === "burn" ? burnChart(fig, svg, h) : budgetChart(fig, svg, h);
      fig.setAttribute("data-points", r.points);
      window.slodCharts = window.slodCharts.filter(function (c) { return c.id !== fig.id; });
      window.slodCharts.push({ id: fig.id, kind: kind, points: r.points, series: r.series.map(function (x) { return x.name; }) });
    }
  }

  // Automatic refresh: the page is fetched again and its main part replaced, so filters, scroll
  // position and open details stay; ?refresh=0 turns it off.
  function setupRefresh() {
    var every = +document.body.getAttribute("data-refresh");
    var ctl = document.getElementById("refresh");
    if (!ctl) return;
    var params = new URLSearchParams(location.search);
    var on = every > 0, timer = null;
    var label = ctl.querySelector("span"), btn = ctl.querySelector("button");
    function show() { label.textContent = on ? "refreshing every " + every + "s" : "refresh paused"; btn.textContent = on ? "pause" : "resume"; }
    function schedule() { clearTimeout(timer); if (on) timer = setTimeout(refresh, every * 1000); }
    function refresh() {
      if (document.hidden) { schedule(); return; }
      fetch(location.href, { cache: "no-store", credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error(r.status + " " + r.statusText);
        return r.text();
      }).then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.querySelector("main"), cur = document.querySelector("main");
        if (fresh && cur) { cur.innerHTML = fresh.innerHTML; init(cur); }
        ctl.removeAttribute("title");
      }).catch(function (e) { ctl.setAttribute("title", "last refresh failed: " + e.message); label.textContent = "refresh failed, retrying"; })
        .then(schedule);
    }
    btn.addEventListener("click", function () {
      on = !on;
      if (on) params.delete("refresh"); else params.set("refresh", "0");
      var q = params.toString(), url = location.pathname + (q ? "?" + q : "");
      // Resuming loads the page again: slod says how often it evaluates.
      if (on) { location.replace(url); return; }
      history.replaceState(null, "", url);
      show(); schedule();
    });
    show(); schedule();
  }

  // The silences page: create through POST api/v1/silences, expire through DELETE.
  function api(method, path, body) {
    var opt = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) { opt.headers["Content-Type"] = "application/json"; opt.body = JSON.stringify(body); }
    return fetch(path, opt).then(function (r) {
      return r.json().catch(function () { return { status: "error", error: r.status + " " + r.statusText }; });
    });
  }

  var DUR = { m: 60e3, h: 36e5, d: 864e5, w: 6048e5 }, loaded = Date.now();
  // endOf is the end the form asks for: its time (UTC), or its duration from slod's own time when
  // the page was served (data-now) plus the time since, whatever the browser's clock says.
  function endOf(form) {
    var at = form.elements.endsAt.value;
    if (at) return new Date(at + (at.length === 16 ? ":00Z" : "Z"));
    var m = /^(\d+)([mhdw])$/.exec(form.elements.duration.value.trim());
    if (!m) throw new Error("duration must be a number and m, h, d or w (2h, 1d)");
    var now = Date.parse(form.getAttribute("data-now")) || loaded;
    return new Date(now + (Date.now() - loaded) + (+m[1]) * DUR[m[2]]);
  }

  function setupSilences(root) {
    var form = root.querySelector("form.silence");
    if (form) {
      var add = form.querySelector("button.add-matcher");
      add.addEventListener("click", function () {
        var rows = form.querySelectorAll(".matcher"), row = rows[rows.length - 1].cloneNode(true);
        row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
        row.querySelector("select").value = "=";
        form.querySelector(".matchers").appendChild(row);
      });
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var out = form.querySelector(".result"), body;
        try {
          var matchers = [];
          form.querySelectorAll(".matcher").forEach(function (row) {
            var name = row.querySelector("[name=m-name]").value.trim(), op = row.querySelector("select").value;
            if (!name) return;
            matchers.push({ name: name, value: row.querySelector("[name=m-value]").value, isRegex: op.indexOf("~") >= 0, isEqual: op[0] !== "!" });
          });
          body = { matchers: matchers, endsAt: endOf(form).toISOString(), createdBy: form.elements.createdBy.value, comment: form.elements.comment.value };
        } catch (e) { out.className = "result error-text"; out.textContent = e.message; return; }
        api("POST", "api/v1/silences", body).then(function (r) {
          if (r.status !== "success") {
            out.className = "result error-text";
            out.textContent = r.error + (r.fields ? ": " + r.fields.map(function (f) { return f.field + ": " + f.message; }).join("; ") : "");
            return;
          }
          location.href = "silences?created=" + encodeURIComponent(r.data.silenceID);
        });
      });
    }
    root.querySelectorAll("button[data-expire]").forEach(function (b) {
      b.addEventListener("click", function () {
        if (!confirm("Expire silence " + b.getAttribute("data-expire") + " now?")) return;
        api("DELETE", "api/v1/silences/" + encodeURIComponent(b.getAttribute("data-expire"))).then(function (r) {
          if (r.status !== "success") { alert(r.error); return; }
          location.reload();
        });
      });
    });
  }

  function init(root) {
    drawCharts(root);
    setupSilences(root);
  }

  var resized = null;
  window.addEventListener("resize", function () {
    clearTimeout(resized);
    resized = setTimeout(function () { drawCharts(document); }, 200);
  });

  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    setupRefresh();
    // When the page was ready, laid out, in ms since navigation started: the benchmarks read it.
    void document.body.offsetHeight;
    window.slodReadyMs = performance.now();
    document.body.setAttribute("data-ready", "1");
  });
})();
