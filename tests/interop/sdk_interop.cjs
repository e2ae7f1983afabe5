// Checks the Tributary C++ SDK against the official OpenTelemetry JS packages:
//  1. its OTLP/HTTP output, decoded with the OpenTelemetry JS protobuf
//     definitions, holds every field the C++ side emitted;
//  2. a trace context the C++ SDK injects is extracted by the OpenTelemetry JS
//     W3C propagator, and one the JS propagator injects is extracted by the
//     C++ SDK, with and without tracestate, sampled or not.
//
//   node sdk_interop.cjs --tool PATH_TO_tributary-sdk-interop
'use strict';
const http = require('http');
const { execFileSync, execFile } = require('child_process');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');
const api = require('@opentelemetry/api');
const { W3CTraceContextPropagator, TraceState } = require('@opentelemetry/core');

const tool = process.argv[process.argv.indexOf('--tool') + 1];
const P = root.opentelemetry.proto;
const problems = [];
function expect(cond, what) {
  if (!cond) problems.push(what);
}
function eq(got, want, what) {
  expect(JSON.stringify(got) === JSON.stringify(want), `${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}
const hex = (b) => Buffer.from(b || []).toString('hex');
function attrs(list) {
  const out = {};
  for (const kv of list || []) {
    const v = kv.value;
    if (v.stringValue !== undefined && v.stringValue !== null && v.value === 'stringValue') out[kv.key] = v.stringValue;
    else if (v.value === 'intValue') out[kv.key] = Number(v.intValue);
    else if (v.value === 'doubleValue') out[kv.key] = v.doubleValue;
    else if (v.value === 'boolValue') out[kv.key] = v.boolValue;
    else out[kv.key] = v[v.value];
  }
  return out;
}
const num = (x) => (x === undefined || x === null ? 0 : Number(x));

async function capture() {
  const bodies = { '/v1/traces': [], '/v1/logs': [], '/v1/metrics': [] };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.headers['content-type'] !== 'application/x-protobuf') problems.push(`content-type ${req.headers['content-type']}`);
      if (bodies[req.url]) bodies[req.url].push(Buffer.concat(chunks));
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const out = await new Promise((resolve, reject) => {
    execFile(tool, ['emit'], { env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` } },
      (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout)));
  });
  server.close();
  return { ids: JSON.parse(out), bodies };
}

function checkExport({ ids, bodies }) {
  eq(ids.flushed, true, 'flushed');
  // Traces.
  const spans = [];
  let resource, scope;
  for (const b of bodies['/v1/traces']) {
    const req = P.collector.trace.v1.ExportTraceServiceRequest.decode(b);
    for (const rs of req.resourceSpans) {
      resource = attrs(rs.resource.attributes);
      for (const ss of rs.scopeSpans) {
        scope = ss.scope;
        spans.push(...ss.spans);
      }
    }
  }
  eq(spans.length, 2, 'span count');
  eq(resource['service.name'], 'interop-cpp', 'resource service.name');
  eq(resource['deployment.environment'], 'interop', 'resource attribute');
  eq(resource['telemetry.sdk.language'], 'cpp', 'telemetry.sdk.language');
  eq(resource['process.pid'], ids.pid, 'process.pid');
  eq([scope.name, scope.version], ['interop.tracer', '1.2.3'], 'tracer scope');
  const parent = spans.find((s) => s.name === 'interop.parent');
  const child = spans.find((s) => s.name === 'interop.child');
  expect(parent && child, 'both spans present');
  if (parent && child) {
    eq(hex(parent.traceId), ids.traceId, 'parent trace id');
    eq(hex(parent.spanId), ids.parentSpanId, 'parent span id');
    eq(hex(parent.parentSpanId), '', 'parent has no parent');
    eq(parent.kind, P.trace.v1.Span.SpanKind.SPAN_KIND_SERVER, 'parent kind');
    eq(String(parent.startTimeUnixNano), '1700000000000000000', 'parent start');
    eq(String(parent.endTimeUnixNano), '1700000000300000000', 'parent end');
    eq(attrs(parent.attributes), { str: 'value', int: 42, dbl: 3.5, bool: true }, 'parent attributes');
    eq(parent.events.length, 1, 'event count');
    eq(parent.events[0].name, 'evt', 'event name');
    eq(attrs(parent.events[0].attributes), { k: 'v' }, 'event attributes');
    expect(num(parent.events[0].timeUnixNano) > 0, 'event time');
    eq(parent.links.length, 1, 'link count');
    eq(hex(parent.links[0].traceId), '0102030405060708090a0b0c0d0e0f10', 'link trace id');
    eq(hex(parent.links[0].spanId), 'a1a2a3a4a5a6a7a8', 'link span id');
    eq(parent.links[0].traceState, 'vendor=x', 'link tracestate');
    eq(attrs(parent.links[0].attributes), { 'link.attr': 1 }, 'link attributes');
    eq(parent.links[0].flags, 0x301, 'link flags (sampled, remote)');
    eq(parent.status.code, P.trace.v1.Status.StatusCode.STATUS_CODE_ERROR, 'status code');
    eq(parent.status.message, 'boom', 'status message');
    eq(parent.flags, 0x101, 'parent flags (sampled, parent not remote)');
    eq(hex(child.traceId), ids.traceId, 'child trace id');
    eq(hex(child.spanId), ids.childSpanId, 'child span id');
    eq(hex(child.parentSpanId), ids.parentSpanId, 'child parent span id');
    eq(child.kind, P.trace.v1.Span.SpanKind.SPAN_KIND_CLIENT, 'child kind');
    eq(String(child.startTimeUnixNano), '1700000000100000000', 'child start');
    eq(String(child.endTimeUnixNano), '1700000000200000000', 'child end');
    eq(num(child.status && child.status.code), 0, 'child status unset');
  }
  // Logs.
  const logs = [];
  for (const b of bodies['/v1/logs']) {
    const req = P.collector.logs.v1.ExportLogsServiceRequest.decode(b);
    for (const rl of req.resourceLogs)
      for (const sl of rl.scopeLogs) {
        eq([sl.scope.name, sl.scope.version], ['interop.logger', '4.5.6'], 'logger scope');
        logs.push(...sl.logRecords);
      }
  }
  eq(logs.length, 1, 'log count');
  if (logs.length === 1) {
    const l = logs[0];
    eq(l.body.stringValue, 'interop log', 'log body');
    eq(l.severityNumber, P.logs.v1.SeverityNumber.SEVERITY_NUMBER_WARN, 'log severity');
    eq(l.severityText, 'WARN', 'log severity text');
    eq(attrs(l.attributes), { n: 7 }, 'log attributes');
    eq(hex(l.traceId), ids.traceId, 'log trace id');
    eq(hex(l.spanId), ids.parentSpanId, 'log span id');
    eq(l.flags, 1, 'log flags');
    expect(num(l.timeUnixNano) > 0 && num(l.observedTimeUnixNano) > 0, 'log times');
  }
  // Metrics: the last export holds the final cumulative values.
  const metrics = {};
  for (const b of bodies['/v1/metrics']) {
    const req = P.collector.metrics.v1.ExportMetricsServiceRequest.decode(b);
    for (const rm of req.resourceMetrics)
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) metrics[m.name] = { m, scope: sm.scope };
  }
  const c = metrics['interop.counter'];
  expect(c, 'counter present');
  if (c) {
    eq([c.scope.name, c.scope.version], ['interop.meter', '7.8.9'], 'meter scope');
    eq([c.m.unit, c.m.description], ['{item}', 'a counter'], 'counter unit and description');
    eq(c.m.sum.isMonotonic, true, 'counter monotonic');
    eq(c.m.sum.aggregationTemporality, P.metrics.v1.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE, 'counter temporality');
    eq(c.m.sum.dataPoints.map((p) => [attrs(p.attributes), Number(p.asInt)]), [[{ a: 'b' }, 5]], 'counter points');
  }
  const h = metrics['interop.histogram'];
  expect(h, 'histogram present');
  if (h) {
    const p = h.m.histogram.dataPoints[0];
    eq(attrs(p.attributes), { h: 'x' }, 'histogram attributes');
    eq(Number(p.count), 3, 'histogram count');
    eq(p.sum, 308, 'histogram sum');
    eq([p.min, p.max], [1, 300], 'histogram min max');
    eq(p.explicitBounds, [5, 100], 'histogram bounds');
    eq(p.bucketCounts.map(Number), [1, 1, 1], 'histogram buckets');
    eq(h.m.unit, 'ms', 'histogram unit');
  }
  const g = metrics['interop.gauge'];
  expect(g, 'gauge present');
  if (g) eq(g.m.gauge.dataPoints.map((p) => p.asDouble), [2.5], 'gauge points');
}

function checkPropagation() {
  const propagator = new W3CTraceContextPropagator();
  const cases = [
    { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: true, state: '' },
    { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', sampled: false, state: '' },
    { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', sampled: true,
      state: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' },
  ];
  for (const c of cases) {
    // C++ injects, JS extracts.
    const args = ['inject', c.traceId, c.spanId, c.sampled ? '1' : '0'];
    if (c.state) args.push(c.state);
    const headers = JSON.parse(execFileSync(tool, args).toString());
    const carrier = { traceparent: headers.traceparent };
    if (headers.tracestate) carrier.tracestate = headers.tracestate;
    const ctx = propagator.extract(api.ROOT_CONTEXT, carrier, api.defaultTextMapGetter);
    const sc = api.trace.getSpanContext(ctx);
    expect(sc !== undefined, `JS extracted nothing from ${headers.traceparent}`);
    if (sc) {
      eq([sc.traceId, sc.spanId, sc.traceFlags, sc.isRemote], [c.traceId, c.spanId, c.sampled ? 1 : 0, true],
        `C++ inject -> JS extract ${c.traceId}`);
      eq(sc.traceState ? sc.traceState.serialize() : '', c.state, 'C++ inject -> JS extract tracestate');
    }
    // JS injects, C++ extracts.
    const jsCtx = api.trace.setSpanContext(api.ROOT_CONTEXT, {
      traceId: c.traceId, spanId: c.spanId, traceFlags: c.sampled ? 1 : 0, isRemote: false,
      traceState: c.state ? new TraceState(c.state) : undefined,
    });
    const out = {};
    propagator.inject(jsCtx, out, api.defaultTextMapSetter);
    const extractArgs = ['extract', out.traceparent];
    if (out.tracestate) extractArgs.push(out.tracestate);
    const got = JSON.parse(execFileSync(tool, extractArgs).toString());
    eq([got.valid, got.traceId, got.spanId, got.sampled, got.traceState], [true, c.traceId, c.spanId, c.sampled, c.state],
      `JS inject -> C++ extract ${out.traceparent}`);
  }
  // Both refuse the same malformed header.
  const bad = '00-00000000000000000000000000000000-b7ad6b7169203331-01';
  const jsBad = api.trace.getSpanContext(propagator.extract(api.ROOT_CONTEXT, { traceparent: bad }, api.defaultTextMapGetter));
  const cppBad = JSON.parse(execFileSync(tool, ['extract', bad]).toString());
  eq([jsBad === undefined, cppBad.valid], [true, false], 'zero trace id refused by both');
  return cases.length;
}

(async () => {
  const exported = await capture();
  checkExport(exported);
  const n = checkPropagation();
  console.log(`sdk interop: export checked, ${n} propagation cases both ways, problems=${problems.length}`);
  for (const p of problems) console.log('problem:', p);
  process.exit(problems.length ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
