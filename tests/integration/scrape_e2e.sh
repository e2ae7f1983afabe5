#!/usr/bin/env bash
# The prometheus_scrape receiver against real expositions: Prometheus's own
# /metrics, the node exporter's, tributary-agent's admin /metrics, and the
# OpenMetrics exposition of an agent's prometheus exporter serving its host
# metrics (Prometheus and the node exporter answer only in the text format),
# captured from the running programs and
# served as they were, gzip-compressed (static_exposition.py), so that the
# values stand still.
# The agent scrapes each as its own job into its file sink; scrape_check.py
# parses the expositions itself and finds every sample downstream with the
# same name, labels and value, and up = 1 for every job. A target whose
# answer is more than body_size_limit once decompressed (2 MiB of one
# letter, a few KiB on the wire) fails its scrape and the agent goes on.
#   scrape_e2e.sh AGENT
set -euo pipefail
AGENT=$1
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/prometheus.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT

prometheus_install
p_port=$(free_port) ne_port=$(free_port) a_admin=$(free_port)
cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: self
    static_configs: [{targets: ["127.0.0.1:$p_port"]}]
YAML
prometheus_start prometheus "$p_port" "$WORK/prometheus.yml"
node_exporter_start node_exporter "$ne_port"
mkdir -p "$WORK/static"
sleep 2 # Prometheus has scraped itself: histograms and summaries have values
curl -fsS "http://127.0.0.1:$p_port/metrics" >"$WORK/static/prometheus.txt"
curl -fsS "http://127.0.0.1:$ne_port/metrics" >"$WORK/static/node.txt"
python3 -c 'import sys; sys.stdout.write("x" * (2 << 20))' >"$WORK/static/huge.txt"
# OpenMetrics, from an agent's prometheus exporter.
s_admin=$(free_port) s_prom=$(free_port)
write_config "$WORK/source.yaml" admin "$s_admin" \
  receiver hostmetrics "collection_interval: 1s" \
  exporter prometheus "endpoint: 127.0.0.1:$s_prom" \
  pipeline metrics "hostmetrics | | prometheus"
start source "$AGENT" --config "$WORK/source.yaml"
deadline=$((SECONDS + 30))
until curl -fsS "http://127.0.0.1:$s_prom/metrics" 2>/dev/null | grep -c '^node_load1' >/dev/null; do
  ((SECONDS < deadline)) || { echo "no exposition from the source agent" >&2; exit 1; }
  sleep 0.2
done
curl -fsS -D "$WORK/om.headers" -H 'Accept: application/openmetrics-text;version=1.0.0' \
  "http://127.0.0.1:$s_prom/metrics" >"$WORK/static/agent.om"
grep -qi 'content-type: application/openmetrics-text' "$WORK/om.headers"
[[ "$(tail -n1 "$WORK/static/agent.om")" == "# EOF" ]]

static_port_file=$WORK/static.port
python3 "$TESTS_DIR/integration/static_exposition.py" "$WORK/static" >"$static_port_file" &
PIDS+=($!)
wait_file "$static_port_file" 10
S=127.0.0.1:$(cat "$static_port_file")

scrape() { # JOB PATH
  printf 'job_name: %s\ntargets: ["%s"]\nmetrics_path: %s\nscrape_interval: 1s\nscrape_timeout: 900ms\nbody_size_limit: 1MiB\n' \
    "$1" "$S" "$2"
}
write_config "$WORK/agent.yaml" admin "$a_admin" \
  receiver prometheus_scrape/prom "$(scrape prometheus /prometheus.txt)" \
  receiver prometheus_scrape/om "$(scrape openmetrics /agent.om)" \
  receiver prometheus_scrape/node "$(scrape node /node.txt)" \
  receiver prometheus_scrape/admin "$(scrape admin /admin.txt)" \
  receiver prometheus_scrape/huge "$(scrape huge /huge.txt)" \
  exporter file "path: $WORK/sink.jsonl" \
  pipeline metrics "prometheus_scrape/prom prometheus_scrape/om prometheus_scrape/node prometheus_scrape/admin prometheus_scrape/huge | | file"
start agent "$AGENT" --config "$WORK/agent.yaml"
wait_ready "http://127.0.0.1:$a_admin/readyz"
# The agent's own admin exposition, captured like the others.
curl -fsS "http://127.0.0.1:$a_admin/metrics" >"$WORK/static/admin.txt"
sleep 3 # a few scrapes of every target
python3 "$TESTS_DIR/integration/scrape_check.py" "$WORK/sink.jsonl" \
  "prometheus=$WORK/static/prometheus.txt" "openmetrics=$WORK/static/agent.om" \
  "node=$WORK/static/node.txt" "admin=$WORK/static/admin.txt"
failures=$(metric "http://127.0.0.1:$a_admin" tributary_scrape_failures_total 'reason="body_size_limit"')
echo "scrapes over body_size_limit: $failures (the agent is still ready)"
((failures > 0))
wait_ready "http://127.0.0.1:$a_admin/readyz" 5
