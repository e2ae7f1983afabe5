#!/usr/bin/env bash
# OTLP ingest: tributary-loadgen sends spans over OTLP/gRPC to the agent,
# which forwards them to the collector, which writes them to its file sink.
# Prints spans/s acknowledged to the sender, spans/s delivered (the time until
# the collector has written the last one), CPU-seconds per million spans
# and peak RSS of each process, medians of BENCH_RUNS runs; and, as a
# baseline from the same run, spans/s sent straight to the collector.
# BENCH_BUFFER=on gives both processes a write-ahead buffer (fsync interval)
# and adds `_buffered` to the names. The agent → collector hop is measured
# over each of BENCH_HOPS in every run (default: OTLP/gRPC uncompressed and
# with gzip, OTLP/HTTP with gzip and with zstd, and uncompressed gRPC again
# with the agent's tap points off and with one tap open); the figures of a
# hop other than uncompressed gRPC are named after it (`_grpc_gzip`,
# `_http_zstd`, `_grpc_taps_off`...), and the tap points' cost is given in
# percent of the agent's CPU per span without them. With the buffer off, the
# run ends with one forwarding hop through the agent alone and through the
# OpenTelemetry Collector, side by side (bench/otelcol_forward).
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

hops=${BENCH_HOPS:-grpc grpc_taps_off grpc_tap_open grpc_gzip http_gzip http_zstd}
# hop_exporter HOP: the agent's exporter to the collector over HOP.
hop_exporter() {
  case "$1" in
    grpc | grpc_taps_off | grpc_tap_open) echo otlp; otlp_exporter_body "$c_grpc" "compression: none" ;;
    grpc_gzip) echo otlp; otlp_exporter_body "$c_grpc" "compression: gzip" ;;
    http_gzip) echo otlphttp; printf 'endpoint: http://127.0.0.1:%s\ncompression: gzip\n' "$c_http" ;;
    http_zstd) echo otlphttp; printf 'endpoint: http://127.0.0.1:%s\ncompression: zstd\n' "$c_http" ;;
    *) echo "unknown hop $1" >&2; return 1 ;;
  esac
}
# hop_name HOP: the figures' suffix.
hop_name() { [[ "$1" == grpc ]] || echo "_$1"; }

for run in $(seq "$runs"); do
 for hop in $hops; do
  h=$(hop_name "$hop")
  c_grpc=$(free_port) c_http=$(free_port) c_admin=$(free_port) a_grpc=$(free_port) a_admin=$(free_port)
  exporter_type=$(hop_exporter "$hop" | head -1)
  exporter_body=$(hop_exporter "$hop" | tail -n +2)
  write_config "$WORK/collector.yaml" admin "$c_admin" \
    receiver otlp "$(otlp_bulk_receiver_body "$c_grpc")
  http:
    endpoint: 127.0.0.1:$c_http
    max_request_body_size: 256MiB
    max_decompressed_body_size: 256MiB" \
    processor batch "" \
    exporter file "path: $WORK/sink.jsonl
rotation:
  max_megabytes: 512
  max_backups: 1" \
    service "$(buffer_settings "$WORK/collector-buffer")" \
    pipeline traces "otlp | batch | file"
  # grpc_taps_off: the agent without tap points; grpc_tap_open: with one tap
  # open on its batch processor all along, at the default rate.
  taps=true
  [[ "$hop" == grpc_taps_off ]] && taps=false
  write_config "$WORK/agent.yaml" \
    receiver otlp "$(otlp_receiver_body "$a_grpc")" \
    processor batch "" \
    exporter "$exporter_type" "$exporter_body" \
    service "admin:
  endpoint: 127.0.0.1:$a_admin
  tap:
    enabled: $taps
$(buffer_settings "$WORK/agent-buffer")" \
    pipeline traces "otlp | batch | $exporter_type"
  PIDS=()
  start collector "$build/collector/tributary-collector" --config "$WORK/collector.yaml"
  cpid=${PIDS[-1]}
  start agent "$build/agent/tributary-agent" --config "$WORK/agent.yaml"
  apid=${PIDS[-1]}
  wait_ready "http://127.0.0.1:$c_admin/readyz"
  wait_ready "http://127.0.0.1:$a_admin/readyz"

  tapper=
  if [[ "$hop" == grpc_tap_open ]]; then
    (while curl -s -o /dev/null --max-time 70 \
      "http://127.0.0.1:$a_admin/api/v1/tap?component=batch&duration=60s&limit=1000000"; do :; done) &
    tapper=$!
    until curl -s "http://127.0.0.1:$a_admin/api/v1/status" | grep -q '"taps_open":1'; do sleep 0.05; done
  fi
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
  echo "run $run (agent, $hop hop): $out" >&2
  echo "$rate" >>"$WORK/rate$h"
  awk -v n="$spans" -v a="$t0" -v b="$t1" 'BEGIN {printf "%d\n", n / (b - a)}' >>"$WORK/delivered$h"
  awk -v t=$((a1 - a0)) -v n="$spans" -v hz="$tck" 'BEGIN {print t / hz / (n / 1e6)}' >>"$WORK/agent_cpu$h"
  awk -v t=$((c1 - c0)) -v n="$spans" -v hz="$tck" 'BEGIN {print t / hz / (n / 1e6)}' >>"$WORK/collector_cpu$h"
  echo $(($(peak_rss_kib "$apid") / 1024)) >>"$WORK/agent_rss$h"
  echo $(($(peak_rss_kib "$cpid") / 1024)) >>"$WORK/collector_rss$h"

  if [[ "$hop" == grpc ]]; then
    # Baseline in the same run: one hop, straight to the collector.
    out=$("$build/bench/otlp_ingest/tributary-loadgen" --endpoint "127.0.0.1:$c_grpc" \
      --threads "$threads" --batch "$batch" --duration "$seconds")
    echo "run $run (direct): $out" >&2
    sed -E 's/.*\(([0-9]+) spans\/s\).*/\1/' <<<"$out" >>"$WORK/direct_rate"
  fi
  if [[ -n "$tapper" ]]; then kill "$tapper"; wait "$tapper" 2>/dev/null || true; fi
  cleanup_pids() { for pid in "${PIDS[@]}"; do kill -TERM "$pid"; wait "$pid" || true; done; PIDS=(); }
  cleanup_pids
  rm -rf "$WORK"/sink.jsonl* "$WORK"/*-buffer
 done
done

for hop in $hops; do
  h=$(hop_name "$hop")
  echo "BENCH otlp_ingest_spans_per_s$h$suffix $(median <"$WORK/rate$h") spans/s"
  echo "BENCH otlp_ingest_delivered_spans_per_s$h$suffix $(median <"$WORK/delivered$h") spans/s"
  echo "BENCH otlp_ingest_agent_cpu_per_million_spans$h$suffix $(median <"$WORK/agent_cpu$h") cpu-s"
  echo "BENCH otlp_ingest_collector_cpu_per_million_spans$h$suffix $(median <"$WORK/collector_cpu$h") cpu-s"
  echo "BENCH otlp_ingest_agent_peak_rss$h$suffix $(median <"$WORK/agent_rss$h") MiB"
  echo "BENCH otlp_ingest_collector_peak_rss$h$suffix $(median <"$WORK/collector_rss$h") MiB"
done
# What tap points cost: the agent's CPU per span with them (no tap open), and
# with one tap open, against the agent without them, in percent.
if [[ -s "$WORK/agent_cpu_grpc_taps_off" && -s "$WORK/agent_cpu" ]]; then
  off=$(median <"$WORK/agent_cpu_grpc_taps_off")
  awk -v on="$(median <"$WORK/agent_cpu")" -v off="$off" \
    -v s="$suffix" \
    'BEGIN {printf "BENCH otlp_ingest_tap_points_agent_cpu_cost%s %.1f %%\n", s, (on / off - 1) * 100}'
  if [[ -s "$WORK/agent_cpu_grpc_tap_open" ]]; then
    awk -v on="$(median <"$WORK/agent_cpu_grpc_tap_open")" -v off="$off" \
      -v s="$suffix" \
      'BEGIN {printf "BENCH otlp_ingest_tap_open_agent_cpu_cost%s %.1f %%\n", s, (on / off - 1) * 100}'
  fi
fi
if [[ -s "$WORK/direct_rate" ]]; then
  echo "BENCH otlp_ingest_direct_to_collector_spans_per_s$suffix $(median <"$WORK/direct_rate") spans/s"
fi
# The same forwarding hop through the OpenTelemetry Collector, beside the
# agent alone between the load generator and a sink (bench/otelcol_forward),
# in this run: its BENCH forward_* lines follow. Buffer off, as the
# Collector has none; BENCH_OTELCOL=off skips it.
if [[ -z "$suffix" && "${BENCH_OTELCOL:-on}" == on ]]; then
  "$(dirname "$0")/../otelcol_forward/run.sh" "$build"
fi
