#!/usr/bin/env bash
# Against a real Apache Kafka broker (KRaft, one node; tests/services/kafka.sh):
#
# 1. The OpenTelemetry JS SDK sends spans, logs and metrics to
#    tributary-agent, which forwards them to tributary-collector, whose kafka
#    exporter produces them (spans and metrics as otlp_proto, logs as
#    otlp_json). kcat reads the topics back; an independent decoder checks
#    every message, its key and the partition of every trace, and check.cjs
#    compares every record field by field with what the SDK sent.
# 2. The broker is stopped for 30 s and restarted while tributary-fault-send
#    streams spans into an agent that exports straight to Kafka through its
#    write-ahead buffer: every span the agent acknowledged reaches the topic,
#    and the agent uses little CPU while it waits.
#
#   kafka_e2e.sh TOOLS_DIR AGENT COLLECTOR
set -euo pipefail
TOOLS=$1
AGENT=$2
COLLECTOR=$3
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/kafka.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
NODE_PATH=$(interop_modules)
export NODE_PATH
N=${E2E_RECORDS:-200}
OUTAGE=${KAFKA_OUTAGE:-30}

kport=$(free_port)
kafka_start kafka "$kport"
B=127.0.0.1:$kport
kafka_topic "$kport" otlp_spans 6
kafka_topic "$kport" otlp_logs 3
kafka_topic "$kport" otlp_metrics 3
kafka_topic "$kport" outage_spans 3

# --- 1. agent -> collector -> Kafka, every field checked ---------------------
c_grpc=$(free_port) c_admin=$(free_port)
a_grpc=$(free_port) a_http=$(free_port) a_admin=$(free_port)
write_config "$WORK/collector.yaml" admin "$c_admin" \
  receiver otlp "$(otlp_receiver_body "$c_grpc")" \
  processor batch "$BATCH_100MS" \
  exporter kafka "brokers: [$B]
logs:
  encoding: otlp_json
producer:
  compression: zstd" \
  pipelines "otlp | batch | kafka"
write_config "$WORK/agent.yaml" admin "$a_admin" \
  receiver otlp "$(otlp_receiver_body "$a_grpc" "$a_http")" \
  processor batch "$BATCH_100MS" \
  exporter otlp "$(otlp_exporter_body "$c_grpc")" \
  pipelines "otlp | batch | otlp"
start collector "$COLLECTOR" --config "$WORK/collector.yaml"
start agent "$AGENT" --config "$WORK/agent.yaml"
wait_ready "http://127.0.0.1:$c_admin/readyz"
wait_ready "http://127.0.0.1:$a_admin/readyz"

node "$TESTS_DIR/interop/send.cjs" --transport http --endpoint "http://127.0.0.1:$a_http" \
  --run "http-$$" --n "$N" --out "$WORK/expected-http.json"
node "$TESTS_DIR/interop/send.cjs" --transport grpc --endpoint "http://127.0.0.1:$a_grpc" \
  --run "grpc-$$" --n "$N" --out "$WORK/expected-grpc.json"

# Until the collector has exported all it accepted.
C="http://127.0.0.1:$c_admin"
deadline=$((SECONDS + 60))
until (($(metric "$C" tributary_receiver_accepted_records_total) > 0)) &&
  [[ $(metric "$C" tributary_exporter_sent_records_total) == \
    "$(metric "$C" tributary_receiver_accepted_records_total)" ]]; do
  ((SECONDS < deadline)) || { echo "the collector did not export everything" >&2; exit 1; }
  sleep 0.3
done

for t in otlp_spans otlp_logs otlp_metrics; do
  kcat -C -b "$B" -t "$t" -e -q -f '%p %k %S\n%s\n' >"$WORK/$t.dump"
done
node "$TESTS_DIR/interop/kafka_decode.cjs" --out "$WORK/kafka.jsonl" --dump \
  "$WORK/otlp_spans.dump:traces:otlp_proto,$WORK/otlp_logs.dump:logs:otlp_json,$WORK/otlp_metrics.dump:metrics:otlp_proto"
node "$TESTS_DIR/interop/check.cjs" --sink "$WORK/kafka.jsonl" \
  --expected "$WORK/expected-http.json,$WORK/expected-grpc.json" \
  --agent "http://127.0.0.1:$a_admin" --collector "$C"
echo "kafka delivery reports: $(metric "$C" tributary_kafka_messages_produced_total) messages," \
  "$(metric "$C" tributary_kafka_delivery_errors_total) errors"
for pid in "${PIDS[@]:1}"; do kill -TERM "$pid"; done
for pid in "${PIDS[@]:1}"; do wait "$pid"; done
PIDS=("${PIDS[0]}")

# --- 2. the broker down for $OUTAGE s mid-stream -----------------------------
a_grpc=$(free_port) a_admin=$(free_port)
A="http://127.0.0.1:$a_admin"
write_config "$WORK/agent2.yaml" admin "$a_admin" \
  receiver otlp "$(otlp_receiver_body "$a_grpc")" \
  processor batch "timeout: 50ms" \
  exporter kafka "brokers: [$B]
traces:
  topic: outage_spans
$RETRY_UNTIL_DELIVERED" \
  service "buffer:
  directory: $WORK/agent-buffer
  max_size: 256MiB
  when_full: block" \
  pipeline traces "otlp | batch | kafka"
start agent2 "$AGENT" --config "$WORK/agent2.yaml"
AGENT_PID=$!
wait_ready "$A/readyz"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

"$TOOLS/tributary-fault-send" --endpoint "127.0.0.1:$a_grpc" --acked "$WORK/acked.txt" \
  --duration $((OUTAGE + 15)) --rate 20 >"$WORK/send.out" 2>&1 &
SENDER=$!
sleep 5
kafka_stop kafka
echo "broker stopped"
before=$(cpu_ticks "$AGENT_PID")
sleep "$OUTAGE"
after=$(cpu_ticks "$AGENT_PID")
kafka_restart kafka
echo "broker restarted after $OUTAGE s"
wait "$SENDER"
cat "$WORK/send.out"
hz=$(getconf CLK_TCK)
cpu=$(((after - before) * 100 / hz))
echo "agent CPU while the broker was down: $((cpu / 100)).$((cpu % 100 / 10)) s in $OUTAGE s"
# Receiving and buffering the stream costs a little; waiting must not spin.
if ((cpu > OUTAGE * 100 * 30 / 100)); then
  echo "the agent used more than 30% of a CPU while waiting for the broker" >&2
  exit 1
fi
wait_drained "$A" 180
check_accounting "$A" spans
kcat -C -b "$B" -t outage_spans -e -q -f '%p %k %S\n%s\n' >"$WORK/outage.dump"
node "$TESTS_DIR/interop/kafka_decode.cjs" --out "$WORK/outage.jsonl" \
  --dump "$WORK/outage.dump:traces:otlp_proto"
"$TOOLS/tributary-fault-check" --acked "$WORK/acked.txt" "$WORK/outage.jsonl"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
echo "agent stopped cleanly"
