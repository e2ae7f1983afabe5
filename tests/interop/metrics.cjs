// Sends a fixed set of metrics over OTLP/gRPC with the official OpenTelemetry
// JS SDK: a cumulative counter, an observable gauge, an explicit-bucket and
// an exponential histogram, and a counter with delta temporality exported
// twice. The values are what tests/integration/prometheus_e2e.sh expects.
//   node metrics.cjs --endpoint URL --run ID
'use strict';
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { MeterProvider, PeriodicExportingMetricReader, AggregationType } = require('@opentelemetry/sdk-metrics');
const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-grpc');
const { AggregationTemporalityPreference } = require('@opentelemetry/exporter-metrics-otlp-http');

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const endpoint = arg('endpoint');
const run = arg('run');

// Wraps an exporter to fail the run on any export the endpoint refused.
class Checked {
  constructor(inner) {
    this.inner = inner;
    this.failures = [];
  }
  export(metrics, done) {
    this.inner.export(metrics, (result) => {
      if (result.code !== 0) this.failures.push(String(result.error));
      done(result);
    });
  }
  forceFlush() { return this.inner.forceFlush(); }
  shutdown() { return this.inner.shutdown(); }
  selectAggregationTemporality(kind) { return this.inner.selectAggregationTemporality(kind); }
  selectAggregation(kind) { return this.inner.selectAggregation(kind); }
}

function provider(exporter, views) {
  return new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': 'shop-api',
      'service.namespace': 'demo',
      'service.instance.id': run,
      'host.name': 'interop-host',
    }),
    views,
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3600000 })],
  });
}

async function main() {
  const cumulativeExporter = new Checked(new OTLPMetricExporter({ url: endpoint }));
  const cumulative = provider(cumulativeExporter, [
    { instrumentName: 'payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } },
  ]);
  const meter = cumulative.getMeter('interop', '1.0.0');
  const orders = meter.createCounter('orders', { unit: '{orders}', description: 'Orders placed' });
  for (let i = 0; i < 7; i++) orders.add(1, { method: 'card' });
  for (let i = 0; i < 3; i++) orders.add(2, { method: 'cash' });
  const temperature = meter.createObservableGauge('temperature', { unit: 'Cel', description: 'Room temperature' });
  temperature.addCallback((result) => result.observe(21.5, { room: 'a' }));
  const duration = meter.createHistogram('request.duration', {
    unit: 's',
    description: 'Request duration',
    advice: { explicitBucketBoundaries: [0.1, 1] },
  });
  for (const v of [0.05, 0.5, 5, 0.07]) duration.record(v, { route: '/items' });
  const size = meter.createHistogram('payload.size', { unit: 'By', description: 'Payload size' });
  for (const v of [1, 2, 4, 1000]) size.record(v);
  await cumulative.forceFlush();

  const deltaExporter = new Checked(new OTLPMetricExporter({
    url: endpoint,
    temporalityPreference: AggregationTemporalityPreference.DELTA,
  }));
  const delta = provider(deltaExporter, []);
  const jobs = delta.getMeter('interop', '1.0.0').createCounter('jobs.processed', { description: 'Jobs processed' });
  jobs.add(5, { queue: 'q1' });
  await delta.forceFlush();
  jobs.add(3, { queue: 'q1' });
  await delta.forceFlush();

  await cumulative.shutdown();
  await delta.shutdown();
  const failures = cumulativeExporter.failures.concat(deltaExporter.failures);
  if (failures.length > 0) {
    console.error('exports failed: ' + failures.join('; '));
    process.exit(1);
  }
  console.log('metrics sent');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
