// Reads kcat dumps of Kafka topics and checks every message independently of
// Tributary's own code: each is decoded as its topic's declared encoding
// (otlp_proto with the OpenTelemetry JS protobuf definitions, otlp_json with
// JSON.parse), span messages must be keyed by the trace id of every span they
// hold and each trace must sit in one partition, and log and metric messages
// must carry a resource key. The requests are written as OTLP/JSON lines, the
// form of the file exporter, for check.cjs and tributary-fault-check.
//
//   kcat -C -b BROKER -t TOPIC -e -q -f '%p %k %S\n%s\n' > DUMP
//   node kafka_decode.cjs --dump DUMP:SIGNAL:ENCODING[,...] --out FILE
'use strict';
const fs = require('fs');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

function arg(name) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const TYPES = {
  traces: root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest,
  logs: root.opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest,
  metrics: root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest,
};
const ID_KEYS = new Set(['traceId', 'spanId', 'parentSpanId']);

// kcat's `%p %k %S\n%s\n` records: partition, key, value size, value bytes.
function* records(buf) {
  let pos = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) throw new Error('truncated dump header at ' + pos);
    const header = buf.toString('utf8', pos, nl).split(' ');
    const size = Number(header[header.length - 1]);
    const partition = Number(header[0]);
    const key = header.slice(1, -1).join(' ');
    const value = buf.subarray(nl + 1, nl + 1 + size);
    if (value.length !== size) throw new Error('truncated message value');
    pos = nl + 1 + size + 1;
    yield { partition, key, value };
  }
}

// protobufjs's object form to OTLP/JSON: ids in hex, not base64.
function toOtlpJson(value, key) {
  if (Array.isArray(value)) return value.map((v) => toOtlpJson(v));
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = toOtlpJson(v, k);
    return out;
  }
  if (ID_KEYS.has(key) && typeof value === 'string') {
    return Buffer.from(value, 'base64').toString('hex');
  }
  return value;
}

function decode(signal, encoding, value) {
  if (encoding === 'otlp_json') return JSON.parse(value.toString('utf8'));
  const type = TYPES[signal];
  const message = type.decode(value);
  const err = type.verify(message);
  if (err) throw new Error(err);
  return toOtlpJson(type.toObject(message, { longs: String, enums: Number, bytes: String }));
}

function main() {
  const lines = [];
  let problems = 0;
  for (const spec of arg('dump').split(',')) {
    const [file, signal, encoding] = spec.split(':');
    const tracePartitions = new Map();
    const partitions = new Set();
    let messages = 0, bad = 0, items = 0;
    for (const r of records(fs.readFileSync(file))) {
      messages++;
      partitions.add(r.partition);
      let req;
      try {
        req = decode(signal, encoding, r.value);
      } catch (e) {
        if (bad++ < 5) console.error(`${file}: message ${messages} is not ${encoding}: ${e.message}`);
        continue;
      }
      if (signal === 'traces') {
        for (const rs of req.resourceSpans || []) {
          for (const ss of rs.scopeSpans || []) {
            for (const span of ss.spans || []) {
              items++;
              if (span.traceId !== r.key) {
                if (bad++ < 5) console.error(`span of trace ${span.traceId} under key ${r.key}`);
              }
              const seen = tracePartitions.get(span.traceId);
              if (seen !== undefined && seen !== r.partition) {
                if (bad++ < 5) console.error(`trace ${span.traceId} in partitions ${seen} and ${r.partition}`);
              }
              tracePartitions.set(span.traceId, r.partition);
            }
          }
        }
      } else if (!/^[0-9a-f]{16}$/.test(r.key)) {
        if (bad++ < 5) console.error(`${signal} message without a resource key: "${r.key}"`);
      }
      lines.push(JSON.stringify(req));
    }
    console.log(`${file}: ${messages} messages in ${partitions.size} partitions as ${encoding}` +
                (signal === 'traces' ? `, ${items} spans of ${tracePartitions.size} traces` : '') +
                `, ${bad} problems`);
    problems += bad;
  }
  fs.writeFileSync(arg('out'), lines.join('\n') + (lines.length ? '\n' : ''));
  if (problems > 0) {
    console.error(`FAILED: ${problems} problems`);
    process.exit(1);
  }
}

main();
