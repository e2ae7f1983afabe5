// Traces for tail sampling, through the official OpenTelemetry JS SDK: N
// traces of six spans each, three (the root and two children) sent by one
// tracer provider to endpoint A and three by another to endpoint B, as a
// frontend and a backend on two nodes would. Trace i has an error span when
// i % 100 == 1 and lasts 600 ms when i % 100 == 51; the others last 20 ms.
// Writes one JSON line per trace: {"trace_id", "error", "slow"}.
//   node sampling_traces.cjs --a URL --b URL --n N --out FILE
'use strict';
const fs = require('fs');
const api = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const n = Number(arg('n', '1000'));
const out = arg('out');

const failures = [];
function provider(service, url) {
  const inner = new OTLPTraceExporter({ url, timeoutMillis: 60000, concurrencyLimit: 100 });
  const exporter = {
    export(spans, done) {
      inner.export(spans, (result) => {
        if (result.code !== 0) failures.push(String(result.error));
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => (inner.forceFlush ? inner.forceFlush() : Promise.resolve()),
  };
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor(exporter, {
      maxExportBatchSize: 512, maxQueueSize: 100000, scheduledDelayMillis: 100,
      exportTimeoutMillis: 65000,
    })],
  });
}

async function main() {
  const a = provider('frontend', arg('a'));
  const b = provider('backend', arg('b'));
  const fe = a.getTracer('sampling');
  const be = b.getTracer('sampling');
  const lines = [];
  const t0 = Date.now() - 60000;
  for (let i = 0; i < n; i++) {
    const error = i % 100 === 1;
    const slow = i % 100 === 51;
    const start = t0 + i;
    const end = start + (slow ? 600 : 20);
    const root = fe.startSpan('checkout', { kind: api.SpanKind.SERVER, startTime: start });
    const ctx = api.trace.setSpan(api.context.active(), root);
    const spans = [];
    for (const [tracer, name, kind] of [[fe, 'price', api.SpanKind.CLIENT],
                                        [fe, 'render', api.SpanKind.INTERNAL],
                                        [be, 'GET /price', api.SpanKind.SERVER],
                                        [be, 'SELECT', api.SpanKind.CLIENT],
                                        [be, 'cache', api.SpanKind.INTERNAL]]) {
      spans.push(tracer.startSpan(name, { kind, startTime: start + 1 }, ctx));
    }
    if (error) spans[4].setStatus({ code: api.SpanStatusCode.ERROR, message: 'cache down' });
    for (const s of spans) s.end(start + 10);
    root.end(end);
    lines.push(JSON.stringify({ trace_id: root.spanContext().traceId, error, slow }));
    if (i % 500 === 499) await Promise.all([a.forceFlush(), b.forceFlush()]);
  }
  await a.forceFlush();
  await b.forceFlush();
  await a.shutdown();
  await b.shutdown();
  fs.writeFileSync(out, lines.join('\n') + '\n');
  if (failures.length > 0) {
    console.error('exports failed: ' + failures.join('; '));
    process.exit(1);
  }
  console.log(`${n} traces sent`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
