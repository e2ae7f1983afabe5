#!/usr/bin/env bash
# Tail: a pre-written 1 GiB CRI log (about 3.9 million lines of ~275 bytes)
# read from the beginning by the agent's tail receiver (format cri)
#   1. to the nop exporter (discards): the receiver and the pipeline alone;
#   2. through the agent to the collector's file sink (OTLP/gRPC between
#      them), the agent without and with a write-ahead buffer (names ending
#      in `_buffered`);
#   3. spread over 100 files of 10 MiB each, to the nop exporter: peak RSS with
#      100 files open (nop exporter).
# Prints MiB/s, lines/s, CPU-seconds per GiB and peak RSS (medians of
# BENCH_RUNS runs) next to `cat FILE > /dev/null` measured in the same run.
# The file is cached in BENCH_CACHE (default /var/tmp/tributary-bench).
#   bench/tail/run.sh BUILD_DIR
set -euo pipefail
build=$1
runs=${BENCH_RUNS:-3}
cache=${BENCH_CACHE:-/var/tmp/tributary-bench}
source "$(dirname "$0")/../../tests/lib.sh"
WORK=$(mktemp -d)
trap cleanup EXIT

source "$(dirname "$0")/../lib.sh"

big_cri "$cache"
if [[ ! -f "$cache/many/099.log" ]]; then
  mkdir -p "$cache/many"
  for i in $(seq -w 0 99); do write_cri "$cache/many/0$i.log" $((10 << 20)); done
fi
many_lines=$(cat "$cache"/many/*.log | wc -l)

# agent_config FILE INCLUDE EXPORTER EXPORTER_SETTINGS [SERVICE_SETTINGS]:
# tail → batch → EXPORTER.
agent_config() {
  write_config "$1" admin "$a_admin" \
    receiver tail "$(tail_cri_body "$2" "$WORK/checkpoints")" \
    processor batch "" \
    exporter "$3" "$4" \
    service "${5:-}" \
    pipeline logs "tail | batch | $3"
}

for run in $(seq "$runs"); do
  # Baseline: cat of the same file, page cache warm.
  cat "$big" >/dev/null
  t0=$(date +%s.%N)
  cat "$big" >/dev/null
  t1=$(date +%s.%N)
  awk -v b="$big_bytes" -v s="$t0" -v e="$t1" 'BEGIN {printf "%.1f\n", b / 1048576 / (e - s)}' >>"$WORK/cat.mibs"

  # 1. tail → nop. The receiver starts reading at once, so the clock starts
  # before the process does and includes its start-up.
  a_admin=$(free_port)
  agent_config "$WORK/agent.yaml" "$big" nop ""
  PIDS=()
  t0=$(date +%s.%N)
  start agent "$build/agent/tributary-agent" --config "$WORK/agent.yaml"
  apid=${PIDS[-1]}
  wait_sent "http://127.0.0.1:$a_admin" "$big_lines" "$apid"
  t1=$(date +%s.%N)
  ticks=$(cpu_ticks "$apid")
  awk -v b="$big_bytes" -v s="$t0" -v e="$t1" 'BEGIN {printf "%.1f\n", b / 1048576 / (e - s)}' >>"$WORK/null.mibs"
  awk -v n="$big_lines" -v s="$t0" -v e="$t1" 'BEGIN {printf "%d\n", n / (e - s)}' >>"$WORK/null.lines"
  awk -v t="$ticks" -v hz="$tck" -v b="$big_bytes" 'BEGIN {printf "%.2f\n", t / hz / (b / 1073741824)}' >>"$WORK/null.cpu"
  echo $(($(peak_rss_kib "$apid") / 1024)) >>"$WORK/null.rss"
  kill -TERM "$apid"; wait "$apid" || true
  rm -rf "$WORK/checkpoints"

  # 2. tail → agent → collector → file sink, the agent without and with its
  # write-ahead buffer.
  c_admin=$(free_port) c_grpc=$(free_port)
  write_config "$WORK/collector.yaml" admin "$c_admin" \
    receiver otlp "$(otlp_bulk_receiver_body "$c_grpc")" \
    processor batch "" \
    exporter file "path: $WORK/sink.jsonl
rotation:
  max_megabytes: 256
  max_backups: 1" \
    pipeline logs "otlp | batch | file"
  for buffered in off on; do
    PIDS=()
    start collector "$build/collector/tributary-collector" --config "$WORK/collector.yaml"
    cpid=${PIDS[-1]}
    wait_ready "http://127.0.0.1:$c_admin/readyz"
    a_admin=$(free_port)
    agent_config "$WORK/agent.yaml" "$big" otlp "$(otlp_exporter_body "$c_grpc" "compression: none")" \
      "$([[ $buffered == on ]] && buffer_service "$WORK/agent-buffer")"
    agent_tail_run "sink_buffer_$buffered" "$WORK/agent.yaml" "$a_admin"
    kill -TERM "$cpid"; wait "$cpid" || true
    PIDS=()
    rm -rf "$WORK/checkpoints" "$WORK/agent-buffer" "$WORK"/sink.jsonl*
  done

  # 3. 100 files → nop: peak RSS with 100 files open.
  a_admin=$(free_port)
  agent_config "$WORK/agent.yaml" "$cache/many/*.log" nop ""
  start agent "$build/agent/tributary-agent" --config "$WORK/agent.yaml"
  apid=${PIDS[-1]}
  wait_sent "http://127.0.0.1:$a_admin" "$many_lines" "$apid"
  echo "run $run: open files $(metric "http://127.0.0.1:$a_admin" tributary_tail_open_files)" >&2
  echo $(($(peak_rss_kib "$apid") / 1024)) >>"$WORK/many.rss"
  kill -TERM "$apid"; wait "$apid" || true
  PIDS=()
  rm -rf "$WORK/checkpoints"
  echo "run $run: cat $(tail -1 "$WORK/cat.mibs") MiB/s, nop $(tail -1 "$WORK/null.mibs") MiB/s," \
    "sink $(tail -1 "$WORK/sink_buffer_off.mibs") / $(tail -1 "$WORK/sink_buffer_on.mibs") MiB/s" \
    "(buffer off / on)" >&2
done

echo "BENCH tail_cat_baseline_mib_per_s $(median <"$WORK/cat.mibs") MiB/s"
echo "BENCH tail_cri_to_nop_mib_per_s $(median <"$WORK/null.mibs") MiB/s"
echo "BENCH tail_cri_to_nop_lines_per_s $(median <"$WORK/null.lines") lines/s"
echo "BENCH tail_cri_to_nop_cpu_per_gib $(median <"$WORK/null.cpu") cpu-s"
echo "BENCH tail_cri_to_nop_peak_rss $(median <"$WORK/null.rss") MiB"
print_tail_pair sink tail_cri_to_collector_file_mib_per_s \
  tail_cri_to_collector_agent_cpu_per_gib tail_cri_to_collector_agent_peak_rss
echo "BENCH tail_100_files_peak_rss $(median <"$WORK/many.rss") MiB"
