// check.mjs REPORT_HTML TEST_ID [SHOT_DIR]: opens a zkload report in headless Chromium
// (Debian's /usr/bin/chromium, or $CHROMIUM) through the DevTools protocol
// (puppeteer-core), as a person would: follows the table of contents to the test whose
// section is TEST_ID, hovers a point of its first latency chart and reads the value the
// legend shows, zooms that chart by dragging, and prints what it saw as JSON for the Go
// test (zkload's TestSuiteReport) to check: console errors, requests that left the file,
// the hovered value with its worker and window, the x ranges before and after the zoom.
// With SHOT_DIR it takes screenshots of the overview and the test (overview.png,
// test.png).
import puppeteer from "puppeteer-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [report, testID, shotDir] = process.argv.slice(2);
if (!report || !testID) {
  console.error("usage: node check.mjs REPORT_HTML TEST_ID [SHOT_DIR]");
  process.exit(2);
}
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "zkload-chromium-"));
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  userDataDir: profile,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
const out = { errors: [], outside: [], requests: 0 };
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  await page.emulateTimezone("UTC");
  await page.setRequestInterception(true);
  page.on("request", r => {
    out.requests++;
    const u = r.url();
    if (u.startsWith("file:") || u.startsWith("data:")) return r.continue();
    out.outside.push(u);
    r.abort();
  });
  page.on("console", m => { if (m.type() === "error") out.errors.push(m.text()); });
  page.on("pageerror", e => out.errors.push(String(e)));
  const t0 = Date.now();
  await page.goto("file://" + path.resolve(report), { waitUntil: "load" });
  out.load_ms = Date.now() - t0;
  out.interactive = await page.evaluate(() => typeof window.uPlot === "function");
  if (shotDir) await page.screenshot({ path: path.join(shotDir, "overview.png") });

  // The table of contents to the test: its section opens and draws its charts.
  await page.click(`nav#toc a[href="#${testID}"]`);
  await page.waitForFunction(id => {
    const d = document.getElementById(id);
    return d && d.open && [...d.querySelectorAll("[data-chart]")].some(n => n._zkchart);
  }, { timeout: 10000 }, testID);
  out.opened = true;

  // The first latency chart of an operation, a point in its middle: prefer a
  // worker's own p99 (its extended-statistics CSV's), else the p99.
  const target = await page.evaluate(id => {
    const nodes = [...document.getElementById(id).querySelectorAll("[data-chart]")];
    const node = nodes.find(n => n._zkspec && n._zkspec.title.startsWith("Latency percentiles per window: task set"));
    if (!node) return null;
    node.scrollIntoView({ block: "center" });
    const u = node._zkchart, spec = node._zkspec;
    let si = spec.s.findIndex(s => s.w);
    if (si < 0) si = spec.s.findIndex(s => s.n === "p99");
    const vals = u.data[si + 1];
    const idxs = vals.map((v, i) => (v == null ? -1 : i)).filter(i => i >= 0);
    const i = idxs[Math.floor(idxs.length / 2)];
    const r = u.over.getBoundingClientRect();
    return {
      chart: spec.id, series: spec.s[si].n, worker: spec.s[si].w || "", op_title: spec.title,
      index: i, x: Number(spec.t[i]), us: spec.s[si].v[i],
      px: r.left + u.valToPos(u.data[0][i], "x"), py: r.top + u.valToPos(vals[i], "y"),
      slots: spec.t.map(Number),
    };
  }, testID);
  if (!target) throw new Error("no latency chart of an operation in " + testID);
  await page.mouse.move(target.px, target.py);
  await new Promise(r => setTimeout(r, 200));
  Object.assign(target, await page.evaluate((chart, series) => {
    const node = document.querySelector(`[data-chart="${chart}"]`);
    const u = node._zkchart;
    const rows = [...u.root.querySelectorAll(".u-legend .u-series")];
    const row = rows.find(r => r.querySelector(".u-label") && r.querySelector(".u-label").textContent === series);
    return { shown: row ? row.querySelector(".u-value").textContent : null, cursor_idx: u.cursor.idx,
      shown_x: rows[0].querySelector(".u-value").textContent };
  }, target.chart, target.series));
  out.hover = target;
  if (shotDir) await page.screenshot({ path: path.join(shotDir, "test.png") });

  // Zoom: drag across the middle third of the chart; every time axis of the test follows.
  const box = await page.evaluate(chart => {
    const u = document.querySelector(`[data-chart="${chart}"]`)._zkchart;
    const r = u.over.getBoundingClientRect();
    return { left: r.left, top: r.top, width: r.width, height: r.height, min: u.scales.x.min, max: u.scales.x.max };
  }, target.chart);
  const y = box.top + box.height / 2;
  await page.mouse.move(box.left + box.width * 0.3, y);
  await page.mouse.down();
  for (let k = 1; k <= 10; k++) await page.mouse.move(box.left + box.width * (0.3 + 0.03 * k), y);
  await page.mouse.up();
  await new Promise(r => setTimeout(r, 200));
  out.zoom = await page.evaluate((id, chart) => {
    const u = document.querySelector(`[data-chart="${chart}"]`)._zkchart;
    const others = [...document.getElementById(id).querySelectorAll("[data-chart]")]
      .filter(n => n._zkchart && n._zkspec.x === "time" && n.dataset.chart !== chart)
      .map(n => [n._zkchart.scales.x.min, n._zkchart.scales.x.max]);
    return { after: [u.scales.x.min, u.scales.x.max], others: others };
  }, testID, target.chart);
  out.zoom.before = [box.min, box.max];
} catch (e) {
  out.failure = String(e && e.stack || e);
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
