#!/usr/bin/env bash
# The loadbalancing exporter against the otlp exporter: CPU-seconds per
# million spans for each and their ratio (medians of five), first with four
# OTLP receivers as backends in the same process (the whole process counts),
# then with four collectors (otlp -> nop) as backends in their own processes,
# where only the sending side counts (names ending in _sender).
#   bench/loadbalancing/run.sh BUILD_DIR
set -euo pipefail
build=$1
"$build/bench/loadbalancing/tributary_loadbalancing_bench"

source "$(dirname "$0")/../../tests/lib.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
endpoints=()
for i in 1 2 3 4; do
  grpc=$(free_port) admin=$(free_port)
  write_config "$WORK/backend$i.yaml" admin "$admin" \
    receiver otlp "$(otlp_bulk_receiver_body "$grpc")" \
    exporter nop "" \
    pipeline traces "otlp | | nop"
  start "backend$i" "$build/collector/tributary-collector" --config "$WORK/backend$i.yaml"
  wait_ready "http://127.0.0.1:$admin/readyz"
  endpoints+=("127.0.0.1:$grpc")
done
"$build/bench/loadbalancing/tributary_loadbalancing_bench" "${endpoints[@]}"
