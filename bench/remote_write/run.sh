#!/usr/bin/env bash
# Remote-write throughput to a local receiver (100,000 series, 10 rounds),
# medians of BENCH_RUNS runs.
#   bench/remote_write/run.sh BUILD_DIR
set -euo pipefail
build=$1
"$build/bench/remote_write/tributary_remote_write_bench" 100000 10 "${BENCH_RUNS:-3}"
