// Loads the status page of a running program in Debian's Chromium and
// compares what it shows with /api/v1/status and /metrics.
//
//   node status_page.cjs ADMIN_URL PHASE [SCREENSHOT]
//
// PHASE "busy": data flows; the page must show rates and graphs, and an
// exporter that fails must show its state and last error as the API has it.
// A screenshot is saved. PHASE "idle": nothing flows any more; every total
// the page shows must equal the API's and the self-metrics' within one
// refresh of the page.
"use strict";
const { chromium } = require("playwright-core");

const [admin, phase, screenshot] = process.argv.slice(2);

async function json(path) {
  const r = await fetch(admin + path);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

async function metric(name, labels) {
  const text = await (await fetch(admin + "/metrics")).text();
  let sum = null;
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || !line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== "{" && rest[0] !== " ") continue;
    if (!labels.every((l) => rest.includes(l))) continue;
    sum = (sum || 0) + Number(line.split(" ").pop());
  }
  return sum;
}

function fail(message) {
  console.error("status_page: " + message);
  process.exit(1);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 560 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("requestfailed", (r) => errors.push("request failed: " + r.url()));
    await page.goto(admin + "/");
    // The page has drawn a status read after `after` (seconds since the epoch).
    const drawnAfter = async (after) => {
      await page.waitForFunction(
          (t) => Number(document.body.getAttribute("data-updated") || 0) > t, after,
          { timeout: 30000 });
    };
    const shown = (selector) => page.$eval(selector, (e) => e.getAttribute("data-value"))
                                    .catch(() => null);

    if (phase === "busy") {
      // Rates after a few samples: wait until the API has them, then the page.
      let status;
      for (let i = 0; i < 150; i++) {
        status = await json("/api/v1/status");
        const file = status.components.find((c) => c.id === "file");
        if (file && file.out_per_second > 0 && file.history.length >= 5) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await drawnAfter(status.now);
      const rate = Number(await shown('td[data-component="file"][data-field="out_per_second"]'));
      if (!(rate > 0)) fail(`the page shows no rate for the file exporter (${rate})`);
      const points = await page.$eval('tr[data-component="file"] svg.spark',
                                      (e) => Number(e.getAttribute("data-points")));
      if (points < 4) fail(`the file exporter's graph has ${points} points`);
      const down = status.components.find((c) => c.id === "otlp/down");
      if (!down || down.state !== "retrying" || !down.last_error) {
        fail("the API does not report otlp/down as retrying with an error: " +
             JSON.stringify(down));
      }
      const state = await page.$eval('tr[data-component="otlp/down"] [data-field="state"]',
                                     (e) => e.textContent);
      const error = await page.$eval('tr[data-component="otlp/down"] td.err',
                                     (e) => e.textContent);
      if (state !== "retrying") fail(`the page shows otlp/down as '${state}'`);
      if (!error.startsWith(down.last_error.slice(0, 40))) {
        fail(`the page's last error '${error}' is not the API's '${down.last_error}'`);
      }
      if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`busy: file exporter ${rate}/s on the page, graph of ${points} points, ` +
                  `otlp/down ${state}: ${down.last_error.slice(0, 60)}`);
    } else {
      const status = await json("/api/v1/status");
      await drawnAfter(status.now);
      const checks = [];
      for (const p of status.pipelines) {
        checks.push([`pipeline ${p.id} in_total`, `tr[data-pipeline="${p.id}"] [data-field="in_total"]`,
                     p.in_total,
                     await metric("tributary_pipeline_received_records_total", [`pipeline="${p.id}"`])]);
      }
      for (const c of status.components.filter((c) => c.kind === "exporter")) {
        checks.push([`exporter ${c.id} out_total`,
                     `td[data-component="${c.id}"][data-field="out_total"]`, c.out_total,
                     await metric("tributary_exporter_sent_records_total", [`exporter="${c.id}"`])]);
      }
      for (const c of status.components.filter((c) => c.kind === "receiver")) {
        const accepted = await metric("tributary_receiver_accepted_records_total",
                                      [`receiver="${c.id}"`]);
        if (c.out_total !== accepted) {
          fail(`receiver ${c.id}: the API says ${c.out_total} handed on, /metrics ${accepted} accepted`);
        }
      }
      for (const [what, selector, api, metrics] of checks) {
        const page_value = Number(await shown(selector));
        if (page_value !== api || api !== metrics) {
          fail(`${what}: page ${page_value}, API ${api}, /metrics ${metrics}`);
        }
        console.log(`idle: ${what} = ${api} on the page, in the API and in /metrics`);
      }
      if (checks.filter((c) => c[2] > 0).length < 2) fail("nothing was compared");
    }
    if (errors.length) fail("the page reported errors: " + errors.join("; "));
  } finally {
    await browser.close();
  }
})().catch((e) => fail(e.stack || String(e)));
