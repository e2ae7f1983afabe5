#!/usr/bin/env bash
# The agent's hostmetrics receiver against the real Prometheus node exporter
# (Debian's prometheus-node-exporter) on the same machine: the agent serves
# its host metrics on a prometheus exporter; the node exporter is scraped
# before and after ours, and hostmetrics_check.py compares 38 metric names
# (the three node_pressure_* ones only where the kernel has PSI): the same
# label sets, counters between the two readings, gauges within the
# tolerances it states. The series carry job="node" and the node's name as
# instance.
#   hostmetrics_e2e.sh AGENT
set -euo pipefail
AGENT=$1
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/prometheus.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT

ne_port=$(free_port) prom_port=$(free_port) a_admin=$(free_port)
node_exporter_start node_exporter "$ne_port"
write_config "$WORK/agent.yaml" admin "$a_admin" \
  receiver hostmetrics "collection_interval: 1s" \
  exporter prometheus "endpoint: 127.0.0.1:$prom_port" \
  pipeline metrics "hostmetrics | | prometheus"
# The node's name comes from the downward API's K8S_NODE_NAME when it is set.
K8S_NODE_NAME=node-a start agent "$AGENT" --config "$WORK/agent.yaml"
wait_ready "http://127.0.0.1:$a_admin/readyz"
deadline=$((SECONDS + 30))
until curl -fsS --max-time 5 "http://127.0.0.1:$prom_port/metrics" 2>/dev/null | grep -c '^node_load1' >/dev/null; do
  ((SECONDS < deadline)) || { echo "no host metrics on the agent's exporter" >&2; exit 1; }
  sleep 0.2
done
curl -fsS --max-time 10 "http://127.0.0.1:$ne_port/metrics" >"$WORK/before.prom"
sleep 1.5 # one collection of ours after that scrape
curl -fsS --max-time 10 "http://127.0.0.1:$prom_port/metrics" >"$WORK/ours.prom"
curl -fsS --max-time 10 "http://127.0.0.1:$ne_port/metrics" >"$WORK/after.prom"
# Every node's series are apart, as node-exporter dashboards expect them.
grep -Eq '^node_load1\{.*instance="node-a",job="node"' "$WORK/ours.prom" ||
  { echo "node_load1 is not labelled job=\"node\", instance=\"node-a\"" >&2; grep '^node_load1' "$WORK/ours.prom" >&2; exit 1; }
grep -Eq '^target_info\{.*host_name="node-a"' "$WORK/ours.prom" ||
  { echo "target_info has no host_name=\"node-a\"" >&2; exit 1; }
python3 "$TESTS_DIR/integration/hostmetrics_check.py" "$WORK/before.prom" "$WORK/ours.prom" "$WORK/after.prom"
