// zkcharts: zkload's interactive charts, on uPlot (npm uplot, embedded beside this file
// by `zkload report`; doc/report.md). Our code, one namespace (window.zkcharts), no other
// global state: each function takes a DOM node and a data object, so that a live page
// (Locust's UI) can draw the same charts from the same data as report.html.
//
//   zkcharts.timeChart(node, spec, group) draws one chart of a chartSpec
//     (reports/chartjson.go): {title, y, x: "time"|"rel"|"pct", log, us, t: [x...],
//     s: [{n: name, c: colour index, d: dotted, w: worker, p: points, l: with a line,
//     v: [y or null...]}], leader: [x...], fault: [x...]}; x "level" is a load
//     controller's level (xl its label), with knee: [x...] and failed: [x...] marked;
//     hover: [text or null...] is shown under the chart for the x at the cursor. Drag to zoom, double-click to reset, hover for
//     the values (in the legend), click a legend entry to hide or show its line. The
//     charts of one group (zkcharts.group()) share their cursor and their time range.
//   zkcharts.report(document) wires report.html: sections open on demand and draw their
//     charts then, links to a closed section open it.
(function (g) {
  "use strict";
  // gonum's plotutil.SoftColors, as the static figures.
  const palette = ["#f15a60", "#7ac36a", "#5a9bd4", "#faa75b", "#9e67ab", "#ce7058", "#d77fb4", "#737373"];
  const leaderColour = "#c80000", faultColour = "#7800a0", kneeColour = "#008c00", failedColour = "#e67878";

  function colour(i) { return palette[((i % palette.length) + palette.length) % palette.length]; }

  // pctLabel names a 1/(1-q) value as a percentile: 1 "0%", 2 "50%", 100 "99%".
  function pctLabel(x) {
    const q = 100 * (1 - 1 / x);
    return (q < 0 ? 0 : +q.toPrecision(6)) + "%";
  }

  function utc(ts) { return new Date(ts * 1000).toISOString().slice(11, 23); }

  function fmt(spec) {
    if (spec.us) return v => (v == null ? "–" : v.toFixed(3)); // ms with µs precision
    return v => (v == null ? "–" : String(+v.toPrecision(6)));
  }

  // marks draws the leader moves (red dashed) and fault actions (purple) across the plot.
  function marks(spec) {
    const draw = (u, xs, style, dash) => {
      const ctx = u.ctx, top = u.bbox.top, bottom = u.bbox.top + u.bbox.height;
      ctx.save();
      ctx.strokeStyle = style;
      ctx.lineWidth = (style === kneeColour ? 2 : 1.5) * (g.devicePixelRatio || 1);
      ctx.setLineDash(dash);
      for (const x of xs || []) {
        if (x < u.scales.x.min || x > u.scales.x.max) continue;
        const px = Math.round(u.valToPos(x, "x", true));
        ctx.beginPath();
        ctx.moveTo(px, top);
        ctx.lineTo(px, bottom);
        ctx.stroke();
      }
      ctx.restore();
    };
    return {
      hooks: {
        draw: u => {
          draw(u, spec.leader, leaderColour, [6, 3]);
          draw(u, spec.fault, faultColour, []);
          draw(u, spec.failed, failedColour, [2, 3]);
          draw(u, spec.knee, kneeColour, []);
        },
      },
    };
  }

  // group returns a set of charts that share their cursor and x range (a test's time axes).
  let groups = 0;
  function group() { return { key: "zk" + ++groups, charts: [], busy: false }; }

  function timeChart(node, spec, grp) {
    const f = fmt(spec);
    const xs = spec.t.map(Number);
    const data = [xs];
    const level = spec.x === "level";
    const series = [{
      label: spec.x === "time" ? "time (UTC)" : spec.x === "rel" ? "s from start" : level ? spec.xl : "percentile",
      value: (u, v) => (v == null ? "–" : spec.x === "time" ? utc(v) : spec.x === "pct" ? pctLabel(v)
        : level ? String(+v.toPrecision(6)) : v.toFixed(3)),
    }];
    for (const s of spec.s) {
      data.push(s.v.map(v => (v == null ? null : spec.us ? v / 1000 : Number(v))));
      const ser = {
        label: s.n, stroke: colour(s.c), width: s.d ? 1 : 1.5, dash: s.d ? [2, 3] : undefined,
        spanGaps: spec.x === "pct" || level, value: (u, v) => f(v), points: { size: 4 },
      };
      if (s.p) {
        ser.points = { show: true, size: s.l ? 6 : 9, fill: colour(s.c) };
        if (!s.l) ser.paths = () => null;
      }
      series.push(ser);
    }
    const width = Math.max(300, node.clientWidth || 900);
    const opts = {
      title: spec.title, width: width, height: 260, series: series,
      scales: {
        x: { time: spec.x === "time", distr: spec.x === "pct" ? 3 : 1 },
        y: spec.log ? { distr: 3 } : { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.05 : 1] },
      },
      axes: [
        spec.x === "pct" ? { values: (u, vals) => vals.map(v => (v == null ? "" : pctLabel(v))) }
          : spec.x === "time" ? { space: 80, values: (u, vals, ai, space, incr) => vals.map(v => utc(v).slice(0, incr < 1 ? 12 : 8)) }
          : level ? { label: spec.xl }
          : { label: "seconds from start" },
        { label: spec.y, size: 60 },
      ],
      tzDate: ts => new Date((ts + new Date(ts * 1000).getTimezoneOffset() * 60) * 1000), // UTC
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      plugins: [marks(spec)],
    };
    opts.hooks = {};
    let hover = null;
    if (spec.hover) {
      hover = document.createElement("div");
      hover.className = "zk-hover";
      opts.hooks.setCursor = [u => {
        const i = u.cursor.idx;
        hover.textContent = i == null || spec.hover[i] == null ? "\u00a0" : spec.hover[i];
      }];
    }
    if (spec.x === "time" && grp) {
      opts.cursor.sync = { key: grp.key };
      Object.assign(opts.hooks, {
        setScale: [(u, key) => {
          if (key !== "x" || grp.busy) return;
          grp.busy = true;
          for (const o of grp.charts) {
            if (o !== u) o.setScale("x", { min: u.scales.x.min, max: u.scales.x.max });
          }
          grp.busy = false;
        }],
      });
    }
    node.textContent = "";
    const u = new g.uPlot(opts, data, node);
    if (spec.x === "time" && grp) grp.charts.push(u);
    if (hover) {
      hover.textContent = "\u00a0";
      node.appendChild(hover);
    }
    if (spec.leader || spec.fault || spec.knee || spec.failed) {
      const key = document.createElement("div");
      key.className = "zk-marks";
      if (spec.leader) key.innerHTML += '<span class="zk-leader"></span> leader move ';
      if (spec.fault) key.innerHTML += '<span class="zk-fault"></span> fault ';
      if (spec.knee) key.innerHTML += '<span class="zk-knee"></span> knee (capacity) ';
      if (spec.failed) key.innerHTML += '<span class="zk-failed"></span> level failed';
      node.appendChild(key);
    }
    node._zkchart = u;
    node._zkspec = spec;
    return u;
  }

  // drawGroup draws the charts of a section (a details element with a
  // script element of class zk-data holding its chartSpecs as JSON) once.
  function drawGroup(el) {
    if (el._zkdrawn) return;
    el._zkdrawn = true;
    const script = el.querySelector(":scope > script.zk-data");
    if (!script) return;
    const grp = group();
    for (const spec of JSON.parse(script.textContent)) {
      const node = el.querySelector('[data-chart="' + spec.id + '"]');
      if (node) timeChart(node, spec, grp);
    }
  }

  // reveal opens every details element around (and at) the target of a link.
  function reveal(doc, hash) {
    let el = hash && hash.length > 1 ? doc.getElementById(decodeURIComponent(hash.slice(1))) : null;
    if (!el) return false;
    const target = el;
    for (; el; el = el.parentElement) {
      if (el.tagName === "DETAILS" && !el.open) el.open = true;
    }
    target.scrollIntoView();
    return true;
  }

  function report(doc) {
    for (const d of doc.querySelectorAll("details.zk-group")) {
      d.addEventListener("toggle", () => { if (d.open) drawGroup(d); });
      if (d.open) drawGroup(d);
    }
    doc.addEventListener("click", e => {
      const a = e.target.closest && e.target.closest('a[href^="#"]');
      if (a && reveal(doc, a.getAttribute("href"))) {
        e.preventDefault();
        history.replaceState(null, "", a.getAttribute("href"));
      }
    });
    if (doc.location && doc.location.hash) reveal(doc, doc.location.hash);
    g.addEventListener("resize", () => {
      for (const n of doc.querySelectorAll("[data-chart]")) {
        if (n._zkchart) n._zkchart.setSize({ width: Math.max(300, n.clientWidth), height: 260 });
      }
    });
  }

  g.zkcharts = { timeChart: timeChart, group: group, drawGroup: drawGroup, report: report, pctLabel: pctLabel };
})(window);
