#!/usr/bin/env bash
# Commit on revoke against a real Kafka broker: a collector consumes spans
# with a commit interval that never comes (1 h) and acknowledges them all;
# a second collector joins the group. When the first one's partitions are
# revoked it commits what was acknowledged before they go, so the second
# one, at the end of every partition, has read nothing again.
#
#   kafka_revoke.sh TOOLS_DIR AGENT COLLECTOR
set -euo pipefail
TOOLS=$1
AGENT=$2
COLLECTOR=$3
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/kafka.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT

kport=$(free_port)
kafka_start kafka "$kport"
B=127.0.0.1:$kport
kafka_topic "$kport" otlp_spans 4
mkdir -p "$WORK/out"

a_grpc=$(free_port) a_admin=$(free_port)
A="http://127.0.0.1:$a_admin"
write_config "$WORK/agent.yaml" admin "$a_admin" \
  receiver otlp "$(otlp_receiver_body "$a_grpc")" \
  processor batch "timeout: 50ms" \
  exporter kafka "brokers: [$B]" \
  pipeline traces "otlp | batch | kafka"
declare -A C_ADMIN
collector() {
  local c=$1
  C_ADMIN[$c]=$(free_port)
  write_config "$WORK/$c.yaml" admin "${C_ADMIN[$c]}" \
    receiver kafka "brokers: [$B]
group_id: revoke
session_timeout: 6s
heartbeat_interval: 2s
commit_interval: 1h" \
    exporter file "path: $WORK/out/$c.jsonl" \
    pipeline traces "kafka | | file"
  start "$c" "$COLLECTOR" --config "$WORK/$c.yaml"
  wait_ready "http://127.0.0.1:${C_ADMIN[$c]}/readyz" 60
}
start agent "$AGENT" --config "$WORK/agent.yaml"
wait_ready "$A/readyz"
collector c1
"$TOOLS/tributary-fault-send" --endpoint "127.0.0.1:$a_grpc" --acked "$WORK/acked.txt" \
  --duration 5 --rate 20 >"$WORK/send.out" 2>&1
cat "$WORK/send.out"
deadline=$((SECONDS + 60))
until "$TOOLS/tributary-fault-check" --acked "$WORK/acked.txt" "$WORK/out/c1.jsonl" >/dev/null 2>&1; do
  ((SECONDS < deadline)) || { echo "c1 did not write every acknowledged span" >&2; exit 1; }
  sleep 0.5
done
echo "c1 wrote every span; its commit interval has not come"

collector c2
C1="http://127.0.0.1:${C_ADMIN[c1]}" C2="http://127.0.0.1:${C_ADMIN[c2]}"
# Until c2 holds partitions and has read each to its end.
deadline=$((SECONDS + 90))
until curl -fsS "$C2/metrics" | grep -c '^tributary_kafka_consumer_lag{' >/dev/null &&
  ! curl -fsS "$C2/metrics" | grep '^tributary_kafka_consumer_lag{' | grep -qv ' 0$'; do
  ((SECONDS < deadline)) || { echo "c2 did not get partitions or catch up" >&2; exit 1; }
  sleep 0.5
done
sleep 2 # a batch in flight to the file would be written by now
echo "c1: revocations $(metric "$C1" tributary_kafka_rebalances_total), commit errors" \
  "$(metric "$C1" tributary_kafka_commit_errors_total)"
consumed=$(metric "$C2" tributary_kafka_messages_consumed_total)
result=$("$TOOLS/tributary-fault-check" --acked "$WORK/acked.txt" "$WORK"/out/*)
echo "$result; c2 consumed $consumed messages"
duplicated=$(sed -n 's/.* duplicated=\([0-9]*\).*/\1/p' <<<"$result")
if ((consumed != 0 || duplicated != 0)); then
  echo "c2 read again what c1 had acknowledged: the revoked partitions were not committed" >&2
  exit 1
fi
echo "PASS: revoked partitions were committed up to what was acknowledged"
