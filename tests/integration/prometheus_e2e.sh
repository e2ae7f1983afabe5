#!/usr/bin/env bash
# The official OpenTelemetry JS SDK sends counters, a gauge, explicit and
# exponential histograms and a delta counter through tributary-agent to
# tributary-collector, whose prometheus exporter a real Prometheus server
# scrapes (OpenMetrics, as Prometheus asks for it). PromQL through
# Prometheus's HTTP API must return exactly the values, labels and bucket
# counts sent; `promtool check metrics` must find nothing wrong with the
# collector's text exposition.
#   prometheus_e2e.sh AGENT COLLECTOR
set -euo pipefail
AGENT=$1
COLLECTOR=$2
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/prometheus.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
prometheus_install
NODE_PATH=$(interop_modules)
export NODE_PATH

c_grpc=$(free_port) c_admin=$(free_port) c_prom=$(free_port)
a_grpc=$(free_port) a_admin=$(free_port) prom=$(free_port)
run="run-$RANDOM"

cat >"$WORK/collector.yaml" <<YAML
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$c_grpc
processors:
  batch:
    timeout: 100ms
exporters:
  prometheus:
    endpoint: 127.0.0.1:$c_prom
service:
  admin:
    endpoint: 127.0.0.1:$c_admin
  pipelines:
    metrics: {receivers: [otlp], processors: [batch], exporters: [prometheus]}
YAML
cat >"$WORK/agent.yaml" <<YAML
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$a_grpc
processors:
  batch:
    timeout: 100ms
exporters:
  otlp:
    endpoint: 127.0.0.1:$c_grpc
    tls:
      insecure: true
service:
  admin:
    endpoint: 127.0.0.1:$a_admin
  pipelines:
    metrics: {receivers: [otlp], processors: [batch], exporters: [otlp]}
YAML
cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tributary
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:$c_prom"]
YAML

start collector "$COLLECTOR" --config "$WORK/collector.yaml"
wait_ready "http://127.0.0.1:$c_admin/readyz"
start agent "$AGENT" --config "$WORK/agent.yaml"
wait_ready "http://127.0.0.1:$a_admin/readyz"
prometheus_start prometheus "$prom" "$WORK/prometheus.yml"

node "$TESTS_DIR/interop/metrics.cjs" --endpoint "http://127.0.0.1:$a_grpc" --run "$run"

echo "== promtool check metrics (collector's text exposition)"
curl -fsS --max-time 10 "http://127.0.0.1:$c_prom/metrics" >"$WORK/exposition.txt"
cat "$WORK/exposition.txt"
promtool check metrics <"$WORK/exposition.txt"

echo "== PromQL through Prometheus"
python3 - "http://127.0.0.1:$prom" "$run" <<'PY'
import json, sys, time, urllib.parse, urllib.request

base, run = sys.argv[1], sys.argv[2]
sel = f'job="demo/shop-api",instance="{run}",otel_scope_name="interop"'
# query -> expected value; each query must return exactly one series.
expect = {
    f'orders_total{{{sel},method="card"}}': 7,
    f'orders_total{{{sel},method="cash"}}': 6,
    f'temperature_celsius{{{sel},room="a"}}': 21.5,
    f'request_duration_seconds_bucket{{{sel},route="/items",le="0.1"}}': 2,
    f'request_duration_seconds_bucket{{{sel},route="/items",le="1"}}': 3,
    f'request_duration_seconds_bucket{{{sel},route="/items",le="+Inf"}}': 4,
    f'request_duration_seconds_count{{{sel},route="/items"}}': 4,
    f'request_duration_seconds_sum{{{sel},route="/items"}}': 5.62,
    f'payload_size_bytes_bucket{{{sel},le="1"}}': 1,
    f'payload_size_bytes_bucket{{{sel},le="2"}}': 2,
    f'payload_size_bytes_bucket{{{sel},le="4"}}': 3,
    f'payload_size_bytes_bucket{{{sel},le="+Inf"}}': 4,
    f'payload_size_bytes_count{{{sel}}}': 4,
    f'payload_size_bytes_sum{{{sel}}}': 1007,
    f'jobs_processed_total{{{sel},queue="q1"}}': 8,
    f'target_info{{job="demo/shop-api",instance="{run}",host_name="interop-host"}}': 1,
    f'count(payload_size_bytes_bucket{{{sel}}} > 4)': None,  # no bucket counts past the total
    f'count({{instance="{run}",__name__=~"orders.*"}})': 2,
}

def query(q):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]

deadline = time.time() + 60
while True:
    wrong = []
    for q, want in expect.items():
        result = query(q)
        if want is None:
            if result:
                wrong.append(f"{q}: expected no result, got {result}")
            continue
        if len(result) != 1:
            wrong.append(f"{q}: {len(result)} series")
            continue
        got = float(result[0]["value"][1])
        if abs(got - want) > 1e-9 * max(1, abs(want)):
            wrong.append(f"{q}: {got}, expected {want}")
    if not wrong or time.time() > deadline:
        break
    time.sleep(1)
for q, want in expect.items():
    print(f"{'FAIL' if any(w.startswith(q + ':') for w in wrong) else 'ok  '} {q} = {want}")
if wrong:
    print("\n".join(wrong), file=sys.stderr)
    sys.exit(1)
print(f"{len(expect)} queries answered as expected")
PY
