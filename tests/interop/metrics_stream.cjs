// Exports a counter and a gauge every second for SECONDS seconds over
// OTLP/gRPC with the official OpenTelemetry JS SDK, and writes each sample it
// exported (metric, timestamp in ms, value) to OUT, one per line.
//   node metrics_stream.cjs --endpoint URL --run ID --seconds N --out FILE
'use strict';
const fs = require('fs');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-grpc');

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const endpoint = arg('endpoint');
const run = arg('run');
const seconds = Number(arg('seconds', '60'));
const out = arg('out');

const lines = [];
const failures = [];
const inner = new OTLPMetricExporter({ url: endpoint });
const exporter = {
  export(metrics, done) {
    for (const sm of metrics.scopeMetrics) {
      for (const m of sm.metrics) {
        for (const p of m.dataPoints) {
          const ms = p.endTime[0] * 1000 + Math.floor(p.endTime[1] / 1e6);
          lines.push(`${m.descriptor.name} ${ms} ${p.value}`);
        }
      }
    }
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

async function main() {
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': 'stream',
      'service.namespace': 'demo',
      'service.instance.id': run,
    }),
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1000 })],
  });
  const meter = provider.getMeter('interop-stream', '1.0.0');
  const ticks = meter.createCounter('stream.ticks');
  let level = 0;
  meter.createObservableGauge('stream.level').addCallback((r) => r.observe(level));
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    ticks.add(1);
    level = (level + 7) % 100;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await provider.shutdown();
  fs.writeFileSync(out, lines.join('\n') + '\n');
  if (failures.length > 0) {
    console.error('exports failed: ' + failures.join('; '));
    process.exit(1);
  }
  console.log(`stream: ${lines.length} samples exported`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
