#!/usr/bin/env bash
# Tail sampling end to end: 10,000 traces of six spans (the OpenTelemetry JS
# SDK), each split over two agents as a frontend and a backend on two nodes
# would send it, 1% with an error span and 1% slower than 500 ms, reach a
# collector whose tail_sampling processor keeps errors, slow traces and 10%
# by trace id, into its file sink. Every error and slow trace must be in the
# sink whole, and the kept set must be exactly the set computed here from
# the trace ids (the same hash); the collector's books must balance, the
# sampled-out spans counted as dropped.
#   tail_sampling_e2e.sh AGENT COLLECTOR
set -euo pipefail
AGENT=$1
COLLECTOR=$2
source "$(dirname "$0")/../lib.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
NODE_PATH=$(interop_modules)
export NODE_PATH
N=${TAIL_SAMPLING_E2E_TRACES:-10000}

c_grpc=$(free_port) c_admin=$(free_port)
write_config "$WORK/collector.yaml" admin "$c_admin" \
  receiver otlp "$(otlp_receiver_body "$c_grpc")" \
  processor tail_sampling "decision_wait: 2s
num_traces: 100000
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: slow, type: latency, latency: {threshold_ms: 500}}
  - {name: base, type: probabilistic, probabilistic: {sampling_percentage: 10}}" \
  processor batch "$BATCH_100MS" \
  exporter file "path: $WORK/sink.jsonl" \
  service "buffer: {directory: $WORK/collector-buffer}" \
  pipeline traces "otlp | tail_sampling batch | file"
start collector "$COLLECTOR" --config "$WORK/collector.yaml"
wait_ready "http://127.0.0.1:$c_admin/readyz"

declare -A agent_grpc
for node in a b; do
  grpc=$(free_port) admin=$(free_port)
  write_config "$WORK/agent-$node.yaml" admin "$admin" \
    receiver otlp "$(otlp_receiver_body "$grpc")" \
    processor batch "$BATCH_100MS" \
    exporter otlp "$(otlp_exporter_body "$c_grpc")" \
    service "buffer: {directory: $WORK/agent-$node-buffer}" \
    pipeline traces "otlp | batch | otlp"
  start "agent-$node" "$AGENT" --config "$WORK/agent-$node.yaml"
  wait_ready "http://127.0.0.1:$admin/readyz"
  agent_grpc[$node]=$grpc
done

node "$TESTS_DIR/interop/sampling_traces.cjs" --a "http://127.0.0.1:${agent_grpc[a]}" \
  --b "http://127.0.0.1:${agent_grpc[b]}" --n "$N" --out "$WORK/sent.jsonl"

# Every span reached the collector, and every trace was decided.
c="http://127.0.0.1:$c_admin"
deadline=$((SECONDS + 120))
until (($(metric "$c" tributary_pipeline_received_records_total 'pipeline="traces"') == 6 * N)) &&
  [[ "$(metric "$c" tributary_tail_sampling_pending_traces)" == 0 ]]; do
  ((SECONDS < deadline)) || { echo "the collector did not receive and decide every trace" >&2; exit 1; }
  sleep 0.5
done
wait_drained "$c" 60
check_accounting "$c" spans

python3 - "$WORK/sent.jsonl" "$WORK/sink.jsonl" <<'PY'
import collections, json, sys

MASK = (1 << 64) - 1


def trace_hash(trace_id, salt=b""):
    h = 1469598103934665603
    for b in salt + trace_id:
        h ^= b
        h = (h * 1099511628211) & MASK
    for k in (0xff51afd7ed558ccd, 0xc4ceb9fe1a85ec53):
        h ^= h >> 33
        h = (h * k) & MASK
    return h ^ (h >> 33)


threshold = int(10 / 100.0 * 18446744073709551615.0)
sent = [json.loads(line) for line in open(sys.argv[1])]
want = {t["trace_id"] for t in sent
        if t["error"] or t["slow"] or trace_hash(bytes.fromhex(t["trace_id"])) < threshold}
spans = collections.Counter()
for line in open(sys.argv[2]):
    for rs in json.loads(line).get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                spans[s["traceId"].lower()] += 1
kept = set(spans)
problems = []
if kept != want:
    problems.append(f"kept {len(kept)} traces, expected {len(want)}: "
                    f"{len(kept - want)} unexpected, {len(want - kept)} missing")
broken = [t for t, n in spans.items() if n != 6]
if broken:
    problems.append(f"{len(broken)} kept traces not whole, e.g. {broken[:3]}")
errors = sum(t["error"] for t in sent)
slow = sum(t["slow"] for t in sent)
print(f"sent {len(sent)} traces ({errors} with errors, {slow} slow); kept {len(kept)}, "
      f"each of six spans")
sys.exit("\n".join(problems) if problems else 0)
PY
