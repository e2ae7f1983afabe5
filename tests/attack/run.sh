#!/usr/bin/env bash
# The front door under attack, on loopback: one agent with every HTTP
# listener (OTLP/HTTP, admin, the Prometheus exporter) and StatsD, each at
# its default limits and a memory budget of 96 MiB, attacked by attack.py (held idle and slow connections
# with valid requests beside them, a million headers, a 64 MiB chunked body,
# gzip bombs, scrapes of an empty exporter, a StatsD gauge burst).
#   tests/attack/run.sh AGENT
set -euo pipefail
AGENT=$1
source "$(dirname "$0")/../lib.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT

otlp=$(free_port) admin=$(free_port) prom=$(free_port) statsd=$(free_port)
# Under the 64 MiB a gzip body may decompress to, twice over: two bombs cannot
# both reach the limit at once.
MEMORY_BUDGET_MIB=96
write_config "$WORK/agent.yaml" admin "$admin" \
  receiver otlp "protocols:
  http:
    endpoint: 127.0.0.1:$otlp" \
  receiver statsd "endpoint: 127.0.0.1:$statsd
flush_interval: 1s" \
  exporter prometheus "endpoint: 127.0.0.1:$prom" \
  exporter nop "" \
  service "memory_budget: ${MEMORY_BUDGET_MIB}MiB" \
  pipeline traces "otlp | | nop" \
  pipeline metrics "otlp statsd | | prometheus"
start agent "$AGENT" --config "$WORK/agent.yaml"
apid=${PIDS[-1]}
wait_ready "http://127.0.0.1:$admin/readyz" 60
python3 "$TESTS_DIR/attack/attack.py" --pid "$apid" --otlp "$otlp" --admin "$admin" \
  --prometheus "$prom" --statsd "$statsd" --memory-budget-mib "$MEMORY_BUDGET_MIB"
