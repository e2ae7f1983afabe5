#!/usr/bin/env bash
# Exposition parser of the prometheus_scrape receiver: samples/s on a
# 100,000-series exposition, parsing alone and parsing plus conversion to
# OTLP (medians of five in one process).
#   bench/scrape/run.sh BUILD_DIR
set -euo pipefail
"$1/bench/scrape/tributary_scrape_parse_bench"
