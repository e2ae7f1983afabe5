#!/usr/bin/env bash
# Container logs end to end: tail_writer.py writes numbered CRI lines into
# K files of the kubelet layout while the agent tails them (with
# checkpoints and its write-ahead buffer) and forwards to the collector's
# file sink. The files are rotated several times by rename-and-create and by
# copytruncate; the agent is killed with SIGKILL twice and restarted. Every
# line must arrive, in order per file; duplicates (the unacknowledged window
# at each kill) are counted and bounded.
set -euo pipefail
AGENT=$1
COLLECTOR=$2
FILES=${TAIL_E2E_FILES:-8}
PER_FILE=${TAIL_E2E_LINES:-20000}
source "$(dirname "$0")/../lib.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
mkdir -p "$WORK/pods"

c_grpc=$(free_port) c_admin=$(free_port) a_admin=$(free_port)
write_config "$WORK/collector.yaml" admin "$c_admin" \
  receiver otlp "$(otlp_receiver_body "$c_grpc")" \
  processor batch "" \
  exporter file "path: $WORK/sink.jsonl
rotation:
  max_megabytes: 0" \
  service "buffer: {directory: $WORK/collector-buffer}" \
  pipeline logs "otlp | batch | file"
write_config "$WORK/agent.yaml" admin "$a_admin" \
  receiver tail "$(tail_cri_body "$WORK/pods/*/*/*.log*" "$WORK/checkpoints")" \
  processor batch "timeout: 200ms" \
  processor k8s_metadata "node_name: e2e-node" \
  exporter otlp "$(otlp_exporter_body "$c_grpc")" \
  service "buffer: {directory: $WORK/agent-buffer}" \
  pipeline logs "tail | k8s_metadata batch | otlp"

start collector "$COLLECTOR" --config "$WORK/collector.yaml"
wait_ready "http://127.0.0.1:$c_admin/readyz"
start_agent() {
  "$AGENT" --config "$WORK/agent.yaml" >>"$WORK/agent.log" 2>&1 &
  apid=$!
  PIDS+=("$apid")
}
start_agent
python3 "$TESTS_DIR/integration/tail_writer.py" "$WORK/pods" "$FILES" "$PER_FILE" 3000 10000 &
writer=$!
for pause in 5 6; do
  sleep "$pause"
  kill -KILL "$apid"
  wait "$apid" 2>/dev/null || true
  echo "agent killed"
  sleep 0.5
  start_agent
done
wait "$writer"

expected=$((FILES * PER_FILE))
deadline=$((SECONDS + 120))
until (($(metric "http://127.0.0.1:$c_admin" tributary_exporter_sent_records_total) >= expected)); do
  if ((SECONDS > deadline)); then
    echo "timed out waiting for the collector" >&2
    break
  fi
  sleep 0.5
done
sleep 2  # late duplicates, if any, are counted too
# The unacknowledged window at a kill: what was read but not yet in the
# agent's buffer, plus what was acknowledged since the last checkpoint
# (checkpoint_interval 250 ms) — well under a second of writing, per kill.
python3 "$TESTS_DIR/integration/tail_check.py" "$WORK/sink.jsonl" "$FILES" "$PER_FILE" 20000
grep -q '"k8s.pod.name"' "$WORK/sink.jsonl" || { echo "no k8s attributes" >&2; exit 1; }
echo "agent self-metrics:"
curl -fsS "http://127.0.0.1:$a_admin/metrics" | grep -E '^tributary_tail_' | sed 's/^/  /'
