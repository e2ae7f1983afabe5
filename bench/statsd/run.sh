#!/usr/bin/env bash
# StatsD: tributary-statsd-blast sends datagrams of 20 lines (counters with
# tags, gauges, timers with a sample rate, sets; 1,000 series) over UDP on
# loopback to the agent's statsd receiver, flushing every second to the nop
# exporter, at a fixed offered rate (BENCH_STATSD_RATE lines/s, default
# 3,000,000) for BENCH_SECONDS. Prints lines/s the receiver took in, the
# share of lines lost in the kernel's socket buffer, CPU-seconds per million
# lines and peak RSS of the agent. Medians of BENCH_RUNS runs.
#   bench/statsd/run.sh BUILD_DIR
set -euo pipefail
build=$1
runs=${BENCH_RUNS:-3}
seconds=${BENCH_SECONDS:-10}
rate=${BENCH_STATSD_RATE:-3000000}
source "$(dirname "$0")/../../tests/lib.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
source "$(dirname "$0")/../lib.sh"

for run in $(seq "$runs"); do
  port=$(free_port) a_admin=$(free_port)
  A="http://127.0.0.1:$a_admin"
  write_config "$WORK/agent.yaml" admin "$a_admin" \
    receiver statsd "endpoint: 127.0.0.1:$port
flush_interval: 1s" \
    exporter nop "" \
    pipeline metrics "statsd | | nop"
  start agent "$build/agent/tributary-agent" --config "$WORK/agent.yaml"
  apid=${PIDS[-1]}
  wait_ready "$A/readyz"
  c0=$(cpu_ticks "$apid")
  t0=$(date +%s.%N)
  sent=$("$build/bench/statsd/tributary-statsd-blast" "$port" "$seconds" "$rate")
  sleep 0.5
  t1=$(date +%s.%N)
  got=$(metric "$A" tributary_statsd_lines_total)
  c1=$(cpu_ticks "$apid")
  awk -v n="$got" -v s="$t0" -v e="$t1" 'BEGIN {printf "%d\n", n / (e - s)}' >>"$WORK/lines"
  awk -v g="$got" -v s="$sent" 'BEGIN {printf "%.2f\n", 100 * (s - g) / s}' >>"$WORK/lost"
  awk -v t="$((c1 - c0))" -v hz="$tck" -v n="$got" 'BEGIN {printf "%.2f\n", t / hz / (n / 1e6)}' >>"$WORK/cpu"
  echo $(($(peak_rss_kib "$apid") / 1024)) >>"$WORK/rss"
  kill -TERM "$apid"; wait "$apid" || true
  PIDS=()
  echo "run $run: sent $sent, received $got lines" >&2
done
echo "BENCH statsd_lines_per_s $(median <"$WORK/lines") lines/s"
echo "BENCH statsd_lost_percent $(median <"$WORK/lost") %"
echo "BENCH statsd_cpu_per_million_lines $(median <"$WORK/cpu") cpu-s"
echo "BENCH statsd_agent_peak_rss $(median <"$WORK/rss") MiB"
