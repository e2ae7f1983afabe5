// One of several senders of the same metrics, told apart only by their pod
// name, through the official OpenTelemetry JS SDK over OTLP/gRPC: a counter
// `orders` (+1 a round), a histogram `latency` (ms, the round's number
// modulo 50) and an up-down counter `inflight` (+2 a round, -1 every other
// round), exported every 200 ms and once more at the end. Prints what it
// recorded as JSON, for tests/integration/aggregate_e2e.sh to add up.
//   node merge_sender.cjs --endpoint URL --pod NAME --rounds N --interval MS
'use strict';
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-grpc');

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const endpoint = arg('endpoint');
const pod = arg('pod');
const rounds = Number(arg('rounds', '50'));
const intervalMs = Number(arg('interval', '50'));

async function main() {
  const failures = [];
  const inner = new OTLPMetricExporter({ url: endpoint });
  const exporter = {
    export(metrics, done) {
      inner.export(metrics, (result) => {
        if (result.code !== 0) failures.push(String(result.error));
        done(result);
      });
    },
    forceFlush: () => inner.forceFlush(),
    shutdown: () => inner.shutdown(),
    selectAggregationTemporality: (kind) => inner.selectAggregationTemporality(kind),
    selectAggregation: (kind) => inner.selectAggregation(kind),
  };
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': 'shop',
      'service.instance.id': pod,
      'k8s.pod.name': pod,
    }),
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 200 })],
  });
  const meter = provider.getMeter('merge', '1.0.0');
  const orders = meter.createCounter('orders', { unit: '{orders}' });
  const latency = meter.createHistogram('latency', {
    unit: 'ms',
    advice: { explicitBucketBoundaries: [10, 25, 40] },
  });
  const inflight = meter.createUpDownCounter('inflight');
  let latencySum = 0;
  let inflightValue = 0;
  for (let i = 0; i < rounds; i++) {
    orders.add(1, { route: '/buy' });
    latency.record(i % 50, { route: '/buy' });
    latencySum += i % 50;
    inflight.add(2, { route: '/buy' });
    inflightValue += 2;
    if (i % 2) {
      inflight.add(-1, { route: '/buy' });
      inflightValue -= 1;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  await provider.forceFlush();
  await provider.shutdown();
  if (failures.length > 0) {
    console.error('exports failed: ' + failures.join('; '));
    process.exit(1);
  }
  console.log(JSON.stringify({ pod, orders: rounds, latency_count: rounds, latency_sum: latencySum,
                               inflight: inflightValue }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
