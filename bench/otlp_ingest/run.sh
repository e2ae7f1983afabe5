#!/usr/bin/env bash
# OTLP ingest: tributary-loadgen sends spans over OTLP/gRPC to the agent,
# which forwards them to the collector, which writes them to its file sink.
# Prints spans/s acknowledged to the sender, spans/s delivered (the time until
# the collector has written the last one), CPU-seconds per million spans
# and peak RSS of each process, medians of BENCH_RUNS runs; and, as a
# baseline from the same run, spans/s sent straight to the collector.
# BENCH_BUFFER=on gives both processes a write-ahead buffer (fsync interval)
# and adds `_buffered` to the names.
#   bench/otlp_ingest/run.sh BUILD_DIR
set -euo pipefail
build=$1
runs=${BENCH_RUNS:-3}
seconds=${BENCH_SECONDS:-10}
threads=${BENCH_THREADS:-32}
batch=${BENCH_BATCH:-500}
suffix=
if [[ "${BENCH_BUFFER:-off}" == on ]]; then suffix=_buffered; fi
# buffer_settings DIR: the service settings, a write-ahead buffer in DIR when
# buffering is on (BENCH_BUFFER_EXTRA: more buffer settings, one per line).
buffer_settings() {
  [[ -n "$suffix" ]] && printf 'buffer:\n  directory: %s\n  max_size: 2GiB\n%s' "$1" \
    "$(sed '/^$/d; s/^/  /' <<<"${BENCH_BUFFER_EXTRA:-}")"
  return 0
}
source "$(dirname "$0")/../../tests/lib.sh"
WORK=$(mktemp -d)
trap cleanup EXIT

source "$(dirname "$0")/../lib.sh"

for run in $(seq "$runs"); do
  c_grpc=$(free_port) c_admin=$(free_port) a_grpc=$(free_port) a_admin=$(free_port)
  write_config "$WORK/collector.yaml" admin "$c_admin" \
    receiver otlp "$(otlp_bulk_receiver_body "$c_grpc")" \
    processor batch "" \
    exporter file "path: $WORK/sink.jsonl
rotation:
  max_megabytes: 512
  max_backups: 1" \
    service "$(buffer_settings "$WORK/collector-buffer")" \
    pipeline traces "otlp | batch | file"
  write_config "$WORK/agent.yaml" admin "$a_admin" \
    receiver otlp "$(otlp_receiver_body "$a_grpc")" \
    processor batch "" \
    exporter otlp "$(otlp_exporter_body "$c_grpc" "compression: none")" \
    service "$(buffer_settings "$WORK/agent-buffer")" \
    pipeline traces "otlp | batch | otlp"
  PIDS=()
  start collector "$build/collector/tributary-collector" --config "$WORK/collector.yaml"
  cpid=${PIDS[-1]}
  start agent "$build/agent/tributary-agent" --config "$WORK/agent.yaml"
  apid=${PIDS[-1]}
  wait_ready "http://127.0.0.1:$c_admin/readyz"
  wait_ready "http://127.0.0.1:$a_admin/readyz"

  a0=$(cpu_ticks "$apid") c0=$(cpu_ticks "$cpid")
  t0=$(date +%s.%N)
  out=$("$build/bench/otlp_ingest/tributary-loadgen" --endpoint "127.0.0.1:$a_grpc" \
    --threads "$threads" --batch "$batch" --duration "$seconds")
  spans=$(sed -E 's/.* ([0-9]+) spans \(.*/\1/' <<<"$out")
  rate=$(sed -E 's/.*\(([0-9]+) spans\/s\).*/\1/' <<<"$out")
  # Delivered: until the collector's file exporter has written every span.
  until (($(metric "http://127.0.0.1:$c_admin" tributary_exporter_sent_records_total) >= spans)); do
    sleep 0.05
  done
  t1=$(date +%s.%N)
  a1=$(cpu_ticks "$apid") c1=$(cpu_ticks "$cpid")
  echo "run $run (agent): $out" >&2
  echo "$rate" >>"$WORK/rate"
  awk -v n="$spans" -v a="$t0" -v b="$t1" 'BEGIN {printf "%d\n", n / (b - a)}' >>"$WORK/delivered"
  awk -v t=$((a1 - a0)) -v n="$spans" -v hz="$tck" 'BEGIN {print t / hz / (n / 1e6)}' >>"$WORK/agent_cpu"
  awk -v t=$((c1 - c0)) -v n="$spans" -v hz="$tck" 'BEGIN {print t / hz / (n / 1e6)}' >>"$WORK/collector_cpu"
  echo $(($(peak_rss_kib "$apid") / 1024)) >>"$WORK/agent_rss"
  echo $(($(peak_rss_kib "$cpid") / 1024)) >>"$WORK/collector_rss"

  # Baseline in the same run: one hop, straight to the collector.
  out=$("$build/bench/otlp_ingest/tributary-loadgen" --endpoint "127.0.0.1:$c_grpc" \
    --threads "$threads" --batch "$batch" --duration "$seconds")
  echo "run $run (direct): $out" >&2
  sed -E 's/.*\(([0-9]+) spans\/s\).*/\1/' <<<"$out" >>"$WORK/direct_rate"
  cleanup_pids() { for pid in "${PIDS[@]}"; do kill -TERM "$pid"; wait "$pid" || true; done; PIDS=(); }
  cleanup_pids
  rm -rf "$WORK"/sink.jsonl* "$WORK"/*-buffer
done

echo "BENCH otlp_ingest_spans_per_s$suffix $(median <"$WORK/rate") spans/s"
echo "BENCH otlp_ingest_delivered_spans_per_s$suffix $(median <"$WORK/delivered") spans/s"
echo "BENCH otlp_ingest_agent_cpu_per_million_spans$suffix $(median <"$WORK/agent_cpu") cpu-s"
echo "BENCH otlp_ingest_collector_cpu_per_million_spans$suffix $(median <"$WORK/collector_cpu") cpu-s"
echo "BENCH otlp_ingest_agent_peak_rss$suffix $(median <"$WORK/agent_rss") MiB"
echo "BENCH otlp_ingest_collector_peak_rss$suffix $(median <"$WORK/collector_rss") MiB"
echo "BENCH otlp_ingest_direct_to_collector_spans_per_s$suffix $(median <"$WORK/direct_rate") spans/s"
