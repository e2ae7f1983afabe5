#!/usr/bin/env bash
# The SDK example services (loadgen -> frontend -> backend) send their traces,
# metrics and logs over OTLP/HTTP to tributary-agent, which writes them to its
# file sink; sdk_check.py checks every trace, metric and log against the
# load generator's known request count and error ratio.
set -euo pipefail
AGENT=$1
EXAMPLES=$2
source "$(dirname "$0")/../lib.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
N=${SDK_E2E_REQUESTS:-300}

fe_port=$(free_port) be_port=$(free_port)
start_otlp_agent "$AGENT" file "path: $WORK/sink.jsonl"

export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$A_HTTP"
export OTEL_METRIC_EXPORT_INTERVAL=1000 OTEL_BSP_SCHEDULE_DELAY=200
K8S_POD_NAME=backend-7f9c K8S_NAMESPACE_NAME=shop start backend "$EXAMPLES/tributary-example-backend" --port "$be_port"
start frontend "$EXAMPLES/tributary-example-frontend" --port "$fe_port" --backend "127.0.0.1:$be_port"
wait_port "$be_port"
wait_port "$fe_port"
"$EXAMPLES/tributary-example-loadgen" --target "127.0.0.1:$fe_port" --requests "$N" --rate 200 \
  --error-ratio 0.1 >"$WORK/summary.json"
cat "$WORK/summary.json"
# The services flush at SIGTERM; then the agent writes what it holds.
kill -TERM "${PIDS[1]}" "${PIDS[2]}"
wait "${PIDS[1]}" "${PIDS[2]}"
PIDS=("${PIDS[0]}")
sleep 1
kill -TERM "${PIDS[0]}"
wait "${PIDS[0]}"
PIDS=()
if ! python3 "$TESTS_DIR/integration/sdk_check.py" "$WORK/sink.jsonl" "$WORK/summary.json"; then
  echo "--- frontend log"; tail -5 "$WORK/frontend.log"
  echo "--- backend log"; tail -5 "$WORK/backend.log"
  exit 1
fi
