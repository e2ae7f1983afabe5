#!/usr/bin/env bash
# StatsD: tributary-statsd-blast sends datagrams of 20 lines (counters with
# tags, gauges, timers with a sample rate, sets; 1,000 series) over UDP on
# loopback to the agent's statsd receiver, flushing every second to the nop
# exporter, as fast as it can (or BENCH_STATSD_RATE lines/s) for
# BENCH_SECONDS, so that the receiver is saturated. What the receiver
# handled is read from its own counter over a window inside the blast (after
# a second of warm-up, before the last second): lines/s handled, lines per
# CPU-second of the agent, and beside them the offered rate and the share of
# offered lines lost in the kernel's socket buffer; peak RSS of the agent.
# Medians of BENCH_RUNS runs.
#   bench/statsd/run.sh BUILD_DIR
set -euo pipefail
build=$1
runs=${BENCH_RUNS:-3}
seconds=${BENCH_SECONDS:-10}
rate=${BENCH_STATSD_RATE:-0}
((seconds >= 4)) || { echo "BENCH_SECONDS must be at least 4" >&2; exit 1; }
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
  "$build/bench/statsd/tributary-statsd-blast" "$port" "$seconds" "$rate" >"$WORK/sent" &
  blast=$!
  sleep 1 # warm-up: the window starts with the receiver already busy
  got0=$(metric "$A" tributary_statsd_lines_total)
  c0=$(cpu_ticks "$apid")
  t0=$(date +%s.%N)
  sleep $((seconds - 2))
  got1=$(metric "$A" tributary_statsd_lines_total)
  c1=$(cpu_ticks "$apid")
  t1=$(date +%s.%N)
  wait "$blast"
  sent=$(cat "$WORK/sent")
  # Every line of the blast that reached the receiver, once it has read its
  # socket buffer.
  total=$(metric "$A" tributary_statsd_lines_total)
  for _ in $(seq 50); do
    sleep 0.1
    now=$(metric "$A" tributary_statsd_lines_total)
    [[ "$now" == "$total" ]] && break
    total=$now
  done
  handled=$((got1 - got0))
  ((handled > 0)) || { echo "the receiver handled nothing in the window" >&2; exit 1; }
  awk -v n="$handled" -v s="$t0" -v e="$t1" 'BEGIN {printf "%d\n", n / (e - s)}' >>"$WORK/lines"
  awk -v n="$handled" -v t="$((c1 - c0))" -v hz="$tck" 'BEGIN {printf "%d\n", n / (t / hz)}' >>"$WORK/per_cpu"
  awk -v s="$sent" -v d="$seconds" 'BEGIN {printf "%d\n", s / d}' >>"$WORK/offered"
  awk -v g="$total" -v s="$sent" 'BEGIN {printf "%.2f\n", 100 * (s - g) / s}' >>"$WORK/lost"
  awk -v t="$((c1 - c0))" -v hz="$tck" -v n="$handled" 'BEGIN {printf "%.3f\n", t / hz / (n / 1e6)}' >>"$WORK/cpu"
  echo $(($(peak_rss_kib "$apid") / 1024)) >>"$WORK/rss"
  kill -TERM "$apid"; wait "$apid" || true
  PIDS=()
  echo "run $run: offered $sent lines, the receiver took $total, handled $handled in the window" >&2
done
echo "BENCH statsd_lines_per_s $(median <"$WORK/lines") lines/s"
echo "BENCH statsd_lines_per_cpu_s $(median <"$WORK/per_cpu") lines/cpu-s"
echo "BENCH statsd_offered_lines_per_s $(median <"$WORK/offered") lines/s"
echo "BENCH statsd_lost_percent $(median <"$WORK/lost") %"
echo "BENCH statsd_cpu_per_million_lines $(median <"$WORK/cpu") cpu-s"
echo "BENCH statsd_agent_peak_rss $(median <"$WORK/rss") MiB"
