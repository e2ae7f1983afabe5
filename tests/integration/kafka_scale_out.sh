#!/usr/bin/env bash
# The scale-out topology against a real Kafka broker: an agent exports spans
# to Kafka, two collectors consume the topic as one consumer group into their
# file sinks. One collector is killed with SIGKILL mid-stream; the other takes
# its partitions over from the last committed offsets. Every span the agent
# acknowledged must reach a sink; copies are allowed only for what the killed
# collector wrote after its last commit, so their number is bounded by a
# commit interval's worth of the stream.
#
#   kafka_scale_out.sh TOOLS_DIR AGENT COLLECTOR
set -euo pipefail
TOOLS=$1
AGENT=$2
COLLECTOR=$3
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/kafka.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
SECONDS_STREAM=${KAFKA_STREAM_SECONDS:-25}
RATE=20 # requests per second per sender thread, 2 threads of 50 spans
COMMIT_MS=500

kport=$(free_port)
kafka_start kafka "$kport"
B=127.0.0.1:$kport
kafka_topic "$kport" otlp_spans 6
mkdir -p "$WORK/out"

a_grpc=$(free_port) a_admin=$(free_port)
A="http://127.0.0.1:$a_admin"
write_config "$WORK/agent.yaml" admin "$a_admin" \
  receiver otlp "$(otlp_receiver_body "$a_grpc")" \
  processor batch "timeout: 50ms" \
  exporter kafka "brokers: [$B]
producer:
  compression: lz4" \
  service "buffer: {directory: $WORK/agent-buffer}" \
  pipeline traces "otlp | batch | kafka"
declare -A C_ADMIN C_PID
for c in c1 c2; do
  C_ADMIN[$c]=$(free_port)
  write_config "$WORK/$c.yaml" admin "${C_ADMIN[$c]}" \
    receiver kafka "brokers: [$B]
group_id: collectors
session_timeout: 6s
heartbeat_interval: 2s
commit_interval: ${COMMIT_MS}ms" \
    exporter file "path: $WORK/out/$c.jsonl" \
    pipeline traces "kafka | | file"
  start "$c" "$COLLECTOR" --config "$WORK/$c.yaml"
  C_PID[$c]=$!
done
start agent "$AGENT" --config "$WORK/agent.yaml"
wait_ready "$A/readyz"
for c in c1 c2; do
  wait_ready "http://127.0.0.1:${C_ADMIN[$c]}/readyz"
done
# Until the group has settled with partitions on both members.
deadline=$((SECONDS + 60))
until curl -fsS "http://127.0.0.1:${C_ADMIN[c1]}/metrics" | grep -c '^tributary_kafka_consumer_lag{' >/dev/null &&
  curl -fsS "http://127.0.0.1:${C_ADMIN[c2]}/metrics" | grep -c '^tributary_kafka_consumer_lag{' >/dev/null; do
  ((SECONDS < deadline)) || { echo "the consumer group did not assign both collectors" >&2; exit 1; }
  sleep 0.5
done
echo "both collectors have partitions"

"$TOOLS/tributary-fault-send" --endpoint "127.0.0.1:$a_grpc" --acked "$WORK/acked.txt" \
  --duration "$SECONDS_STREAM" --rate "$RATE" >"$WORK/send.out" 2>&1 &
SENDER=$!
sleep $((SECONDS_STREAM / 2))
kill -KILL "${C_PID[c1]}"
echo "c1 killed with SIGKILL after $((SECONDS_STREAM / 2)) s"
wait "$SENDER"
cat "$WORK/send.out"
wait_drained "$A" 120
check_accounting "$A" spans

# Until c2 has written every acknowledged span (it takes c1's partitions
# over once c1's session times out).
deadline=$((SECONDS + 90))
until "$TOOLS/tributary-fault-check" --acked "$WORK/acked.txt" "$WORK"/out/* >/dev/null 2>&1; do
  ((SECONDS < deadline)) || break
  sleep 1
done
result=$("$TOOLS/tributary-fault-check" --acked "$WORK/acked.txt" "$WORK"/out/*)
echo "$result"
C2="http://127.0.0.1:${C_ADMIN[c2]}"
echo "c2: rebalances $(metric "$C2" tributary_kafka_rebalances_total), consumed" \
  "$(metric "$C2" tributary_kafka_messages_consumed_total) messages"
duplicated=$(sed -n 's/.* duplicated=\([0-9]*\).*/\1/p' <<<"$result")
# The uncommitted window: what c1 handed on since its last commit, at most a
# commit interval of the stream plus the batch in flight; twice that bounds it.
bound=$((2 * RATE * 50 * 2 * COMMIT_MS / 1000 + 8192))
echo "duplicated=$duplicated (bound $bound: the killed collector's uncommitted window)"
if ((duplicated > bound)); then
  echo "more copies than the uncommitted window explains" >&2
  exit 1
fi
