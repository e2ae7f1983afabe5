#!/usr/bin/env bash
# SDK hot paths (Google Benchmark), medians of BENCH_RUNS repetitions:
# nanoseconds per operation for each thread, heap allocations per operation,
# next to an uncontended std::atomic fetch_add measured in the same binary.
#   bench/sdk/run.sh BUILD_DIR
set -euo pipefail
build=$1
runs=${BENCH_RUNS:-3}
out=$("$build/bench/sdk/tributary_sdk_bench" --benchmark_repetitions="$runs" \
  --benchmark_report_aggregates_only=true --benchmark_min_time=0.5 --benchmark_format=csv 2>/dev/null)
# Rows: "BM_CounterAddBound/3/real_time/threads:2_median",...,items_per_second,...,allocs_per_op,dropped
awk -F, -v runs="$runs" '
  function snake(s,   out, i, c) {
    out = ""
    for (i = 1; i <= length(s); i++) {
      c = substr(s, i, 1)
      if (c ~ /[A-Z]/) { if (i > 1) out = out "_"; c = tolower(c) }
      out = out c
    }
    return out
  }
  { gsub(/"/, "") }
  NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  runs == 1 || $1 ~ /_median$/ {
    sub(/_median$/, "", $1)
    n = split($1, part, "/")
    name = "sdk_" snake(substr(part[1], 4))
    threads = 1
    for (i = 2; i <= n; i++) {
      if (part[i] ~ /^threads:/) { threads = substr(part[i], 9) }
      else if (part[i] ~ /^[0-9]+$/) { name = name "_" part[i] (name ~ /extract/ ? "_tracestate" : "attrs") }
    }
    if (name ~ /extract_0_tracestate/) sub(/_0_tracestate/, "", name)
    else if (name ~ /extract_1_tracestate/) sub(/_1_tracestate/, "_with_tracestate", name)
    ips = $col["items_per_second"]
    suffix = threads == 1 ? "" : "_" threads "threads"
    printf "BENCH %s%s_ns %.1f ns/op\n", name, suffix, threads * 1e9 / ips
    if (threads == 1) printf "BENCH %s_allocs %.3f allocs/op\n", name, $col["allocs_per_op"]
    if (name ~ /span|log/) printf "BENCH %s%s_dropped %d records\n", name, suffix, $col["dropped"]
    rate[name, threads] = ips
    if (threads == 2 && rate[name, 1] > 0) printf "BENCH %s_2threads_speedup %.2f x\n", name, ips / rate[name, 1]
  }' <<<"$out"

# A service at full speed with the exporter off, then with the agent down:
# memory stays bounded, drops are counted, Shutdown keeps its deadline.
for mode in none down; do
  "$build/bench/sdk/tributary_sdk_agent_down" "$mode" "${BENCH_SDK_SECONDS:-10}" 2>/dev/null
done
