// Compares what reached the collector's file sink with what the SDK sent,
// record by record and field by field, and checks the self-metrics of the
// agent and the collector account for every record.
//   node check.cjs --sink FILE --expected FILE[,FILE] [--agent URL] [--collector URL]
// The accounting covers the processes given; with neither (a sink another
// product wrote) only the records are compared.
'use strict';
const fs = require('fs');

function arg(name) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// Protobuf's JSON mapping leaves out default values and writes 64-bit
// integers as strings; the SDK's serialiser may write zeros, empty lists and
// numbers. Both sides are brought to one form before comparing: a field
// without presence at its default is the same as no field, but a field with
// presence (a oneof member such as AnyValue's intValue or a point's asInt, an
// optional sum, min or max) keeps its default, so that a value lost in
// transit shows as a difference.
const INT64_KEYS = new Set(['startTimeUnixNano', 'endTimeUnixNano', 'timeUnixNano',
  'observedTimeUnixNano', 'count', 'asInt', 'intValue', 'zeroCount']);
const PRESENCE_KEYS = new Set(['stringValue', 'boolValue', 'intValue', 'doubleValue', 'bytesValue',
  'arrayValue', 'kvlistValue', 'asInt', 'asDouble', 'sum', 'min', 'max']);
function presentDefault(value, key) {
  if (INT64_KEYS.has(key)) return '0';
  if (value !== null && typeof value === 'object') return {};
  return value;
}
function normalise(value, key) {
  if (Array.isArray(value)) {
    const items = value.map((v) => normalise(v, key === 'bucketCounts' ? 'count' : undefined));
    return items.length === 0 ? undefined : items;
  }
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const k of Object.keys(value).sort()) {
      const v = normalise(value[k], k);
      if (v !== undefined) {
        out[k] = v;
      } else if (PRESENCE_KEYS.has(k) && value[k] !== null) {
        out[k] = presentDefault(value[k], k);
      }
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  if (value === null || value === 0 || value === '' || value === false) return undefined;
  if (INT64_KEYS.has(key)) {
    const s = BigInt(String(value)).toString();
    return s === '0' ? undefined : s;
  }
  return value;
}

function attr(attrs, key) {
  for (const a of attrs || []) if (a.key === key) return a.value.stringValue;
  return undefined;
}

// One entry per record: its resource and scope with it, keyed to match.
function flatten(requests, runs) {
  const out = { spans: new Map(), logs: new Map(), points: new Map() };
  const add = (map, key, value) => {
    if (map.has(key)) throw new Error('duplicate record ' + key);
    map.set(key, value);
  };
  for (const req of requests) {
    for (const rs of req.resourceSpans || []) {
      const run = attr(rs.resource && rs.resource.attributes, 'test.run');
      if (!runs.has(run)) continue;
      for (const ss of rs.scopeSpans || []) {
        for (const span of ss.spans || []) {
          add(out.spans, `${run}/${span.traceId}/${span.spanId}`,
              normalise({ resource: rs.resource, scope: ss.scope, schemaUrl: ss.schemaUrl, span }));
        }
      }
    }
    for (const rl of req.resourceLogs || []) {
      const run = attr(rl.resource && rl.resource.attributes, 'test.run');
      if (!runs.has(run)) continue;
      for (const sl of rl.scopeLogs || []) {
        for (const log of sl.logRecords || []) {
          const seq = (log.attributes || []).find((a) => a.key === 'seq').value.intValue;
          add(out.logs, `${run}/${seq}`, normalise({ resource: rl.resource, scope: sl.scope, log }));
        }
      }
    }
    for (const rm of req.resourceMetrics || []) {
      const run = attr(rm.resource && rm.resource.attributes, 'test.run');
      if (!runs.has(run)) continue;
      for (const sm of rm.scopeMetrics || []) {
        for (const m of sm.metrics || []) {
          const data = m.sum || m.gauge || m.histogram || m.exponentialHistogram || m.summary;
          for (const p of data.dataPoints || []) {
            const { dataPoints, ...shape } = data;
            const key = `${run}/${m.name}/${JSON.stringify(normalise(p.attributes))}`;
            add(out.points, key, normalise({
              resource: rm.resource, scope: sm.scope,
              metric: { name: m.name, description: m.description, unit: m.unit, shape }, point: p,
            }));
          }
        }
      }
    }
  }
  return out;
}

function compare(kind, expected, actual) {
  let problems = 0;
  for (const [key, want] of expected) {
    const got = actual.get(key);
    if (got === undefined) {
      if (problems++ < 5) console.error(`${kind}: missing ${key}`);
      continue;
    }
    const a = JSON.stringify(want), b = JSON.stringify(got);
    if (a !== b) {
      if (problems++ < 5) console.error(`${kind}: ${key} differs\n  sent:     ${a}\n  received: ${b}`);
    }
  }
  for (const key of actual.keys()) {
    if (!expected.has(key) && problems++ < 5) console.error(`${kind}: unexpected ${key}`);
  }
  console.log(`${kind}: sent ${expected.size}, received ${actual.size}, problems ${problems}`);
  return problems;
}

async function metric(url, name, labels) {
  const text = await (await fetch(url + '/metrics')).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

async function main() {
  const expectedRequests = [];
  const runs = new Set();
  for (const file of arg('expected').split(',')) {
    const e = JSON.parse(fs.readFileSync(file, 'utf8'));
    expectedRequests.push(...e.traces, ...e.logs, ...e.metrics);
  }
  for (const req of expectedRequests) {
    for (const r of [...(req.resourceSpans || []), ...(req.resourceLogs || []), ...(req.resourceMetrics || [])]) {
      runs.add(attr(r.resource.attributes, 'test.run'));
    }
  }
  const expected = flatten(expectedRequests, runs);
  const sinkPath = arg('sink');
  let actual;
  const deadline = Date.now() + 60000;
  for (;;) {
    const lines = fs.existsSync(sinkPath) ? fs.readFileSync(sinkPath, 'utf8').split('\n').filter(Boolean) : [];
    actual = flatten(lines.map((l) => JSON.parse(l)), runs);
    const complete = actual.spans.size >= expected.spans.size && actual.logs.size >= expected.logs.size &&
                     actual.points.size >= expected.points.size;
    if (complete || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  let problems = 0;
  problems += compare('spans', expected.spans, actual.spans);
  problems += compare('logs', expected.logs, actual.logs);
  problems += compare('metric points', expected.points, actual.points);

  const want = { spans: expected.spans.size, logs: expected.logs.size, metric_points: expected.points.size };
  const processes = ['agent', 'collector'].filter((p) => arg(p));
  for (const [signal, n] of Object.entries(want)) {
    const checks = [];
    for (const p of processes) {
      checks.push([`${p} accepted`, arg(p), 'tributary_receiver_accepted_records_total'],
                  [`${p} exported`, arg(p), 'tributary_exporter_sent_records_total']);
    }
    for (const [what, url, name] of checks) {
      const got = await metric(url, name, { signal });
      const ok = got === n;
      if (!ok) problems++;
      console.log(`${what} ${signal}: ${got} (sent ${n})${ok ? '' : '  MISMATCH'}`);
    }
    for (const url of processes.map(arg)) {
      const dropped = await metric(url, 'tributary_dropped_records_total', { signal });
      const refused = await metric(url, 'tributary_receiver_refused_records_total', { signal });
      if (dropped !== 0 || refused !== 0) {
        problems++;
        console.log(`${url} ${signal}: dropped ${dropped}, refused ${refused}  MISMATCH`);
      }
    }
  }
  if (problems > 0) {
    console.error(`FAILED: ${problems} problems`);
    process.exit(1);
  }
  console.log('all records arrived intact and are accounted for');
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
module.exports = { normalise, flatten, compare };
