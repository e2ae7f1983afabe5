#!/usr/bin/env bash
# Tributary beside a real OpenTelemetry Collector (v0.160.0, built by
# tests/services/otelcol.sh), both ways, over OTLP/gRPC and OTLP/HTTP. The
# OpenTelemetry JS SDK sends spans, logs and metrics; every record is
# compared field by field with what it sent.
#   1. SDK → Collector → (otlp_grpc | otlp_http exporter) → Tributary agent
#      → otlphttp (zstd) → Tributary collector → file; both Tributary
#      processes must also count exactly what was sent.
#   2. SDK → Tributary agent → (otlp | otlphttp exporter, the latter with
#      OTLP/JSON and zstd) → Collector → its file exporter; the agent has its
#      write-ahead buffer, so the exporters send what they read back from it.
set -euo pipefail
AGENT=$1
COLLECTOR=$2
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/otelcol.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
NODE_PATH=$(interop_modules)
export NODE_PATH
otelcol_install >/dev/null
N=${E2E_RECORDS:-100}

# pipelines3 NAME "RECEIVERS | PROCESSORS | EXPORTERS": the three signals'
# pipelines NAME, as write_config parts.
pipelines3() {
  local signal
  for signal in traces metrics logs; do printf 'pipeline\n%s/%s\n%s\n' "$signal" "$1" "$2"; done
}
parts() { mapfile -t PARTS < <(pipelines3 "$@"); }

echo "== 1. SDK → Collector → Tributary agent → Tributary collector"
g_in=$(free_port) h_in=$(free_port)
a_grpc=$(free_port) a_http=$(free_port) a_admin=$(free_port)
c_http=$(free_port) c_admin=$(free_port)
write_config "$WORK/collector.yaml" admin "$c_admin" \
  receiver otlp "$(otlp_receiver_body "" "$c_http")" \
  exporter file "path: $WORK/sink-1.jsonl" \
  pipelines "otlp | | file"
write_config "$WORK/agent.yaml" admin "$a_admin" \
  receiver otlp "$(otlp_receiver_body "$a_grpc" "$a_http")" \
  processor batch "$BATCH_100MS" \
  exporter otlphttp "endpoint: http://127.0.0.1:$c_http
compression: zstd" \
  pipelines "otlp | batch | otlphttp"
parts grpc "otlp/grpc | | otlp_grpc"
grpc_parts=("${PARTS[@]}")
parts http "otlp/http | | otlp_http"
otelcol_write_config "$WORK/otelcol-1.yaml" \
  receiver otlp/grpc "$(otlp_receiver_body "$g_in" "")" \
  receiver otlp/http "$(otlp_receiver_body "" "$h_in")" \
  exporter otlp_grpc "$(otlp_exporter_body "$a_grpc")" \
  exporter otlp_http "endpoint: http://127.0.0.1:$a_http" \
  "${grpc_parts[@]}" "${PARTS[@]}"
start collector "$COLLECTOR" --config "$WORK/collector.yaml"
start agent "$AGENT" --config "$WORK/agent.yaml"
wait_ready "http://127.0.0.1:$c_admin/readyz"
wait_ready "http://127.0.0.1:$a_admin/readyz"
otelcol_start otelcol-1 "$WORK/otelcol-1.yaml"

node "$TESTS_DIR/interop/send.cjs" --transport grpc --endpoint "http://127.0.0.1:$g_in" \
  --run "via-grpc-$$" --n "$N" --out "$WORK/expected-1g.json"
node "$TESTS_DIR/interop/send.cjs" --transport http --endpoint "http://127.0.0.1:$h_in" \
  --run "via-http-$$" --n "$N" --out "$WORK/expected-1h.json"
node "$TESTS_DIR/interop/check.cjs" --sink "$WORK/sink-1.jsonl" \
  --expected "$WORK/expected-1g.json,$WORK/expected-1h.json" \
  --agent "http://127.0.0.1:$a_admin" --collector "http://127.0.0.1:$c_admin"

echo "== 2. SDK → Tributary agent → Collector → its file exporter"
g_out=$(free_port) h_out=$(free_port)
b_grpc=$(free_port) b_http=$(free_port) b_admin=$(free_port)
parts grpc "otlp/grpc | | file/grpc"
grpc_parts=("${PARTS[@]}")
parts http "otlp/http | | file/http"
otelcol_write_config "$WORK/otelcol-2.yaml" \
  receiver otlp/grpc "$(otlp_receiver_body "$g_out" "")" \
  receiver otlp/http "$(otlp_receiver_body "" "$h_out")" \
  exporter file/grpc "path: $WORK/otelcol-grpc.jsonl" \
  exporter file/http "path: $WORK/otelcol-http.jsonl" \
  "${grpc_parts[@]}" "${PARTS[@]}"
otelcol_start otelcol-2 "$WORK/otelcol-2.yaml"
parts grpc "otlp/grpc | batch | otlp_grpc"
grpc_parts=("${PARTS[@]}")
parts http "otlp/http | batch | otlp_http"
write_config "$WORK/agent-2.yaml" admin "$b_admin" \
  receiver otlp/grpc "$(otlp_receiver_body "$b_grpc" "")" \
  receiver otlp/http "$(otlp_receiver_body "" "$b_http")" \
  processor batch "$BATCH_100MS" \
  exporter otlp_grpc "$(otlp_exporter_body "$g_out")" \
  exporter otlp_http "endpoint: http://127.0.0.1:$h_out
encoding: json
compression: zstd" \
  service "buffer: {directory: $WORK/agent-2-buffer}" \
  "${grpc_parts[@]}" "${PARTS[@]}"
start agent-2 "$AGENT" --config "$WORK/agent-2.yaml"
wait_ready "http://127.0.0.1:$b_admin/readyz"

node "$TESTS_DIR/interop/send.cjs" --transport grpc --endpoint "http://127.0.0.1:$b_grpc" \
  --run "to-grpc-$$" --n "$N" --out "$WORK/expected-2g.json"
node "$TESTS_DIR/interop/send.cjs" --transport http --endpoint "http://127.0.0.1:$b_http" \
  --run "to-http-$$" --n "$N" --out "$WORK/expected-2h.json"
echo "-- over OTLP/gRPC"
node "$TESTS_DIR/interop/check.cjs" --sink "$WORK/otelcol-grpc.jsonl" --expected "$WORK/expected-2g.json"
echo "-- over OTLP/HTTP (JSON, zstd)"
node "$TESTS_DIR/interop/check.cjs" --sink "$WORK/otelcol-http.jsonl" --expected "$WORK/expected-2h.json"
