#!/usr/bin/env bash
# Write-ahead buffer append throughput with each fsync policy, next to plain
# write(2) of the same bytes (the baseline), medians of BENCH_RUNS runs.
#   bench/buffer/run.sh BUILD_DIR
set -euo pipefail
build=$1
runs=${BENCH_RUNS:-3}
out=$("$build/bench/buffer/tributary_buffer_bench" --benchmark_repetitions="$runs" \
  --benchmark_format=csv 2>/dev/null)
# Rows: "BM_BufferAppend/<policy>/100/min_time:2.000/real_time_median",...,bytes_per_second,...
awk -F, -v names="always interval never" '
  BEGIN { split(names, policy, " ") }
  NR == 1 { for (i = 1; i <= NF; i++) if ($i == "bytes_per_second") col = i; next }
  $1 ~ /_median"?$/ {
    gsub(/"/, "", $1)
    split($1, part, "/")
    kind = part[1] == "BM_BufferAppend" ? "buffer_append" : "plain_write"
    printf "BENCH %s_%s_mib_per_s %.1f MiB/s\n", kind, policy[part[2] + 1], $col / 1048576
  }' <<<"$out"
