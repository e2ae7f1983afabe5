#!/usr/bin/env bash
# The collector's aggregating connectors and the tail_sampling processor, in
# one process: nanoseconds per span folded by spanmetrics (10,000 series) and
# servicegraph (every span a client or server side of a call), and taken,
# held and decided by tail_sampling with three policies, and per point merged
# by aggregate (three senders of 1,000 counter series); heap allocations
# per span in steady state (medians of five), and the resident memory of
# spanmetrics' 10,000 series.
#   bench/aggregation/run.sh BUILD_DIR
set -euo pipefail
"$1/bench/aggregation/tributary_aggregation_bench"
