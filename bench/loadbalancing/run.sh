#!/usr/bin/env bash
# The loadbalancing exporter against the otlp exporter, in one process with
# four OTLP receivers as backends: CPU-seconds per million spans for each
# and their ratio (medians of five).
#   bench/loadbalancing/run.sh BUILD_DIR
set -euo pipefail
"$1/bench/loadbalancing/tributary_loadbalancing_bench"
