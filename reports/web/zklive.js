// zklive: the zkload page of a Locust master's web UI (the generated locustfile serves it
// at /zkload; doc/live.md). It polls the master's /zkload/fleet.json every second for the
// hub's fleet views (every number is computed in Go, on the hub: the percentiles are the
// workers' histograms merged, not averages) and shows the last view's operations,
// workers and ensemble members as tables, the controller's last decision, the fault
// actions, and (with uPlot and zkcharts.js beside it) the views kept as charts. Without
// the chart library it keeps the tables and says so in one line.
(function (g) {
  "use strict";
  const doc = g.document;
  const keep = 300; // views charted: the last 5 minutes
  const maxOpCharts = 8;
  const state = { views: [], end: 0, requests: 0, polls: 0, faults: 0 };
  const charts = {};

  function h(tag, attrs, text) {
    const e = doc.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v != null) e.setAttribute(k, v);
    }
    if (text != null) e.textContent = text;
    return e;
  }
  function utc(ts) { return new Date(ts * 1000).toISOString().slice(11, 19); }
  function num(v, digits) {
    if (v == null || Number.isNaN(v)) return "–";
    return digits ? Number(v).toFixed(digits) : String(Math.round(v));
  }
  function opKey(o) { return (o.method ? o.method + " " : "") + o.name; }

  // table fills a table's body: rows of [key, [[column, raw value, shown text]...]].
  function table(id, rows) {
    const body = doc.querySelector("#" + id + " tbody");
    body.textContent = "";
    for (const [key, cells, cls] of rows) {
      const tr = h("tr", { "data-key": key, class: cls });
      for (const [k, v, text] of cells) tr.appendChild(h("td", { "data-k": k, "data-v": v == null ? "" : String(v) }, text));
      body.appendChild(tr);
    }
  }

  function showView(v, hub) {
    const st = doc.getElementById("zk-status");
    st.setAttribute("data-end", String(v.end));
    st.textContent = "Window ending " + utc(v.end) + " UTC: " + (v.workers || []).length + " of " + v.expected +
      " workers reporting, " + v.users + " users" + (v.offered ? ", offered " + num(v.offered, 1) + "/s" : "") +
      (v.lag_ms ? ", schedule lag up to " + num(v.lag_ms, 1) + " ms" : "") + (hub ? "; hub " + hub : "");
    const ops = (v.ops || []).map(o => [opKey(o), [
      ["method", o.method, o.method], ["name", o.name, o.name],
      ["rps", o.rps, o.value ? "" : num(o.rps, 1)], ["fps", o.fps, o.value ? "" : num(o.fps, 1)],
      ["p50_us", o.p50_us, num(o.p50_us)], ["p99_us", o.p99_us, num(o.p99_us)],
      ["p999_us", o.p999_us, num(o.p999_us)], ["max_us", o.max_us, num(o.max_us)],
    ], o.value ? "zk-value" : o.name === "Total" && !o.method ? "zk-total" : null]);
    table("zk-ops", ops);
    table("zk-workers", (v.workers || []).slice().sort((a, b) => a.index - b.index).map(w => [w.node, [
      ["index", w.index, String(w.index)], ["node", w.node, w.node], ["users", w.users, String(w.users)],
      ["offered", w.offered, w.offered ? num(w.offered, 1) : "–"], ["rps", w.rps, num(w.rps, 1)], ["fps", w.fps, num(w.fps, 1)],
    ]]));
    const metric = (m, k, d) => [k, m.metrics ? m.metrics[k] : null, num(m.metrics ? m.metrics[k] : null, d)];
    table("zk-members", (v.members || []).map(m => {
      const role = m.up ? (m.state || "up") : "down";
      return [m.host_port, [["host_port", m.host_port, m.host_port], ["role", role, role],
        metric(m, "outstanding_requests"), metric(m, "num_alive_connections"), metric(m, "avg_latency", 1),
        metric(m, "max_latency"), metric(m, "znode_count"), metric(m, "watch_count")], "zk-role-" + role];
    }));
    doc.getElementById("zk-members-none").hidden = (v.members || []).length > 0;
  }

  function showDecision(d) {
    const e = doc.getElementById("zk-decision");
    if (!d) { e.textContent = "No load controller in this test (or no decision yet)."; return; }
    const what = d.rate != null ? "offered rate " + num(d.rate, 1) + "/s" : d.users != null ? d.users + " users" : "";
    e.textContent = "Load controller" + (d.unit ? " (" + d.unit + ")" : "") + ": " + what +
      (d.reason ? ": " + d.reason : "") + (d.verdict ? "; verdict: " + d.verdict : "") + (d.done ? " (done)" : "");
  }

  function showFaults(fs) {
    if (!fs || fs.length === 0) return;
    doc.getElementById("zk-faults-none").hidden = true;
    // The faults timeline's columns in its order (zkload/dispatch.go's faultMessage), then any other.
    const cols = ["time", "action", "member", "address", "role_before", "leader_before", "leader_after",
      "took_ms", "election_ms", "first_write_ms", "note"];
    for (const f of fs) for (const k of Object.keys(f)) if (!cols.includes(k)) cols.push(k);
    const head = doc.querySelector("#zk-faults thead tr");
    head.textContent = "";
    for (const c of cols) head.appendChild(h("th", null, c));
    const text = (c, v) => v == null ? "" : c === "time" && typeof v === "number" ? new Date(v * 1000).toISOString().slice(11, 23) : String(v);
    table("zk-faults", fs.slice().reverse().map((f, i) => [String(i), cols.map(c => [c, f[c], text(c, f[c])])]));
  }

  // chart draws or updates one time chart (zkcharts.timeChart's spec) in a node of its own.
  function chart(key, title, y, series, log) {
    let c = charts[key];
    const sig = series.map(s => s.n).join("\n");
    const xs = state.views.map(v => v.end);
    if (!c) {
      const node = h("div", { "data-chart": key });
      doc.getElementById("zk-charts").appendChild(node);
      c = charts[key] = { node: node, sig: null };
    }
    if (c.sig !== sig) {
      c.sig = sig;
      c.u = g.zkcharts.timeChart(c.node, { title: title, y: y, x: "time", log: log, t: xs, s: series });
    } else {
      c.u.setData([xs, ...series.map(s => s.v)]);
    }
  }

  function drawCharts() {
    const vs = state.views;
    const ops = new Map();
    for (const v of vs) for (const o of v.ops || []) if (!o.value && !(o.name === "Total" && !o.method)) ops.set(opKey(o), (ops.get(opKey(o)) || 0) + o.requests);
    const top = [...ops.entries()].sort((a, b) => b[1] - a[1]).slice(0, maxOpCharts).map(e => e[0]).sort();
    const find = (v, k) => (v.ops || []).find(o => opKey(o) === k);
    chart("rate", "Requests and failures per second", "per s", [
      ...top.map((k, i) => ({ n: k, c: i, v: vs.map(v => { const o = find(v, k); return o ? o.rps : null; }) })),
      { n: "failures (all)", c: top.length, d: true, v: vs.map(v => { const o = find(v, "Total"); return o ? o.fps : null; }) },
    ]);
    chart("users", "Users and offered rate", "users, ops/s", [
      { n: "users", c: 2, v: vs.map(v => v.users) },
      { n: "offered/s", c: 3, v: vs.map(v => v.offered || null) },
    ]);
    top.forEach((k, i) => {
      const col = f => vs.map(v => { const o = find(v, k); return o && o[f] != null ? o[f] : null; });
      chart("lat-" + k, "Latency per window (µs, all workers merged): " + k, "µs", [
        { n: "p50", c: 2, v: col("p50_us") }, { n: "p99", c: 0, v: col("p99_us") },
        { n: "p99.9", c: 4, v: col("p999_us") }, { n: "max", c: 7, d: true, v: col("max_us") },
      ], true);
    });
    const members = new Set();
    for (const v of vs) for (const m of v.members || []) members.add(m.host_port);
    const ms = [...members].sort();
    const mcol = (hp, k) => vs.map(v => { const m = (v.members || []).find(x => x.host_port === hp); return m && m.up && m.metrics ? (m.metrics[k] ?? null) : null; });
    if (ms.length) {
      chart("outstanding", "Ensemble: outstanding requests", "requests", ms.map((hp, i) => ({ n: hp, c: i, v: mcol(hp, "outstanding_requests") })));
      chart("zklatency", "Ensemble: average latency (ZooKeeper's, ms)", "ms", ms.map((hp, i) => ({ n: hp, c: i, v: mcol(hp, "avg_latency") })));
    }
  }

  async function poll() {
    try {
      const r = await g.fetch("./zkload/fleet.json?last=" + keep + "&since=" + state.end, { cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const d = await r.json();
      state.polls++;
      const fresh = (d.views || []).filter(v => v.end > state.end);
      for (const v of fresh) {
        for (const o of v.ops || []) if (o.name === "Total" && !o.method) state.requests += o.requests;
      }
      state.views = state.views.concat(fresh).slice(-keep);
      if (fresh.length) state.end = fresh[fresh.length - 1].end;
      const last = state.views[state.views.length - 1];
      if (last) showView(last, d.hub);
      const tot = doc.getElementById("zk-requests");
      tot.setAttribute("data-v", String(state.requests));
      tot.textContent = state.views.length ? state.requests + " requests in the " + state.views.length + " windows shown" : "";
      showDecision(d.decision);
      showFaults(d.faults);
      doc.getElementById("zk-error").textContent = "";
      if (fresh.length && g.zkcharts && typeof g.uPlot === "function") drawCharts();
    } catch (e) {
      doc.getElementById("zk-error").textContent = "Cannot read the master's /zkload/fleet.json: " + e.message;
    }
    g.setTimeout(poll, 1000);
  }

  g.zklive = { start: poll, state: state };
})(window);
