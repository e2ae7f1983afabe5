#ifndef TRIBUTARY_CORE_RUNTIME_STATUS_PAGE_H_
#define TRIBUTARY_CORE_RUNTIME_STATUS_PAGE_H_

#include <string_view>

namespace tributary::core::runtime {

// GET /: the status page. Self-contained (no external assets, works
// offline); it reads /api/v1/status every two seconds. Every number it shows
// carries data-component / data-pipeline and data-field attributes naming
// where in the API it comes from.
inline constexpr std::string_view kStatusPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tributary status</title>
<style>
  :root { --bg: #f7f8fa; --fg: #1d2430; --muted: #667085; --line: #dde1e8; --ok: #1a7f37;
          --warn: #b35900; --bad: #c62828; --accent: #2f6feb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
         background: var(--bg); color: var(--fg); }
  header { padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line);
           display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header .kv { color: var(--muted); }
  header .kv b { color: var(--fg); font-weight: 600; }
  main { padding: 16px 24px 32px; }
  h2 { font-size: 15px; margin: 22px 0 8px; }
  table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
           vertical-align: middle; white-space: nowrap; }
  th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase;
       letter-spacing: .03em; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.err { white-space: normal; color: var(--bad); font-size: 12px; max-width: 420px; }
  .state { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
           font-weight: 600; color: #fff; background: var(--muted); }
  .state.ok { background: var(--ok); } .state.retrying { background: var(--warn); }
  .state.failing { background: var(--bad); }
  .bar { width: 110px; height: 8px; background: var(--line); border-radius: 4px; overflow: hidden;
         display: inline-block; vertical-align: middle; margin-right: 6px; }
  .bar i { display: block; height: 100%; background: var(--accent); }
  svg.spark { width: 150px; height: 28px; }
  svg.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
  .flow { color: var(--muted); } .flow b { color: var(--fg); font-weight: 500; }
  #error { color: var(--bad); padding: 0 24px; }
  .drops span { margin-right: 8px; }
</style>
</head>
<body>
<header>
  <h1 id="program">Tributary</h1>
  <span class="kv">config <b id="config">…</b></span>
  <span class="kv">ready <b id="ready">…</b></span>
  <span class="kv">up <b id="uptime">…</b></span>
  <span class="kv">last reload <b id="reload">…</b></span>
  <span class="kv">updated <b id="updated">…</b></span>
</header>
<p id="error"></p>
<main>
  <h2>Pipelines</h2>
  <table><thead><tr><th>pipeline</th><th>flow</th><th>in/s</th><th>in total</th><th>buffer</th>
  </tr></thead><tbody id="pipelines"></tbody></table>
  <h2>Components</h2>
  <table><thead><tr><th>component</th><th>kind</th><th>in/s</th><th>out/s</th><th>out total</th>
  <th>rate, last minute</th><th>dropped</th><th>queue</th><th>state</th><th>last error</th>
  </tr></thead><tbody id="components"></tbody></table>
</main>
<script>
"use strict";
const REFRESH_MS = 2000;
const el = (tag, attrs, text) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};
const fmt = (v, digits) => {
  if (v === null || v === undefined) return "—";
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(2) + "M";
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(1) + "k";
  return Number.isInteger(v) ? String(v) : v.toFixed(digits === undefined ? 1 : digits);
};
const ago = (t, now) => {
  if (!t) return "never";
  const s = Math.max(0, Math.round(now - t));
  return s < 90 ? s + "s ago" : s < 5400 ? Math.round(s / 60) + "m ago" : Math.round(s / 3600) + "h ago";
};
const span = (s) => {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return d ? d + "d " + h + "h" : h ? h + "h " + m + "m" : m + "m " + Math.floor(s % 60) + "s";
};
function num(attrs, field, value, digits) {
  const td = el("td", Object.assign({ class: "num", "data-field": field,
                                      "data-value": value === null ? "" : String(value) }, attrs),
                fmt(value, digits));
  return td;
}
function spark(history) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 150 28");
  svg.setAttribute("preserveAspectRatio", "none");
  const max = Math.max(1, ...history);
  const n = Math.max(history.length - 1, 1);
  const points = history.map((v, i) => (i * 150 / n).toFixed(1) + "," +
                                       (26 - v / max * 24).toFixed(1));
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points.join(" "));
  svg.appendChild(line);
  svg.setAttribute("data-points", String(history.length));
  return svg;
}
function render(s) {
  document.getElementById("program").textContent = s.program + " " + s.version;
  document.getElementById("config").textContent = s.config;
  document.getElementById("ready").textContent = s.ready ? "yes" : "no";
  document.getElementById("uptime").textContent = span(s.now - s.started_at);
  const r = s.reload;
  document.getElementById("reload").textContent =
      r.result === "none" ? "none" : r.result + ", " + ago(r.at, s.now) + (r.error ? ": " + r.error : "");
  document.getElementById("updated").textContent = new Date(s.now * 1000).toLocaleTimeString();
  const pipes = document.getElementById("pipelines");
  pipes.replaceChildren();
  for (const p of s.pipelines) {
    const a = { "data-pipeline": p.id };
    const tr = el("tr", a);
    tr.appendChild(el("td", {}, p.id));
    const flow = el("td", { class: "flow" });
    flow.innerHTML = "";
    const part = (ids) => ids.length ? ids.join(", ") : "—";
    flow.append(el("b", {}, part(p.receivers)), " → ", part(p.processors), " → ",
                el("b", {}, part(p.exporters)));
    tr.appendChild(flow);
    tr.appendChild(num(a, "in_per_second", p.in_per_second));
    tr.appendChild(num(a, "in_total", p.in_total, 0));
    const buf = el("td", a);
    if (p.buffer) {
      const bar = el("span", { class: "bar" });
      const fill = el("i");
      fill.style.width = Math.min(100, 100 * p.buffer.bytes / p.buffer.capacity).toFixed(1) + "%";
      bar.appendChild(fill);
      buf.append(bar, fmt(p.buffer.bytes / 1048576, 1) + " of " +
                 fmt(p.buffer.capacity / 1048576, 0) + " MiB");
      buf.setAttribute("data-field", "buffer_bytes");
      buf.setAttribute("data-value", String(p.buffer.bytes));
    } else {
      buf.textContent = "none";
    }
    tr.appendChild(buf);
    pipes.appendChild(tr);
  }
  const comps = document.getElementById("components");
  comps.replaceChildren();
  for (const c of s.components) {
    const a = { "data-component": c.id };
    const tr = el("tr", a);
    tr.appendChild(el("td", {}, c.id));
    tr.appendChild(el("td", {}, c.kind));
    tr.appendChild(num(a, "in_per_second", c.in_per_second));
    tr.appendChild(num(a, "out_per_second", c.out_per_second));
    tr.appendChild(num(a, "out_total", c.out_total, 0));
    const g = el("td", a);
    g.appendChild(spark(c.history));
    tr.appendChild(g);
    const drops = el("td", Object.assign({ class: "drops" }, a));
    const reasons = Object.entries(c.dropped).filter(([, n]) => n > 0);
    if (reasons.length === 0) drops.textContent = "0";
    for (const [reason, n] of reasons) {
      drops.appendChild(el("span", { "data-field": "dropped." + reason, "data-value": String(n) },
                           reason + " " + fmt(n, 0)));
    }
    tr.appendChild(drops);
    tr.appendChild(el("td", a, c.queue ? c.queue.size + " / " + c.queue.capacity : ""));
    const st = el("td", a);
    if (c.state) st.appendChild(el("span", { class: "state " + c.state, "data-field": "state" }, c.state));
    tr.appendChild(st);
    tr.appendChild(el("td", Object.assign({ class: "err" }, a),
                      c.last_error ? c.last_error + " (" + ago(c.last_error_at, s.now) + ")" : ""));
    comps.appendChild(tr);
  }
  document.body.setAttribute("data-updated", String(s.now));
}
async function refresh() {
  try {
    const res = await fetch("/api/v1/status", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    render(await res.json());
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = "cannot read /api/v1/status: " + e.message;
  }
  setTimeout(refresh, REFRESH_MS);
}
refresh();
</script>
</body>
</html>
)html";

}  // namespace tributary::core::runtime

#endif  // TRIBUTARY_CORE_RUNTIME_STATUS_PAGE_H_
