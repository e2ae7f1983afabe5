#!/usr/bin/env bash
# The official OpenTelemetry JS SDK sends counters, a gauge, explicit and
# exponential histograms and a delta counter through tributary-agent to
# tributary-collector, whose prometheus exporter a real Prometheus server
# scrapes (OpenMetrics, as Prometheus asks for it) and whose
# prometheus_remote_write exporter writes into a second one. PromQL through
# each Prometheus's HTTP API must return exactly the values, labels and
# bucket counts sent; `promtool check metrics` must find nothing wrong with
# the collector's text exposition. Then a stream of samples goes out every
# second while the remote-write Prometheus is stopped for 30 s and started
# again: every sample sent must be in it afterwards.
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
a_grpc=$(free_port) a_admin=$(free_port) prom=$(free_port) prom_rw=$(free_port)
run="run-$RANDOM"

write_config "$WORK/collector.yaml" admin "$c_admin" \
  receiver otlp "$(otlp_receiver_body "$c_grpc")" \
  processor batch "$BATCH_100MS" \
  exporter prometheus "endpoint: 127.0.0.1:$c_prom" \
  exporter prometheus_remote_write "endpoint: http://127.0.0.1:$prom_rw/api/v1/write
retry_on_failure:
  initial_interval: 200ms
  max_interval: 2s
  max_elapsed_time: 0s" \
  service "buffer: {directory: $WORK/collector-buffer}" \
  pipeline metrics "otlp | batch | prometheus prometheus_remote_write"
write_config "$WORK/agent.yaml" admin "$a_admin" \
  receiver otlp "$(otlp_receiver_body "$a_grpc")" \
  processor batch "$BATCH_100MS" \
  exporter otlp "$(otlp_exporter_body "$c_grpc")" \
  pipeline metrics "otlp | batch | otlp"
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
cat >"$WORK/prometheus-rw.yml" <<YAML
global:
  evaluation_interval: 1s
YAML
prometheus_start prometheus "$prom" "$WORK/prometheus.yml"
prometheus_start prometheus-rw "$prom_rw" "$WORK/prometheus-rw.yml" --web.enable-remote-write-receiver
rw_pid=${PIDS[-1]}

node "$TESTS_DIR/interop/metrics.cjs" --endpoint "http://127.0.0.1:$a_grpc" --run "$run"

echo "== promtool check metrics (collector's text exposition)"
curl -fsS --max-time 10 "http://127.0.0.1:$c_prom/metrics" >"$WORK/exposition.txt"
cat "$WORK/exposition.txt"
promtool check metrics <"$WORK/exposition.txt"

check_queries() {
python3 - "$1" "$run" <<'PY'
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
}
echo "== PromQL through the Prometheus that scrapes the collector"
check_queries "http://127.0.0.1:$prom"
echo "== PromQL through the Prometheus the collector writes to"
check_queries "http://127.0.0.1:$prom_rw"

echo "== remote write through a 30 s outage of its Prometheus"
node "$TESTS_DIR/interop/metrics_stream.cjs" --endpoint "http://127.0.0.1:$a_grpc" --run "$run" \
  --seconds 50 --out "$WORK/stream.txt" &
stream=$!
sleep 10
kill -TERM "$rw_pid"
wait "$rw_pid" || true
down_ms=$(date +%s%3N)
sleep 30
up_ms=$(date +%s%3N)
prometheus_start prometheus-rw "$prom_rw" "$WORK/prometheus-rw.yml" --web.enable-remote-write-receiver
wait "$stream"
# Until the collector's buffer is empty: everything is in Prometheus.
deadline=$((SECONDS + 60))
sleep 1
until [[ "$(metric "http://127.0.0.1:$c_admin" tributary_buffer_records)" == 0 ]]; do
  ((SECONDS < deadline)) || { echo "collector buffer not drained" >&2; exit 1; }
  sleep 0.5
done
python3 - "http://127.0.0.1:$prom_rw" "$run" "$WORK/stream.txt" "$down_ms" "$up_ms" <<'PY'
import json, sys, urllib.parse, urllib.request

base, run, path, down, up = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
names = {"stream.ticks": "stream_ticks_total", "stream.level": "stream_level"}
sent = {}
for line in open(path):
    if line.strip():
        name, ts, value = line.split()
        sent.setdefault(names[name], set()).add((int(ts), float(value)))
for name, samples in sent.items():
    q = f'{name}{{job="demo/stream",instance="{run}"}}[30m]'
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
    result = json.load(urllib.request.urlopen(url, timeout=10))["data"]["result"]
    assert len(result) == 1, f"{q}: {len(result)} series"
    stored = {(round(float(t) * 1000), float(v)) for t, v in result[0]["values"]}
    missing = sorted(samples - stored)
    extra = sorted(stored - samples)
    in_gap = sum(1 for t, _ in samples if down <= t <= up)
    print(f"{name}: sent {len(samples)}, stored {len(stored)}, sent while down {in_gap}, "
          f"missing {len(missing)}, unexpected {len(extra)}")
    assert in_gap >= 20, "the outage did not cover the stream"
    assert not missing, f"missing samples: {missing[:10]}"
    assert not extra, f"samples nobody sent: {extra[:10]}"
print("no sample lost across the outage")
PY
