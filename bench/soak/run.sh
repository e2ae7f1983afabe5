#!/usr/bin/env bash
# Soak: agent → collector (both with their write-ahead buffer) under a steady
# mix of spans, logs and metric points at about half the benchmarked
# capacity. Samples both processes' resident memory every 10 s; after the
# warm-up (the first fifth of the run) it must stay within 10% of its value
# at the end of the warm-up: the highest sample of the warm-up's last minute,
# since a batch in flight moves it by several MiB from one sample to the next;
# and every request of the load generator must succeed. With --asan the
# sanitizer builds run instead (default 5 minutes) and the check is
# LeakSanitizer's report at exit.
#
#   bench/soak/run.sh [--asan]
#
# SOAK_SECONDS (default 1800, 300 with --asan), SOAK_RATE requests/s of 500
# records each over all connections (default 100: 50,000 records/s).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
asan=0
[[ "${1:-}" == "--asan" ]] && asan=1
cd "$root"
scripts/install-deps
if ((asan)); then
  scripts/build asan >/dev/null
  scripts/build release >/dev/null  # the load generator
  build=$root/build/asan
  seconds=${SOAK_SECONDS:-300}
else
  scripts/build release >/dev/null
  build=$root/build/release
  seconds=${SOAK_SECONDS:-1800}
fi
rate=${SOAK_RATE:-100}
source "$root/tests/lib.sh"
WORK=$(mktemp -d)
trap cleanup EXIT

c_grpc=$(free_port) c_admin=$(free_port) a_grpc=$(free_port) a_admin=$(free_port)
write_config "$WORK/collector.yaml" admin "$c_admin" \
  receiver otlp "$(otlp_receiver_body "$c_grpc")" \
  processor batch "" \
  exporter file "path: $WORK/sink.jsonl
rotation:
  max_megabytes: 64
  max_backups: 1" \
  service "buffer: {directory: $WORK/collector-buffer}" \
  pipelines "otlp | batch | file"
write_config "$WORK/agent.yaml" admin "$a_admin" \
  receiver otlp "$(otlp_receiver_body "$a_grpc")" \
  processor batch "" \
  exporter otlp "$(otlp_exporter_body "$c_grpc")" \
  service "buffer: {directory: $WORK/agent-buffer}" \
  pipelines "otlp | batch | otlp"

export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
start collector "$build/collector/tributary-collector" --config "$WORK/collector.yaml"
cpid=${PIDS[-1]}
start agent "$build/agent/tributary-agent" --config "$WORK/agent.yaml"
apid=${PIDS[-1]}
wait_ready "http://127.0.0.1:$c_admin/readyz" 60
wait_ready "http://127.0.0.1:$a_admin/readyz" 60
"$root/build/release/bench/otlp_ingest/tributary-loadgen" --endpoint "127.0.0.1:$a_grpc" \
  --threads 32 --batch 500 --rate "$rate" --signals traces,logs,metrics --duration "$seconds" \
  >"$WORK/loadgen.out" &
lpid=$!

rss_mib() { awk '/VmRSS/ {printf "%d\n", $2 / 1024}' "/proc/$1/status"; }
echo "seconds agent_mib collector_mib" >"$WORK/rss"
elapsed=0
while kill -0 "$lpid" 2>/dev/null; do
  sleep 10
  elapsed=$((elapsed + 10))
  echo "$elapsed $(rss_mib "$apid") $(rss_mib "$cpid")" | tee -a "$WORK/rss"
done
# Under the sanitizers the pipeline is slower than the load: refusals and
# timeouts are backpressure there, not a failure of the soak. In a release
# run every request must succeed.
loadgen_ok=1
wait "$lpid" || loadgen_ok=0
cat "$WORK/loadgen.out"
failed=$(sed -n 's/.* \([0-9][0-9]*\) failed$/\1/p' "$WORK/loadgen.out")
[[ -n "$failed" ]] || { echo "the load generator printed no summary" >&2; exit 1; }
for pid in "${PIDS[@]}"; do kill -TERM "$pid"; done
for pid in "${PIDS[@]}"; do wait "$pid" || true; done
PIDS=()

if ((asan)); then
  if grep -l "ERROR: \(LeakSanitizer\|AddressSanitizer\)\|runtime error" "$WORK"/*.log; then
    grep -h -A30 "ERROR: \|runtime error" "$WORK"/*.log | head -80
    echo "SOAK asan_clean 0 bool"
    exit 1
  fi
  echo "SOAK asan_clean 1 bool"
  exit 0
fi
awk 'NR > 1 { b = int(($1 - 1) / 300); n[b]++; sa[b] += $2; sc[b] += $3
               if ($2 > ma[b]) ma[b] = $2; if ($3 > mc[b]) mc[b] = $3; if (b > last) last = b }
     END { for (i = 0; i <= last; i++)
             printf "minutes %d-%d: agent mean %.1f max %d MiB, collector mean %.1f max %d MiB\n",
                    i * 5, i * 5 + 5, sa[i] / n[i], ma[i], sc[i] / n[i], mc[i] }' "$WORK/rss"
# After the warm-up, resident memory stays within 10% of where it stood.
warmup=$((seconds / 5))
awk -v w="$warmup" '
  NR == 1 { next }
  $1 <= w - 60 { next }
  $1 <= w { if ($2 > base_a) base_a = $2; if ($3 > base_c) base_c = $3; next }
  { if ($2 > max_a) max_a = $2; if ($3 > max_c) max_c = $3 }
  END {
    printf "SOAK agent_rss_after_warmup %d MiB\nSOAK agent_rss_max %d MiB\n", base_a, max_a
    printf "SOAK collector_rss_after_warmup %d MiB\nSOAK collector_rss_max %d MiB\n", base_c, max_c
    ok = (max_a <= base_a * 1.1) && (max_c <= base_c * 1.1)
    printf "SOAK rss_within_10_percent %d bool\n", ok
    exit ok ? 0 : 1
  }' "$WORK/rss" || rss_ok=0
echo "SOAK failed_requests $failed requests"
if ((failed > 0 || !loadgen_ok)); then
  echo "the load generator saw $failed failed requests" >&2
  exit 1
fi
((${rss_ok:-1})) || exit 1
