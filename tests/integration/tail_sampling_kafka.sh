#!/usr/bin/env bash
# Tail sampling survives a collector's crash in the Kafka topology: an agent
# exports spans to a real Kafka broker (one trace per message, keyed by
# trace id); a collector consumes them into its tail_sampling processor
# (errors and slow traces kept) and file sink. The processor holds the
# acknowledgements of undecided traces, so the Kafka receiver does not
# commit past them: after a SIGKILL while traces are waiting for their
# decision, a new collector in the same consumer group reads them again.
# Every error and slow trace must then be in the sinks whole (its six
# spans), and nothing else.
#   tail_sampling_kafka.sh AGENT COLLECTOR
set -euo pipefail
AGENT=$1
COLLECTOR=$2
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/kafka.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
NODE_PATH=$(interop_modules)
export NODE_PATH
N=${TAIL_SAMPLING_KAFKA_TRACES:-3000}

kport=$(free_port)
kafka_start kafka "$kport"
B=127.0.0.1:$kport
kafka_topic "$kport" otlp_spans 3

a_grpc=$(free_port) a_admin=$(free_port)
write_config "$WORK/agent.yaml" admin "$a_admin" \
  receiver otlp "$(otlp_receiver_body "$a_grpc")" \
  processor batch "$BATCH_100MS" \
  exporter kafka "brokers: [$B]" \
  service "buffer: {directory: $WORK/agent-buffer}" \
  pipeline traces "otlp | batch | kafka"
start agent "$AGENT" --config "$WORK/agent.yaml"
wait_ready "http://127.0.0.1:$a_admin/readyz"

# collector NAME: one member of the consumer group, writing to its own sink.
collector() {
  local admin
  admin=$(free_port)
  write_config "$WORK/$1.yaml" admin "$admin" \
    receiver kafka "brokers: [$B]
group_id: sampling
session_timeout: 6s
heartbeat_interval: 2s
commit_interval: 200ms" \
    processor tail_sampling "decision_wait: 4s
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: slow, type: latency, latency: {threshold_ms: 500}}" \
    exporter file "path: $WORK/sink-$1.jsonl" \
    pipeline traces "kafka | tail_sampling | file"
  start "$1" "$COLLECTOR" --config "$WORK/$1.yaml"
  wait_ready "http://127.0.0.1:$admin/readyz"
  ADMIN=$admin
}
collector first
first_pid=${PIDS[-1]}
first_admin=$ADMIN

node "$TESTS_DIR/interop/sampling_traces.cjs" --a "http://127.0.0.1:$a_grpc" \
  --b "http://127.0.0.1:$a_grpc" --n "$N" --out "$WORK/sent.jsonl"
wait_drained "http://127.0.0.1:$a_admin" 60
# Once the collector holds undecided traces, it dies.
deadline=$((SECONDS + 60))
until (($(metric "http://127.0.0.1:$first_admin" tributary_tail_sampling_pending_traces) > 0)); do
  ((SECONDS < deadline)) || { echo "the collector never held a trace" >&2; exit 1; }
  sleep 0.1
done
echo "killing the collector with $(metric "http://127.0.0.1:$first_admin" \
  tributary_tail_sampling_pending_traces) traces undecided"
kill -KILL "$first_pid"
wait "$first_pid" || true

collector second
second_admin=$ADMIN
# Until the second collector has read the topic to its end and decided.
deadline=$((SECONDS + 120))
until (($(metric "http://127.0.0.1:$second_admin" tributary_kafka_messages_consumed_total) > 0)) &&
  [[ "$(metric "http://127.0.0.1:$second_admin" tributary_kafka_consumer_lag)" == 0 ]] &&
  [[ "$(metric "http://127.0.0.1:$second_admin" tributary_tail_sampling_pending_traces)" == 0 ]]; do
  ((SECONDS < deadline)) || { echo "the second collector did not catch up" >&2; exit 1; }
  sleep 0.5
done

python3 - "$WORK/sent.jsonl" "$WORK"/sink-*.jsonl <<'PY'
import collections, json, sys

sent = [json.loads(line) for line in open(sys.argv[1])]
want = {t["trace_id"] for t in sent if t["error"] or t["slow"]}
spans = collections.defaultdict(set)  # trace -> distinct span ids (copies allowed)
for path in sys.argv[2:]:
    try:
        lines = open(path).readlines()
    except FileNotFoundError:
        continue
    for line in lines:
        for rs in json.loads(line).get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    spans[s["traceId"].lower()].add(s["spanId"])
kept = set(spans)
problems = []
if kept != want:
    problems.append(f"kept {len(kept)} traces, expected the {len(want)} error and slow ones: "
                    f"{len(want - kept)} missing, {len(kept - want)} others")
broken = [t for t in kept if len(spans[t]) != 6]
if broken:
    problems.append(f"{len(broken)} kept traces not whole")
print(f"{len(want)} error and slow traces of {len(sent)}: all kept whole" if not problems else "")
sys.exit("\n".join(problems) if problems else 0)
PY
