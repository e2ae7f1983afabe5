#!/usr/bin/env bash
# Scrape of the prometheus exporter holding 100,000 and 1,000,000 series
# (each size in its own process, for its peak RSS), medians of BENCH_RUNS.
#   bench/prometheus/run.sh BUILD_DIR
set -euo pipefail
build=$1
runs=${BENCH_RUNS:-3}
for series in 100000 1000000; do
  "$build/bench/prometheus/tributary_prometheus_scrape_bench" "$series" "$runs"
done
