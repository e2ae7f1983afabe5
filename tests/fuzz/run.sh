#!/usr/bin/env bash
# Runs every fuzz target from its seed corpus for SECONDS each (default 20;
# CI runs them briefly, run longer by hand or from bench/). New inputs go to
# a scratch corpus, not into the checked-in seeds; a crash fails the run and
# leaves its input in build/fuzz/crashes/.
#   tests/fuzz/run.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-20}
bin=$root/build/fuzz/tests/fuzz
crashes=$root/build/fuzz/crashes
mkdir -p "$crashes"
for target in otlp_proto otlp_json wire wire_request span_view otlp_json_wire otlp_wire_check http_request decompress config buffer_segment log_line k8s_watch es_bulk_response es_document statsd_line exposition trace_context; do
  scratch=$(mktemp -d)
  echo "== fuzz $target (${seconds}s)"
  status=0
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$bin/${target}_fuzz" "$scratch" "$root/tests/fuzz/corpus/$target" \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$crashes/${target}-" -print_final_stats=1 >"$scratch.log" 2>&1 || status=$?
  grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)" "$scratch.log" || true
  rm -rf "$scratch"
  if ((status != 0)); then
    tail -n 60 "$scratch.log"
    rm -f "$scratch.log"
    echo "fuzz target $target failed; input in $crashes" >&2
    exit 1
  fi
  rm -f "$scratch.log"
done
