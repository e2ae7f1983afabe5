// Sends spans, log records and metrics to an OTLP endpoint with the official
// OpenTelemetry JS SDK, and writes what each exporter was handed, serialised
// by the SDK's own OTLP/JSON serialiser, as the expected data.
//   node send.cjs --transport http|grpc --endpoint URL --run ID --n N --out FILE
'use strict';
const fs = require('fs');
const api = require('@opentelemetry/api');
const { SeverityNumber } = require('@opentelemetry/api-logs');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const {
  JsonTraceSerializer,
  JsonLogsSerializer,
  JsonMetricsSerializer,
} = require('@opentelemetry/otlp-transformer');

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const transport = arg('transport', 'http');
const endpoint = arg('endpoint');
const run = arg('run');
const n = Number(arg('n', '100'));
const out = arg('out');

// A loaded machine, or a backend that creates its indices first, may keep a
// request waiting: each export has a minute, within which the exporter
// retries what OTLP calls retryable (429, 502, 503, 504, UNAVAILABLE).
const EXPORT_TIMEOUT_MS = 60000;

function exporters() {
  const options = (url) => ({ url, timeoutMillis: EXPORT_TIMEOUT_MS });
  if (transport === 'grpc') {
    return {
      traces: new (require('@opentelemetry/exporter-trace-otlp-grpc').OTLPTraceExporter)(options(endpoint)),
      logs: new (require('@opentelemetry/exporter-logs-otlp-grpc').OTLPLogExporter)(options(endpoint)),
      metrics: new (require('@opentelemetry/exporter-metrics-otlp-grpc').OTLPMetricExporter)(options(endpoint)),
    };
  }
  return {
    traces: new (require('@opentelemetry/exporter-trace-otlp-proto').OTLPTraceExporter)(options(endpoint + '/v1/traces')),
    logs: new (require('@opentelemetry/exporter-logs-otlp-proto').OTLPLogExporter)(options(endpoint + '/v1/logs')),
    metrics: new (require('@opentelemetry/exporter-metrics-otlp-proto').OTLPMetricExporter)(options(endpoint + '/v1/metrics')),
  };
}

// Wraps an exporter: keeps what it was handed and fails the run on any
// export the endpoint did not accept.
class Recording {
  constructor(inner) {
    this.inner = inner;
    this.items = [];
    this.failures = [];
  }
  export(items, done) {
    this.items.push(items);
    this.inner.export(items, (result) => {
      if (result.code !== 0) this.failures.push(String(result.error));
      done(result);
    });
  }
  forceFlush() { return this.inner.forceFlush ? this.inner.forceFlush() : Promise.resolve(); }
  shutdown() { return this.inner.shutdown(); }
  selectAggregationTemporality(kind) { return this.inner.selectAggregationTemporality(kind); }
  selectAggregation(kind) { return this.inner.selectAggregation(kind); }
}

async function main() {
  const resource = resourceFromAttributes({
    'service.name': 'interop-' + transport,
    'service.instance.id': run,
    'test.run': run,
    'host.name': 'interop-host',
  });
  const ex = exporters();
  const traces = new Recording(ex.traces);
  const logs = new Recording(ex.logs);
  const metrics = new Recording(ex.metrics);

  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(traces, { maxExportBatchSize: 50, scheduledDelayMillis: 100, exportTimeoutMillis: EXPORT_TIMEOUT_MS + 5000 })],
  });
  const tracer = tracerProvider.getTracer('interop-tracer', '1.2.3');
  let previous;
  for (let i = 0; i < n; i++) {
    const parent = tracer.startSpan(`parent-${i}`, {
      kind: api.SpanKind.SERVER,
      attributes: { 'seq': i, 'http.route': '/items/:id', 'ok': i % 2 === 0, 'ratio': i / 7, 'tags': ['a', 'b'], 'note': '' },
      links: previous ? [{ context: previous.spanContext(), attributes: { 'link.seq': i - 1 } }] : [],
    });
    const ctx = api.trace.setSpan(api.context.active(), parent);
    const child = tracer.startSpan(`child-${i}`, { kind: api.SpanKind.CLIENT }, ctx);
    child.addEvent('retry', { attempt: 1 });
    if (i % 5 === 0) child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'failed ' + i });
    child.end();
    parent.setStatus({ code: api.SpanStatusCode.OK });
    parent.end();
    previous = parent;
  }

  const loggerProvider = new LoggerProvider({
    resource,
    processors: [new BatchLogRecordProcessor(logs, { maxExportBatchSize: 50, scheduledDelayMillis: 100, exportTimeoutMillis: EXPORT_TIMEOUT_MS + 5000 })],
  });
  const logger = loggerProvider.getLogger('interop-logger', '0.1.0');
  for (let i = 0; i < n; i++) {
    const span = tracer.startSpan('log-parent');
    logger.emit({
      severityNumber: i % 3 === 0 ? SeverityNumber.ERROR : SeverityNumber.INFO,
      severityText: i % 3 === 0 ? 'ERROR' : 'INFO',
      body: `log line ${i} with ünïcode`,
      attributes: { 'seq': i, 'user.id': 'u' + (i % 10) },
      context: api.trace.setSpan(api.context.active(), span),
    });
    span.end();
  }

  const meterProvider = new MeterProvider({
    resource,
    readers: [new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 600000, exportTimeoutMillis: EXPORT_TIMEOUT_MS + 5000 })],
  });
  const meter = meterProvider.getMeter('interop-meter', '2.0.0');
  const counter = meter.createCounter('interop.requests', { description: 'requests served', unit: '{request}' });
  const histogram = meter.createHistogram('interop.latency', {
    description: 'request latency',
    unit: 'ms',
    advice: { explicitBucketBoundaries: [1, 5, 10, 50, 100] },
  });
  for (let i = 0; i < n; i++) {
    const route = i % 2 === 0 ? '/a' : '/b';
    counter.add(1 + (i % 3), { route });
    histogram.record((i * 7) % 120, { route });
  }

  await tracerProvider.shutdown();
  await loggerProvider.shutdown();
  await meterProvider.shutdown();

  const failures = [...traces.failures, ...logs.failures, ...metrics.failures];
  if (failures.length > 0) {
    console.error('exports failed:', failures);
    process.exit(1);
  }
  const decode = (bytes) => JSON.parse(Buffer.from(bytes).toString('utf8'));
  const expected = {
    traces: traces.items.map((spans) => decode(JsonTraceSerializer.serializeRequest(spans))),
    logs: logs.items.map((records) => decode(JsonLogsSerializer.serializeRequest(records))),
    metrics: metrics.items.map((rm) => decode(JsonMetricsSerializer.serializeRequest(rm))),
  };
  fs.writeFileSync(out, JSON.stringify(expected));
  console.log(`sent over ${transport}: ${expected.traces.length} trace, ${expected.logs.length} log, ` +
              `${expected.metrics.length} metric export requests`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
