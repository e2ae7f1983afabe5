#!/usr/bin/env bash
# The collector tier scaled out over Kafka (a real broker from Maven Central,
# tests/services/kafka.sh): spans already in a 12-partition topic are
# consumed by one collector, then by two in one consumer group, each
# collector pinned to its own core with taskset (the broker sharing both).
# Each collector folds the spans with spanmetrics and servicegraph into its
# prometheus exporter, as in the scaled-out topology. Prints the spans/s
# consumed (every span of the topic folded by a spanmetrics connector,
# counted by the collectors: tributary_exporter_sent_records_total of the
# connector, from 5% to 95% of the topic) for one and for two, and their
# ratio; medians of BENCH_RUNS.
# The topic is filled once, before the runs, by a collector with the kafka
# exporter fed by tributary-loadgen (not measured).
#   bench/scale_out/run.sh BUILD_DIR
set -euo pipefail
build=$1
runs=${BENCH_RUNS:-3}
seconds=${BENCH_SECONDS:-10}
source "$(dirname "$0")/../../tests/lib.sh"
source "$TESTS_DIR/services/kafka.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
source "$(dirname "$0")/../lib.sh"

kport=$(free_port)
kafka_start kafka "$kport"
kafka_pid=${PIDS[-1]}
B=127.0.0.1:$kport
kafka_topic "$kport" bench_spans 12 2>/dev/null

# The topic's spans: loadgen -> collector -> kafka, one message per trace.
grpc=$(free_port) admin=$(free_port)
write_config "$WORK/producer.yaml" admin "$admin" \
  receiver otlp "$(otlp_bulk_receiver_body "$grpc")" \
  exporter kafka "brokers: [$B]
traces:
  topic: bench_spans" \
  pipeline traces "otlp | | kafka"
start producer "$build/collector/tributary-collector" --config "$WORK/producer.yaml"
ppid=${PIDS[-1]}
wait_ready "http://127.0.0.1:$admin/readyz"
out=$("$build/bench/otlp_ingest/tributary-loadgen" --endpoint "127.0.0.1:$grpc" --threads 16 \
  --batch 500 --duration "$seconds" --routes 1000)
spans=$(sed -E 's/.* ([0-9]+) spans \(.*/\1/' <<<"$out")
wait_sent "http://127.0.0.1:$admin" "$spans" "$ppid"
kill -TERM "$ppid"
wait "$ppid" || true
PIDS=("$kafka_pid")
echo "topic filled: $spans spans" >&2

# consume GROUP CORE...: one collector per core, in consumer group GROUP,
# from the start of the topic; prints the spans/s until all were folded.
consume() {
  local group=$1 core admins=() pids=() t0= f0 t1 folded
  shift
  for core in "$@"; do
    local admin prom
    admin=$(free_port) prom=$(free_port)
    write_config "$WORK/c$core.yaml" admin "$admin" \
      receiver kafka "brokers: [$B]
group_id: $group
traces:
  topics: [bench_spans]" \
      exporter nop "" \
      exporter prometheus "endpoint: 127.0.0.1:$prom" \
      connector spanmetrics "resource_metrics_key_attributes: [service.name]" \
      connector servicegraph "" \
      pipeline traces "kafka | | nop spanmetrics servicegraph" \
      pipeline metrics "spanmetrics servicegraph | | prometheus"
    admins+=("$admin")
  done
  for core in "$@"; do
    start "c$core" taskset -c "$core" "$build/collector/tributary-collector" --config "$WORK/c$core.yaml"
    pids+=("${PIDS[-1]}")
  done
  # The rate from 5% to 95% of the spans folded: joining the group and the
  # last partitions' tails are left out.
  for ((;;)); do
    folded=0
    for admin in "${admins[@]}"; do
      folded=$((folded + $(metric "http://127.0.0.1:$admin" tributary_exporter_sent_records_total \
        'exporter="spanmetrics"' 2>/dev/null)))
    done
    [[ -z "${t0:-}" ]] && ((folded >= spans / 20)) && t0=$(date +%s.%N) f0=$folded
    ((folded >= spans * 19 / 20)) && break
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || { echo "collector $pid died" >&2; cat "$WORK"/c*.log >&2; exit 1; }
    done
    sleep 0.05
  done
  t1=$(date +%s.%N)
  for pid in "${pids[@]}"; do kill -TERM "$pid"; wait "$pid" || true; done
  PIDS=("$kafka_pid")
  awk -v n="$((folded - f0))" -v a="$t0" -v b="$t1" 'BEGIN {printf "%d\n", n / (b - a)}'
}

for run in $(seq "$runs"); do
  one=$(consume "one_$run" 0)
  two=$(consume "two_$run" 0 1)
  echo "run $run: one collector $one spans/s, two $two spans/s" >&2
  echo "$one" >>"$WORK/one"
  echo "$two" >>"$WORK/two"
  awk -v a="$one" -v b="$two" 'BEGIN {print b / a}' >>"$WORK/ratio"
done
echo "BENCH scale_out_one_collector_spans_per_s $(median <"$WORK/one") spans/s"
echo "BENCH scale_out_two_collectors_spans_per_s $(median <"$WORK/two") spans/s"
echo "BENCH scale_out_two_over_one $(median <"$WORK/ratio") x"
