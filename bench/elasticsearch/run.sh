#!/usr/bin/env bash
# Elasticsearch exporter, default settings (ECS mapping, data streams,
# 5,000 documents or 5 MiB a bulk request, no compression):
#   1. the agent tails the 1 GiB CRI file of bench/tail from the beginning
#      into the elasticsearch exporter, to tributary-bulk-sink (a _bulk
#      endpoint that reads and counts but indexes nothing, so the figure is
#      ours alone): MiB/s of the file, CPU-seconds per GiB and peak RSS of
#      the agent, without and with its write-ahead buffer (names ending in
#      `_buffered`);
#   2. tributary-loadgen sends log records (500 a request, 32 connections)
#      over OTLP/gRPC to a collector with
#      a buffer, whose elasticsearch exporter writes them to the bulk sink,
#      and then to a real Elasticsearch 8 (tests/services/elasticsearch.sh):
#      documents/s and MiB/s of bulk bodies, CPU-seconds per GiB of bodies
#      and peak RSS of the collector.
# Medians of BENCH_RUNS runs.
#   bench/elasticsearch/run.sh BUILD_DIR
set -euo pipefail
build=$1
runs=${BENCH_RUNS:-3}
seconds=${BENCH_SECONDS:-10}
cache=${BENCH_CACHE:-/var/tmp/tributary-bench}
source "$(dirname "$0")/../../tests/lib.sh"
source "$TESTS_DIR/services/elasticsearch.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
source "$(dirname "$0")/../lib.sh"

big_cri "$cache"

sink_port=$(free_port)
start sink "$build/bench/elasticsearch/tributary-bulk-sink" "$sink_port"
SINK=http://127.0.0.1:$sink_port
wait_ready "$SINK/stats"
es_port=$(free_port)
es_start es "$es_port"
ES=http://127.0.0.1:$es_port
base_pids=("${PIDS[@]}")

# collector_run NAME URL: loadgen logs → collector → elasticsearch exporter at URL.
collector_run() {
  local name=$1 url=$2 c_grpc c_admin C cpid c0 c1 t0 t1 out logs bytes
  c_grpc=$(free_port) c_admin=$(free_port)
  C="http://127.0.0.1:$c_admin"
  write_config "$WORK/collector.yaml" admin "$c_admin" \
    receiver otlp "$(otlp_bulk_receiver_body "$c_grpc")" \
    processor batch "" \
    exporter elasticsearch "endpoints: [$url]
namespace: bench" \
    service "buffer:
  directory: $WORK/collector-buffer
  max_size: 4GiB" \
    pipeline logs "otlp | batch | elasticsearch"
  start collector "$build/collector/tributary-collector" --config "$WORK/collector.yaml"
  cpid=${PIDS[-1]}
  wait_ready "$C/readyz"
  c0=$(cpu_ticks "$cpid")
  t0=$(date +%s.%N)
  out=$("$build/bench/otlp_ingest/tributary-loadgen" --endpoint "127.0.0.1:$c_grpc" \
    --threads 32 --batch 5000 --duration "$seconds" --signals logs)
  logs=$(sed -E 's/.* ([0-9]+) logs.*/\1/' <<<"$out")
  wait_sent "$C" "$logs" "$cpid"
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$cpid")
  bytes=$(metric "$C" tributary_elasticsearch_sent_bytes_total)
  awk -v n="$logs" -v s="$t0" -v e="$t1" 'BEGIN {printf "%d\n", n / (e - s)}' >>"$WORK/$name.docs"
  awk -v b="$bytes" -v s="$t0" -v e="$t1" 'BEGIN {printf "%.1f\n", b / 1048576 / (e - s)}' >>"$WORK/$name.mibs"
  awk -v t="$((c1 - c0))" -v hz="$tck" -v b="$bytes" 'BEGIN {printf "%.2f\n", t / hz / (b / 1073741824)}' >>"$WORK/$name.cpu"
  echo $(($(peak_rss_kib "$cpid") / 1024)) >>"$WORK/$name.rss"
  kill -TERM "$cpid"; wait "$cpid" || true
  PIDS=("${base_pids[@]}")
  rm -rf "$WORK/collector-buffer"
  echo "run $run: $name $(tail -1 "$WORK/$name.docs") docs/s $(tail -1 "$WORK/$name.mibs") MiB/s" \
    "$(tail -1 "$WORK/$name.cpu") cpu-s/GiB $(tail -1 "$WORK/$name.rss") MiB" >&2
}

for run in $(seq "$runs"); do
  # 1. tail → elasticsearch exporter → bulk sink, in the agent, without
  # and with its write-ahead buffer.
  for buffered in off on; do
    a_admin=$(free_port)
    write_config "$WORK/agent.yaml" admin "$a_admin" \
      receiver tail "$(tail_cri_body "$big" "$WORK/checkpoints")" \
      processor batch "" \
      exporter elasticsearch "endpoints: [$SINK]" \
      service "$([[ $buffered == on ]] && buffer_service "$WORK/agent-buffer")" \
      pipeline logs "tail | batch | elasticsearch"
    agent_tail_run "tail_buffer_$buffered" "$WORK/agent.yaml" "$a_admin"
    rm -rf "$WORK/checkpoints" "$WORK/agent-buffer"
  done

  # 2. loadgen → collector → bulk sink, then → Elasticsearch.
  collector_run sink "$SINK"
  collector_run es "$ES"
  curl -fsS -XDELETE "$ES/_data_stream/logs-generic-bench" >/dev/null 2>&1 ||
    curl -fsS -XDELETE "$ES/logs-generic-bench" >/dev/null 2>&1 || true
done

print_tail_pair tail elasticsearch_tail_cri_to_sink_mib_per_s \
  elasticsearch_tail_cri_agent_cpu_per_gib elasticsearch_tail_cri_agent_peak_rss
for name in sink es; do
  echo "BENCH elasticsearch_logs_to_${name}_docs_per_s $(median <"$WORK/$name.docs") docs/s"
  echo "BENCH elasticsearch_logs_to_${name}_mib_per_s $(median <"$WORK/$name.mibs") MiB/s"
  echo "BENCH elasticsearch_logs_to_${name}_collector_cpu_per_gib $(median <"$WORK/$name.cpu") cpu-s"
  echo "BENCH elasticsearch_logs_to_${name}_collector_peak_rss $(median <"$WORK/$name.rss") MiB"
done
