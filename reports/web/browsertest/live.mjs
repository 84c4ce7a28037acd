// live.mjs BASE_URL old|react|page [SHOT_PNG]: opens a Locust master's web UI (BASE_URL, with
// the locustfile `zkload locustfile` generates) in headless Chromium (Debian's
// /usr/bin/chromium, or $CHROMIUM) through puppeteer-core, and follows the way to the
// zkload page as a person would: in the old UI (Locust 2.12.1) the zkload tab, whose
// pane holds the page; in the React UI (the newest) the zkload tab (a table of the last
// window's operations), then the Download Data tab's link to the page; with "page",
// BASE_URL is the zkload page itself (reports' TestLivePageWithoutTheChartLibrary). It reads what
// the page shows twice, 3 s apart, and prints it as JSON for the Go test
// (zkload's TestLivePage) to check: console errors, requests that left the master, the
// React tab's rows, and per read the window's end, the requests counted, the workers,
// the members with their roles, and each operation's p99. With SHOT_PNG it takes a
// screenshot of the page on its own.
import puppeteer from "puppeteer-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [base, kind, shot] = process.argv.slice(2);
if (!base || !["old", "react", "page"].includes(kind)) {
  console.error("usage: node live.mjs BASE_URL old|react|page [SHOT_PNG]");
  process.exit(2);
}
const origin = new URL(base).origin;
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "zkload-chromium-"));
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  userDataDir: profile,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
const t0 = Date.now();
const out = { errors: [], outside: [], reads: [], ms: {} };
const lap = name => { out.ms[name] = Date.now() - t0; };
const sleep = ms => new Promise(r => setTimeout(r, ms));

// read is what the zkload page shows, in its document (a frame's or a page's).
function read() {
  const rows = id => [...document.querySelectorAll("#" + id + " tbody tr")].map(tr => {
    const o = {};
    for (const td of tr.querySelectorAll("td")) o[td.dataset.k] = td.dataset.v;
    return o;
  });
  return {
    end: Number(document.getElementById("zk-status").dataset.end),
    status: document.getElementById("zk-status").textContent,
    requests: Number(document.getElementById("zk-requests").dataset.v),
    ops: rows("zk-ops"), workers: rows("zk-workers"), members: rows("zk-members"),
    charts: [...document.querySelectorAll("[data-chart]")].filter(n => n._zkchart).length,
    interactive: typeof window.uPlot === "function",
    error: document.getElementById("zk-error").textContent,
    note: (document.getElementById("zk-static") || {}).textContent || "",
  };
}

try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  await page.emulateTimezone("UTC");
  await page.setRequestInterception(true);
  page.on("request", r => {
    const u = r.url();
    if (u.startsWith(origin + "/") || u.startsWith("data:") || u.startsWith("blob:")) return r.continue();
    out.outside.push(u);
    r.abort();
  });
  page.on("console", m => { if (m.type() === "error" && !/^Failed to load resource/.test(m.text())) out.errors.push(m.text()); });
  page.on("pageerror", e => out.errors.push(String(e)));
  page.on("response", r => { if (r.status() >= 400) out.errors.push("HTTP " + r.status() + " " + r.url()); });
  lap("launched");
  await page.goto(base, { waitUntil: "load" });
  lap("ui");

  let doc; // the frame or page that shows the zkload page
  if (kind === "page") {
    doc = page.mainFrame();
    out.way = "the page itself";
  } else if (kind === "old") {
    await page.waitForSelector("a.zkload-tab-link", { timeout: 10000 });
    await page.click("a.zkload-tab-link");
    await page.waitForFunction(() => {
      const f = document.getElementById("zkload-frame");
      return f && f.offsetParent !== null && f.contentDocument && f.contentDocument.getElementById("zk-status");
    }, { timeout: 15000 });
    doc = await (await page.$("#zkload-frame")).contentFrame();
    out.way = "tab zkload (frame " + (await doc.url()) + ")";
  } else {
    const clickTab = async title => {
      await page.waitForFunction(t => [...document.querySelectorAll("[role=tab]")].some(e => e.textContent.trim() === t), { timeout: 15000 }, title);
      const tabs = await page.$$("[role=tab]");
      for (const t of tabs) {
        if ((await t.evaluate(e => e.textContent.trim())) === title) return t.click();
      }
    };
    await clickTab("zkload");
    await page.waitForFunction(() => [...document.querySelectorAll("table tbody tr")].some(tr => /\d/.test(tr.textContent)), { timeout: 15000 });
    out.tab = await page.evaluate(() => {
      const head = [...document.querySelectorAll("table thead th")].map(th => th.textContent.trim());
      const rows = [...document.querySelectorAll("table tbody tr")].map(tr => [...tr.querySelectorAll("td")].map(td => td.textContent.trim()));
      return { head: head, rows: rows, url: location.href };
    });
    await clickTab("Download Data");
    const link = await page.waitForSelector("xpath/.//a[starts-with(normalize-space(.), 'zkload page')]", { timeout: 10000 });
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), link.click()]);
    doc = page.mainFrame();
    out.way = "tab zkload, then Download Data: " + page.url();
  }
  lap("way");
  await doc.waitForFunction(() => Number(document.getElementById("zk-status").dataset.end) > 0 &&
    document.querySelectorAll("#zk-workers tbody tr").length > 0, { timeout: 20000 });
  out.reads.push(await doc.evaluate(read));
  lap("read");
  await sleep(3000);
  out.reads.push(await doc.evaluate(read));
  lap("reads");
  if (shot) {
    const p = await browser.newPage();
    await p.setViewport({ width: 1280, height: 900 });
    await p.emulateTimezone("UTC");
    await p.goto(origin + "/zkload", { waitUntil: "load" });
    await p.waitForFunction(() => document.querySelectorAll("[data-chart]").length > 2 || !window.uPlot, { timeout: 15000 });
    await sleep(4000); // a few seconds of lines
    await p.screenshot({ path: shot, fullPage: true });
  }
} catch (e) {
  out.failure = String(e && e.stack || e);
} finally {
  lap("done");
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
