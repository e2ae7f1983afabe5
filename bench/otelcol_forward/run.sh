#!/usr/bin/env bash
# One OTLP/gRPC forwarding hop side by side with the OpenTelemetry Collector
# v0.160.0 (built by tests/services/otelcol.sh): tributary-loadgen (32
# connections, 500-span requests) sends spans to the forwarder, which batches
# them and sends them on uncompressed to one sink (a tributary-collector that
# counts and drops them). The forwarder is Tributary's agent (otlp → batch →
# otlp) or the Collector (otlp → batch → otlp_grpc), taking turns within each
# run. Prints, for each, spans/s acknowledged, spans/s delivered to the sink,
# CPU-seconds per million spans of the forwarder and its peak RSS, medians of
# BENCH_RUNS runs; and the Collector's CPU per span over Tributary's.
#   bench/otelcol_forward/run.sh BUILD_DIR
set -euo pipefail
build=$1
runs=${BENCH_RUNS:-3}
seconds=${BENCH_SECONDS:-10}
source "$(dirname "$0")/../../tests/lib.sh"
source "$(dirname "$0")/../../tests/services/otelcol.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
source "$(dirname "$0")/../lib.sh"
OTELCOL=$(otelcol_install)

for run in $(seq "$runs"); do
  for forwarder in tributary otelcol; do
    s_grpc=$(free_port) s_admin=$(free_port) f_grpc=$(free_port) f_admin=$(free_port)
    write_config "$WORK/sink.yaml" admin "$s_admin" \
      receiver otlp "$(otlp_bulk_receiver_body "$s_grpc")" \
      exporter nop "" \
      pipeline traces "otlp | | nop"
    PIDS=()
    start sink "$build/collector/tributary-collector" --config "$WORK/sink.yaml"
    wait_ready "http://127.0.0.1:$s_admin/readyz"
    if [[ "$forwarder" == tributary ]]; then
      write_config "$WORK/forwarder.yaml" admin "$f_admin" \
        receiver otlp "$(otlp_bulk_receiver_body "$f_grpc")" \
        processor batch "" \
        exporter otlp "$(otlp_exporter_body "$s_grpc" "compression: none")" \
        pipeline traces "otlp | batch | otlp"
      start forwarder "$build/agent/tributary-agent" --config "$WORK/forwarder.yaml"
      wait_ready "http://127.0.0.1:$f_admin/readyz"
    else
      otelcol_write_config "$WORK/forwarder.yaml" \
        receiver otlp "$(otlp_bulk_receiver_body "$f_grpc")" \
        processor batch "" \
        exporter otlp_grpc "$(otlp_exporter_body "$s_grpc" "compression: none")" \
        pipeline traces "otlp | batch | otlp_grpc"
      start forwarder "$OTELCOL" --config "$WORK/forwarder.yaml"
      wait_ready "http://127.0.0.1:$OTELCOL_HEALTH_PORT/" 60
    fi
    fpid=${PIDS[-1]}
    f0=$(cpu_ticks "$fpid")
    t0=$(date +%s.%N)
    out=$("$build/bench/otlp_ingest/tributary-loadgen" --endpoint "127.0.0.1:$f_grpc" \
      --threads 32 --batch 500 --duration "$seconds")
    spans=$(sed -E 's/.* ([0-9]+) spans \(.*/\1/' <<<"$out")
    # Delivered: until the sink has taken every acknowledged span.
    deadline=$((SECONDS + 120))
    until (($(metric "http://127.0.0.1:$s_admin" tributary_receiver_accepted_records_total) >= spans)); do
      ((SECONDS < deadline)) || { echo "$forwarder did not deliver every span" >&2; exit 1; }
      sleep 0.05
    done
    t1=$(date +%s.%N)
    f1=$(cpu_ticks "$fpid")
    echo "run $run ($forwarder): $out" >&2
    sed -E 's/.*\(([0-9]+) spans\/s\).*/\1/' <<<"$out" >>"$WORK/${forwarder}_rate"
    awk -v n="$spans" -v a="$t0" -v b="$t1" 'BEGIN {printf "%d\n", n / (b - a)}' >>"$WORK/${forwarder}_delivered"
    awk -v t=$((f1 - f0)) -v n="$spans" -v hz="$tck" 'BEGIN {print t / hz / (n / 1e6)}' >>"$WORK/${forwarder}_cpu"
    echo $(($(peak_rss_kib "$fpid") / 1024)) >>"$WORK/${forwarder}_rss"
    for pid in "${PIDS[@]}"; do kill -TERM "$pid"; wait "$pid" || true; done
    PIDS=()
  done
done

for forwarder in tributary otelcol; do
  echo "BENCH forward_${forwarder}_spans_per_s $(median <"$WORK/${forwarder}_rate") spans/s"
  echo "BENCH forward_${forwarder}_delivered_spans_per_s $(median <"$WORK/${forwarder}_delivered") spans/s"
  echo "BENCH forward_${forwarder}_cpu_per_million_spans $(median <"$WORK/${forwarder}_cpu") cpu-s"
  echo "BENCH forward_${forwarder}_peak_rss $(median <"$WORK/${forwarder}_rss") MiB"
done
echo "BENCH forward_otelcol_over_tributary_cpu $(awk -v a="$(median <"$WORK/otelcol_cpu")" \
  -v b="$(median <"$WORK/tributary_cpu")" 'BEGIN {printf "%.2f\n", a / b}') x"
