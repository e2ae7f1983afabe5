#!/usr/bin/env bash
# The collector's aggregating connectors and the tail_sampling processor.
#
# In one process (tributary_aggregation_bench): nanoseconds per span folded
# by spanmetrics (10,000 series) and servicegraph (every span a client or
# server side of a call), and taken, held and decided by tail_sampling with
# three policies, and per point merged by aggregate (three senders of 1,000
# counter series); heap allocations per span in steady state (medians of
# five), and the resident memory of spanmetrics' 10,000 series.
#
# End to end: tributary-loadgen sends spans of 4,400 routes (about 10,000
# span-metric series) as fast as the collector takes them, to a collector
# whose traces pipeline ends in the nop exporter, alone or beside the
# spanmetrics and servicegraph connectors feeding its prometheus exporter.
# The two are rotated in each run; the figures are the collector's CPU per
# million spans acknowledged and its peak RSS, and what the connectors add
# to each (medians of BENCH_RUNS runs).
#   bench/aggregation/run.sh BUILD_DIR
set -euo pipefail
build=$1
"$build/bench/aggregation/tributary_aggregation_bench"

runs=${BENCH_RUNS:-3}
seconds=${BENCH_SECONDS:-10}
source "$(dirname "$0")/../../tests/lib.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
source "$(dirname "$0")/../lib.sh"

for run in $(seq "$runs"); do
  for mode in plain connectors; do
    grpc=$(free_port) admin=$(free_port) prom=$(free_port)
    if [[ $mode == plain ]]; then
      write_config "$WORK/collector.yaml" admin "$admin" \
        receiver otlp "$(otlp_bulk_receiver_body "$grpc")" \
        exporter nop "" \
        pipeline traces "otlp | | nop"
    else
      write_config "$WORK/collector.yaml" admin "$admin" \
        receiver otlp "$(otlp_bulk_receiver_body "$grpc")" \
        exporter nop "" \
        exporter prometheus "endpoint: 127.0.0.1:$prom" \
        connector spanmetrics "metrics_flush_interval: 5s
resource_metrics_key_attributes: [service.name]" \
        connector servicegraph "metrics_flush_interval: 5s" \
        pipeline traces "otlp | | nop spanmetrics servicegraph" \
        pipeline metrics "spanmetrics servicegraph | | prometheus"
    fi
    PIDS=()
    start collector "$build/collector/tributary-collector" --config "$WORK/collector.yaml"
    pid=${PIDS[-1]}
    wait_ready "http://127.0.0.1:$admin/readyz"
    c0=$(cpu_ticks "$pid")
    out=$("$build/bench/otlp_ingest/tributary-loadgen" --endpoint "127.0.0.1:$grpc" \
      --threads 16 --batch 500 --duration "$seconds" --routes 4400)
    c1=$(cpu_ticks "$pid")
    spans=$(sed -E 's/.* ([0-9]+) spans \(.*/\1/' <<<"$out")
    echo "run $run ($mode): $out" >&2
    awk -v t=$((c1 - c0)) -v n="$spans" -v hz="$tck" 'BEGIN {print t / hz / (n / 1e6)}' \
      >>"$WORK/cpu_$mode.$run"
    echo $(($(peak_rss_kib "$pid") / 1024)) >"$WORK/rss_$mode.$run"
    if [[ $mode == connectors ]]; then
      # Until the first flush after the load has reached the exporter.
      deadline=$((SECONDS + 30))
      until series=$(curl -fsS "http://127.0.0.1:$prom/metrics" |
        grep -c '^traces_span_metrics_calls_total{') && ((series > 0)); do
        ((SECONDS < deadline)) || { echo "no span metrics were exported" >&2; exit 1; }
        sleep 0.5
      done
      echo "$series" >>"$WORK/series"
    fi
    kill -TERM "$pid"
    wait "$pid" || true
    PIDS=()
  done
  awk '{print $1}' "$WORK/cpu_plain.$run" >>"$WORK/cpu_plain"
  awk '{print $1}' "$WORK/cpu_connectors.$run" >>"$WORK/cpu_connectors"
  paste "$WORK/cpu_connectors.$run" "$WORK/cpu_plain.$run" | awk '{print $1 - $2}' >>"$WORK/cpu_added"
  cat "$WORK/rss_plain.$run" >>"$WORK/rss_plain"
  cat "$WORK/rss_connectors.$run" >>"$WORK/rss_connectors"
  echo $(($(cat "$WORK/rss_connectors.$run") - $(cat "$WORK/rss_plain.$run"))) >>"$WORK/rss_added"
done

echo "BENCH collector_spans_cpu_per_million_spans $(median <"$WORK/cpu_plain") cpu-s"
echo "BENCH collector_connectors_cpu_per_million_spans $(median <"$WORK/cpu_connectors") cpu-s"
echo "BENCH collector_connectors_added_cpu_per_million_spans $(median <"$WORK/cpu_added") cpu-s"
echo "BENCH collector_spans_peak_rss $(median <"$WORK/rss_plain") MiB"
echo "BENCH collector_connectors_peak_rss $(median <"$WORK/rss_connectors") MiB"
echo "BENCH collector_connectors_added_rss $(median <"$WORK/rss_added") MiB"
echo "BENCH collector_connectors_series $(median <"$WORK/series") series"
