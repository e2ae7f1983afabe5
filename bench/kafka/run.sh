#!/usr/bin/env bash
# Kafka exporter against a real broker (Apache Kafka from Maven Central,
# tests/services/kafka.sh), on loopback:
#   1. the agent tails the 1 GiB CRI file of bench/tail from the beginning
#      straight into the kafka exporter: MiB/s of the file until the last
#      record has its delivery report, CPU-seconds per GiB and peak RSS of the
#      agent, without and with its write-ahead buffer (names ending in
#      `_buffered`);
#   2. tributary-loadgen sends spans over OTLP/gRPC to the collector, which
#      keeps them in its write-ahead buffer for its kafka exporter to produce
#      (one message per trace): spans/s and MiB/s of message values
#      delivered, CPU-seconds per GiB and peak RSS of the collector; next to
#      `kcat -P` producing the same number of messages of the same mean size
#      in the same run.
# Medians of BENCH_RUNS runs.
#   bench/kafka/run.sh BUILD_DIR
set -euo pipefail
build=$1
runs=${BENCH_RUNS:-3}
seconds=${BENCH_SECONDS:-10}
cache=${BENCH_CACHE:-/var/tmp/tributary-bench}
source "$(dirname "$0")/../../tests/lib.sh"
source "$TESTS_DIR/services/kafka.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
source "$(dirname "$0")/../lib.sh"

big_cri "$cache"

kport=$(free_port)
kafka_start kafka "$kport"
kafka_pid=${PIDS[-1]}
B=127.0.0.1:$kport

drop_topic() {
  java -cp "$(kafka_install)/lib/*" -Dlog4j2.configurationFile="$(kafka_install)/log4j2.properties" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$B" --delete --topic "$1" >/dev/null 2>&1 || true
}

for run in $(seq "$runs"); do
  # 1. tail → kafka exporter, in the agent, without and with its
  # write-ahead buffer.
  for buffered in off on; do
    topic=bench_logs_${run}_$buffered
    kafka_topic "$kport" "$topic" 6 2>/dev/null
    a_admin=$(free_port)
    write_config "$WORK/agent.yaml" admin "$a_admin" \
      receiver tail "$(tail_cri_body "$big" "$WORK/checkpoints")" \
      processor batch "" \
      exporter kafka "brokers: [$B]
logs:
  topic: $topic
sending_queue:
  num_consumers: ${BENCH_KAFKA_CONSUMERS:-4}" \
      service "$([[ $buffered == on ]] && buffer_service "$WORK/agent-buffer")" \
      pipeline logs "tail | batch | kafka"
    agent_tail_run "tail_buffer_$buffered" "$WORK/agent.yaml" "$a_admin"
    rm -rf "$WORK/checkpoints" "$WORK/agent-buffer"
    drop_topic "$topic"
  done

  # 2. loadgen → collector → kafka exporter; then kcat -P with the same load.
  topic=bench_spans_$run
  kafka_topic "$kport" "$topic" 6 2>/dev/null
  c_grpc=$(free_port) c_admin=$(free_port)
  C="http://127.0.0.1:$c_admin"
  write_config "$WORK/collector.yaml" admin "$c_admin" \
    receiver otlp "$(otlp_bulk_receiver_body "$c_grpc")" \
    processor batch "" \
    exporter kafka "brokers: [$B]
traces:
  topic: $topic" \
    service "buffer:
  directory: $WORK/collector-buffer
  max_size: 2GiB" \
    pipeline traces "otlp | batch | kafka"
  start collector "$build/collector/tributary-collector" --config "$WORK/collector.yaml"
  cpid=${PIDS[-1]}
  wait_ready "$C/readyz"
  c0=$(cpu_ticks "$cpid")
  t0=$(date +%s.%N)
  out=$("$build/bench/otlp_ingest/tributary-loadgen" --endpoint "127.0.0.1:$c_grpc" \
    --threads 32 --batch 500 --duration "$seconds")
  spans=$(sed -E 's/.* ([0-9]+) spans \(.*/\1/' <<<"$out")
  wait_sent "$C" "$spans" "$cpid"
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$cpid")
  bytes=$(metric "$C" tributary_kafka_produced_bytes_total)
  messages=$(metric "$C" tributary_kafka_messages_produced_total)
  awk -v n="$spans" -v s="$t0" -v e="$t1" 'BEGIN {printf "%d\n", n / (e - s)}' >>"$WORK/spans.rate"
  awk -v b="$bytes" -v s="$t0" -v e="$t1" 'BEGIN {printf "%.1f\n", b / 1048576 / (e - s)}' >>"$WORK/spans.mibs"
  awk -v t="$((c1 - c0))" -v hz="$tck" -v b="$bytes" 'BEGIN {printf "%.2f\n", t / hz / (b / 1073741824)}' >>"$WORK/spans.cpu"
  echo $(($(peak_rss_kib "$cpid") / 1024)) >>"$WORK/spans.rss"
  kill -TERM "$cpid"; wait "$cpid" || true
  PIDS=("$kafka_pid")
  rm -rf "$WORK/collector-buffer"
  drop_topic "$topic"

  # kcat -P: as many messages of the mean size, one per line.
  size=$((bytes / messages))
  python3 -c "
import sys
line = b'x' * ($size - 1) + b'\n'
with open('$WORK/kcat.in', 'wb') as f:
    for _ in range($messages):
        f.write(line)
"
  topic=bench_kcat_$run
  kafka_topic "$kport" "$topic" 6 2>/dev/null
  t0=$(date +%s.%N)
  kcat -P -b "$B" -t "$topic" -X acks=all -X enable.idempotence=true -X linger.ms=5 \
    -X queue.buffering.max.messages=1000000 -l "$WORK/kcat.in"
  t1=$(date +%s.%N)
  awk -v b="$bytes" -v s="$t0" -v e="$t1" 'BEGIN {printf "%.1f\n", b / 1048576 / (e - s)}' >>"$WORK/kcat.mibs"
  rm -f "$WORK/kcat.in"
  drop_topic "$topic"
  echo "run $run: spans→kafka $(tail -1 "$WORK/spans.rate") spans/s" \
    "$(tail -1 "$WORK/spans.mibs") MiB/s ($messages messages of $size bytes); kcat -P $(tail -1 "$WORK/kcat.mibs") MiB/s" >&2
done

print_tail_pair tail kafka_tail_cri_mib_per_s \
  kafka_tail_cri_agent_cpu_per_gib kafka_tail_cri_agent_peak_rss
echo "BENCH kafka_spans_per_s $(median <"$WORK/spans.rate") spans/s"
echo "BENCH kafka_spans_mib_per_s $(median <"$WORK/spans.mibs") MiB/s"
echo "BENCH kafka_spans_collector_cpu_per_gib $(median <"$WORK/spans.cpu") cpu-s"
echo "BENCH kafka_spans_collector_peak_rss $(median <"$WORK/spans.rss") MiB"
echo "BENCH kafka_kcat_produce_baseline_mib_per_s $(median <"$WORK/kcat.mibs") MiB/s"
