#!/usr/bin/env bash
# The shipped Grafana dashboards and Prometheus rules against live data: a
# collector, two agents standing for the nodes node-a and node-b (host
# metrics, tail, OTLP), the SDK example services (loadgen -> frontend ->
# backend, 20 checkouts/s, 5% failing) sending to node-a's agent, a real
# Elasticsearch (the collector's logs) and a real Prometheus (Debian's
# package) scraping the collector's exporter and every admin endpoint with
# dashboards/rules loaded. tests/dashboards/check_dashboards.py then runs
# every query of every panel (variables filled from the data sources' own
# values) and fails on errors, empty answers and unknown metric names; the
# known answers are checked: frontend /checkout at 20 requests/s and a 5%
# error ratio (each within 10%), the same from the collector's span metrics
# (within 15%),
# 20 calls/s on the service graph's frontend -> backend -> sqlite edges,
# 2 nodes, 3 Tributary instances. Every rule
# must evaluate without error. Last, the checker must fail on a dashboard
# that names a metric nobody exports, naming its panel.
#   dashboards_e2e.sh AGENT COLLECTOR EXAMPLES_DIR
set -euo pipefail
AGENT=$1
COLLECTOR=$2
EXAMPLES=$3
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/prometheus.sh"
source "$TESTS_DIR/services/elasticsearch.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
REPO=$(cd "$TESTS_DIR/.." && pwd)
prometheus_install

es_port=$(free_port)
es_start es "$es_port"
ES=http://127.0.0.1:$es_port

c_grpc=$(free_port) c_admin=$(free_port) c_prom=$(free_port) prom=$(free_port)
write_config "$WORK/collector.yaml" admin "$c_admin" \
  receiver otlp "$(otlp_receiver_body "$c_grpc")" \
  processor memory_limiter "limit_percentage: 80
spike_limit_percentage: 20" \
  processor batch "timeout: 500ms" \
  exporter prometheus "endpoint: 127.0.0.1:$c_prom" \
  exporter elasticsearch "endpoints: [$ES]
install_templates: true" \
  exporter file "path: $WORK/telemetry.jsonl" \
  connector spanmetrics "metrics_flush_interval: 1s
exemplars: {enabled: true}" \
  connector servicegraph "metrics_flush_interval: 1s
store: {ttl: 2s}" \
  service "buffer: {directory: $WORK/collector-buffer}" \
  pipeline traces "otlp | memory_limiter batch | file spanmetrics servicegraph" \
  pipeline metrics "otlp spanmetrics servicegraph | memory_limiter batch | prometheus" \
  pipeline logs "otlp | memory_limiter batch | elasticsearch file"
start collector "$COLLECTOR" --config "$WORK/collector.yaml"
wait_ready "http://127.0.0.1:$c_admin/readyz"

# start_node NODE: an agent for NODE; sets its ports in <NODE>_GRPC, _HTTP, _ADMIN.
start_node() {
  local node=$1 grpc http admin var=${1//-/_}
  grpc=$(free_port) http=$(free_port) admin=$(free_port)
  : >"$WORK/$node-service.log"
  write_config "$WORK/$node.yaml" admin "$admin" \
    receiver otlp "$(otlp_receiver_body "$grpc" "$http")" \
    receiver hostmetrics "collection_interval: 2s" \
    receiver tail "include: [\"$WORK/$node-service.log\"]
format: raw
start_at: beginning
checkpoint_dir: $WORK/$node-checkpoints" \
    processor batch "timeout: 200ms" \
    exporter otlp "$(otlp_exporter_body "$c_grpc")" \
    service "buffer: {directory: $WORK/$node-buffer}" \
    pipeline traces "otlp | batch | otlp" \
    pipeline metrics "otlp hostmetrics | batch | otlp" \
    pipeline logs "otlp tail | batch | otlp"
  K8S_NODE_NAME=$node start "agent-$node" "$AGENT" --config "$WORK/$node.yaml"
  wait_ready "http://127.0.0.1:$admin/readyz"
  printf -v "${var}_GRPC" %s "$grpc"
  printf -v "${var}_HTTP" %s "$http"
  printf -v "${var}_ADMIN" %s "$admin"
}
start_node node-a
start_node node-b

cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files:
  - $REPO/dashboards/rules/tributary.rules.yaml
scrape_configs:
  - job_name: tributary-agent
    static_configs:
      - targets: ["127.0.0.1:$node_a_ADMIN", "127.0.0.1:$node_b_ADMIN"]
  - job_name: tributary-collector
    static_configs:
      - targets: ["127.0.0.1:$c_admin"]
  - job_name: tributary-exporter
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:$c_prom"]
YAML
prometheus_start prometheus "$prom" "$WORK/prometheus.yml" --enable-feature=exemplar-storage
PROM=http://127.0.0.1:$prom

# The example services on node-a, logging into the file its agent tails.
be_port=$(free_port) fe_port=$(free_port)
export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$node_a_HTTP OTEL_METRIC_EXPORT_INTERVAL=2000
export K8S_NAMESPACE_NAME=shop K8S_NODE_NAME=node-a
start backend "$EXAMPLES/tributary-example-backend" --port "$be_port"
start frontend "$EXAMPLES/tributary-example-frontend" --port "$fe_port" --backend "127.0.0.1:$be_port"
wait_ready "http://127.0.0.1:$be_port/price?item=warm-up"
wait_ready "http://127.0.0.1:$fe_port/checkout?item=warm-up"
start loadgen "$EXAMPLES/tributary-example-loadgen" --target "127.0.0.1:$fe_port" --requests 0 \
  --rate 20 --error-ratio 0.05
loadgen_started=$SECONDS
for i in $(seq 1 50); do echo "access line $i from the node-a service" >>"$WORK/node-a-service.log"; done
# One malformed request, so that refusals have a series to show.
curl -sS -o /dev/null --max-time 10 -H 'Content-Type: application/x-protobuf' \
  --data-binary 'not protobuf' "http://127.0.0.1:$node_a_HTTP/v1/logs" || true

# query PROMQL: the first value of an instant query, or empty.
query() {
  curl -fsS --max-time 10 "$PROM/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
# The 1-minute rates need a full minute of the load; the error logs need
# to be indexed.
deadline=$((SECONDS + 240))
until (( SECONDS - loadgen_started >= 75 )) &&
  [[ -n "$(query 'sum(rate(http_server_request_duration_seconds_count{job="frontend"}[1m]))')" ]] &&
  [[ "$(query 'count(node_boot_time_seconds)')" == 2 ]] &&
  curl -fsS --max-time 10 "$ES/logs-*/_count?q=log.level:ERROR" 2>/dev/null | grep -cv '"count":0' >/dev/null; do
  ((SECONDS < deadline)) || { echo "the workload's data did not arrive in time" >&2; exit 1; }
  sleep 2
done
curl -fsS --max-time 30 -XPOST "$ES/logs-*/_refresh" >/dev/null

optional=(
  # Components this workload does not run.
  --optional "Produced messages/s" --optional "Delivery errors/s"
  --optional "Consumer lag" --optional "Consumed messages/s"
  --optional "Remote-write failed samples/s" --optional "Scrape failures/s"
  # Counted on failure only, and nothing fails here.
  --optional "Elasticsearch failed documents/s"
)
[[ -r /proc/pressure/cpu ]] || optional+=(--optional "Pressure (PSI)")
echo "== every panel's every query"
DASHBOARD_RESULTS=$WORK/results.json \
  python3 "$TESTS_DIR/dashboards/check_dashboards.py" live "$REPO" "$PROM" "$ES" "${optional[@]}"

echo "== known answers"
python3 - "$WORK/results.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
failures = []

def series(dashboard, panel, **labels):
    out = [s for s in results[dashboard][panel]
           if all(s["metric"].get(k, "") == v for k, v in labels.items())]
    if len(out) != 1:
        failures.append(f"{dashboard} {panel} {labels}: {len(out)} series")
        return None
    return float(out[0]["value"][1])

def within(what, value, expected, tolerance):
    ok = value is not None and abs(value - expected) <= tolerance * expected
    print(f"{what}: {value} (expected {expected} within {tolerance:.0%})", "ok" if ok else "WRONG")
    if not ok:
        failures.append(what)

within("frontend /checkout requests/s",
       series("services.json", "Requests/s by service and route/A", job="frontend",
              http_route="/checkout"), 20, 0.10)
within("frontend /checkout error ratio",
       series("services.json", "Error ratio by service and route/A", job="frontend",
              http_route="/checkout"), 0.05, 0.10)
# The connectors' counters move once a flush interval and the spans arrive
# in batches: their 1-minute rates are allowed 15%.
within("frontend GET /checkout server spans/s",
       series("services.json", "Span requests/s by service and operation/A", job="frontend",
              span_name="GET /checkout"), 20, 0.15)
within("frontend GET /checkout span error ratio",
       series("services.json", "Span error ratio by service and operation/A", job="frontend",
              span_name="GET /checkout"), 0.05, 0.15)
within("frontend -> backend calls/s",
       series("services.json", "Service graph edges/A", client="frontend", server="backend",
              connection_type=""), 20, 0.15)
within("backend -> sqlite calls/s",
       series("services.json", "Service graph edges/A", client="backend", server="sqlite",
              connection_type="virtual_node"), 20, 0.15)
nodes = series("node.json", "Nodes/A")
print(f"nodes: {nodes}", "ok" if nodes == 2 else "WRONG")
if nodes != 2:
    failures.append("nodes")
instances = series("tributary-pipeline.json", "Instances up/A")
print(f"Tributary instances: {instances}", "ok" if instances == 3 else "WRONG")
if instances != 3:
    failures.append("instances")
errors = results["logs.json"]["Recent errors with their trace ids/A"]["hits"]["hits"]
with_trace = [h for h in errors if h["_source"].get("trace.id")]
print(f"recent errors: {len(errors)}, with a trace id: {len(with_trace)}")
if not with_trace:
    failures.append("no recent error with a trace id")
sys.exit(1 if failures else 0)
PY

echo "== every rule evaluates"
# As many rules loaded as the file defines.
defined=$(python3 -c 'import sys, yaml; print(sum(len(g["rules"]) for g in yaml.safe_load(open(sys.argv[1]))["groups"]))' \
  "$REPO/dashboards/rules/tributary.rules.yaml")
curl -fsS --max-time 10 "$PROM/api/v1/rules" | python3 -c '
import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
bad = [r["name"] for r in rules if r["health"] != "ok"]
print(f"{len(rules)} rules loaded of {sys.argv[1]} defined, {len(bad)} unhealthy: {bad}")
sys.exit(1 if bad or len(rules) != int(sys.argv[1]) else 0)' "$defined"

echo "== the checker fails on a metric nobody exports, naming the panel"
mkdir "$WORK/broken"
python3 - "$REPO/dashboards/services.json" "$WORK/broken/services.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
panel = next(p for p in d["panels"] if p["title"] == "Requests in progress")
panel["targets"][0]["expr"] = 'sum by (job) (http_server_requests_in_flight{job=~"$job"})'
json.dump(d, open(sys.argv[2], "w"))
PY
if DASHBOARDS_DIR=$WORK/broken python3 "$TESTS_DIR/dashboards/check_dashboards.py" live "$REPO" \
  "$PROM" "$ES" >"$WORK/broken.out"; then
  echo "the checker passed a dashboard naming an unknown metric" >&2
  exit 1
fi
cat "$WORK/broken.out"
grep -qF 'panel "Requests in progress", query A: names http_server_requests_in_flight, which the pipeline does not export' "$WORK/broken.out"
echo "dashboards_e2e: passed"
