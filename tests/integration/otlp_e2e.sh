#!/usr/bin/env bash
# A real OpenTelemetry JS SDK sends spans, logs and metrics over OTLP/HTTP
# and OTLP/gRPC to tributary-agent, which forwards them to
# tributary-collector, which writes them to its file sink. Every record must
# arrive with every field intact, and both processes' self-metrics must count
# exactly what was sent.
set -euo pipefail
AGENT=$1
COLLECTOR=$2
source "$(dirname "$0")/../lib.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
NODE_PATH=$(interop_modules)
export NODE_PATH
N=${E2E_RECORDS:-200}

c_grpc=$(free_port) c_http=$(free_port) c_admin=$(free_port)
a_grpc=$(free_port) a_http=$(free_port) a_admin=$(free_port)

write_config "$WORK/collector.yaml" admin "$c_admin" \
  receiver otlp "$(otlp_receiver_body "$c_grpc" "$c_http")" \
  processor batch "send_batch_size: 500
timeout: 100ms" \
  exporter file "path: $WORK/sink.jsonl" \
  pipelines "otlp | batch | file"
write_config "$WORK/agent.yaml" admin "$a_admin" \
  receiver otlp "$(otlp_receiver_body "$a_grpc" "$a_http")" \
  processor batch "$BATCH_100MS" \
  exporter otlp "$(otlp_exporter_body "$c_grpc" "compression: gzip")" \
  pipelines "otlp | batch | otlp"

start collector "$COLLECTOR" --config "$WORK/collector.yaml"
start agent "$AGENT" --config "$WORK/agent.yaml"
wait_ready "http://127.0.0.1:$c_admin/readyz"
wait_ready "http://127.0.0.1:$a_admin/readyz"

node "$TESTS_DIR/interop/send.cjs" --transport http --endpoint "http://127.0.0.1:$a_http" \
  --run "http-$$" --n "$N" --out "$WORK/expected-http.json"
node "$TESTS_DIR/interop/send.cjs" --transport grpc --endpoint "http://127.0.0.1:$a_grpc" \
  --run "grpc-$$" --n "$N" --out "$WORK/expected-grpc.json"

if ! node "$TESTS_DIR/interop/check.cjs" --sink "$WORK/sink.jsonl" \
  --expected "$WORK/expected-http.json,$WORK/expected-grpc.json" \
  --agent "http://127.0.0.1:$a_admin" --collector "http://127.0.0.1:$c_admin"; then
  echo "--- agent log"; tail -20 "$WORK/agent.log"
  echo "--- collector log"; tail -20 "$WORK/collector.log"
  exit 1
fi

# SIGTERM drains and exits 0.
for pid in "${PIDS[@]}"; do kill -TERM "$pid"; done
for pid in "${PIDS[@]}"; do wait "$pid"; done
PIDS=()
echo "agent and collector stopped cleanly"
