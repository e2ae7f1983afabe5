#!/usr/bin/env bash
# Tributary and a real OpenTelemetry Collector (v0.160.0) on either side of a
# real Kafka broker, with one configuration spelling for both (the
# Collector's `topics` lists), every record compared field by field with what
# the OpenTelemetry JS SDK sent:
#   1. SDK → Tributary agent → kafka exporter → Kafka → Collector kafka
#      receiver → its file exporter.
#   2. SDK → Collector → kafka exporter → Kafka → Tributary collector kafka
#      receiver → file; the collector must count exactly what was sent.
# Spans travel as otlp_proto, logs as otlp_json, metrics as otlp_proto.
set -euo pipefail
AGENT=$1
COLLECTOR=$2
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/kafka.sh"
source "$TESTS_DIR/services/otelcol.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
NODE_PATH=$(interop_modules)
export NODE_PATH
otelcol_install >/dev/null
N=${E2E_RECORDS:-100}

kport=$(free_port)
kafka_start kafka "$kport"
B=127.0.0.1:$kport
for dir in t2c c2t; do
  kafka_topic "$kport" "${dir}_spans" 3
  kafka_topic "$kport" "${dir}_logs" 2
  kafka_topic "$kport" "${dir}_metrics" 2
done

# consumer_body PREFIX: the consuming side's signal blocks, as both read them.
consumer_body() {
  printf 'traces:\n  topics: [%s_spans]\n  encoding: otlp_proto\n' "$1"
  printf 'logs:\n  topics: [%s_logs]\n  encoding: otlp_json\n' "$1"
  printf 'metrics:\n  topics: [%s_metrics]\n  encoding: otlp_proto\n' "$1"
}
producer_body() {
  printf 'traces:\n  topic: %s_spans\n  encoding: otlp_proto\n' "$1"
  printf 'logs:\n  topic: %s_logs\n  encoding: otlp_json\n' "$1"
  printf 'metrics:\n  topic: %s_metrics\n  encoding: otlp_proto\n' "$1"
}

echo "== 1. Tributary's kafka exporter → the Collector's kafka receiver"
otelcol_write_config "$WORK/otelcol-1.yaml" \
  receiver kafka "brokers: [$B]
group_id: otelcol-interop
initial_offset: earliest
$(consumer_body t2c)" \
  exporter file "path: $WORK/otelcol-sink.jsonl" \
  pipelines "kafka | | file"
otelcol_start otelcol-1 "$WORK/otelcol-1.yaml"
a_grpc=$(free_port) a_admin=$(free_port)
write_config "$WORK/agent.yaml" admin "$a_admin" \
  receiver otlp "$(otlp_receiver_body "$a_grpc")" \
  processor batch "$BATCH_100MS" \
  exporter kafka "brokers: [$B]
$(producer_body t2c)" \
  pipelines "otlp | batch | kafka"
start agent "$AGENT" --config "$WORK/agent.yaml"
wait_ready "http://127.0.0.1:$a_admin/readyz"
node "$TESTS_DIR/interop/send.cjs" --transport grpc --endpoint "http://127.0.0.1:$a_grpc" \
  --run "t2c-$$" --n "$N" --out "$WORK/expected-1.json"
node "$TESTS_DIR/interop/check.cjs" --sink "$WORK/otelcol-sink.jsonl" --expected "$WORK/expected-1.json"

echo "== 2. the Collector's kafka exporter → Tributary's kafka receiver"
c_admin=$(free_port) o_grpc=$(free_port)
write_config "$WORK/collector.yaml" admin "$c_admin" \
  receiver kafka "brokers: [$B]
group_id: tributary-interop
$(consumer_body c2t)" \
  exporter file "path: $WORK/sink.jsonl" \
  pipelines "kafka | | file"
start collector "$COLLECTOR" --config "$WORK/collector.yaml"
wait_ready "http://127.0.0.1:$c_admin/readyz"
otelcol_write_config "$WORK/otelcol-2.yaml" \
  receiver otlp "$(otlp_receiver_body "$o_grpc" "")" \
  exporter kafka "brokers: [$B]
$(producer_body c2t)" \
  pipelines "otlp | | kafka"
otelcol_start otelcol-2 "$WORK/otelcol-2.yaml"
node "$TESTS_DIR/interop/send.cjs" --transport grpc --endpoint "http://127.0.0.1:$o_grpc" \
  --run "c2t-$$" --n "$N" --out "$WORK/expected-2.json"
# The collector must also count exactly what was sent, refusing and
# dropping nothing.
node "$TESTS_DIR/interop/check.cjs" --sink "$WORK/sink.jsonl" --expected "$WORK/expected-2.json" \
  --collector "http://127.0.0.1:$c_admin"
