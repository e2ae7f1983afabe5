#!/usr/bin/env bash
# RED metrics and the service graph from spans: the SDK example services
# (loadgen -> frontend -> backend -> sqlite) send their traces through
# tributary-agent to tributary-collector, whose spanmetrics and servicegraph
# connectors turn them into metrics for its prometheus exporter, which a
# real Prometheus scrapes. Every count must be exact: calls of each of the
# six spans of a checkout = requests, errors of the frontend's server span =
# the load generator's errors, the duration histogram's count = calls, and
# its p95 within one bucket of the p95 of the spans in the collector's file
# sink; the edges loadgen -> frontend -> backend -> sqlite (a virtual node
# from db.system) with one request each per checkout, the failed ones on
# frontend -> backend, and no unpaired span. The collector's books balance
# across the connectors.
#   red_metrics_e2e.sh AGENT COLLECTOR EXAMPLES_DIR
set -euo pipefail
AGENT=$1
COLLECTOR=$2
EXAMPLES=$3
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/prometheus.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
prometheus_install
N=${SPANMETRICS_E2E_REQUESTS:-2000}

c_grpc=$(free_port) c_admin=$(free_port) c_prom=$(free_port) prom=$(free_port)
write_config "$WORK/collector.yaml" admin "$c_admin" \
  receiver otlp "$(otlp_receiver_body "$c_grpc")" \
  processor batch "$BATCH_100MS" \
  exporter file "path: $WORK/sink.jsonl" \
  exporter prometheus "endpoint: 127.0.0.1:$c_prom" \
  connector spanmetrics "metrics_flush_interval: 1s
histogram:
  explicit:
    buckets: [100us, 200us, 300us, 400us, 500us, 750us, 1ms, 1500us, 2ms, 3ms, 5ms, 10ms, 50ms]
exemplars: {enabled: true}" \
  connector servicegraph "metrics_flush_interval: 1s
store: {ttl: 1s, max_items: 100000}
store_expiration_loop: 200ms" \
  service "buffer: {directory: $WORK/collector-buffer}" \
  pipeline traces "otlp | batch | file spanmetrics servicegraph" \
  pipeline metrics "spanmetrics servicegraph | | prometheus" \
  pipeline metrics/services "otlp | batch | file" \
  pipeline logs "otlp | batch | file"
start collector "$COLLECTOR" --config "$WORK/collector.yaml"
wait_ready "http://127.0.0.1:$c_admin/readyz"
start_otlp_agent "$AGENT" otlp "$(otlp_exporter_body "$c_grpc")"

cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: collector
    static_configs:
      - targets: ["127.0.0.1:$c_prom"]
YAML
prometheus_start prometheus "$prom" "$WORK/prometheus.yml" --enable-feature=exemplar-storage

fe_port=$(free_port) be_port=$(free_port)
export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$A_HTTP"
export OTEL_METRIC_EXPORT_INTERVAL=1000 OTEL_BSP_SCHEDULE_DELAY=200
start backend "$EXAMPLES/tributary-example-backend" --port "$be_port"
start frontend "$EXAMPLES/tributary-example-frontend" --port "$fe_port" --backend "127.0.0.1:$be_port"
wait_port "$be_port"
wait_port "$fe_port"
"$EXAMPLES/tributary-example-loadgen" --target "127.0.0.1:$fe_port" --requests "$N" --rate 400 \
  --error-ratio 0.05 >"$WORK/summary.json"
cat "$WORK/summary.json"
# The services flush their spans at SIGTERM.
kill -TERM "${PIDS[3]}" "${PIDS[4]}"
wait "${PIDS[3]}" "${PIDS[4]}"
PIDS=("${PIDS[@]:0:3}")

python3 - "http://127.0.0.1:$prom" "$WORK/sink.jsonl" "$WORK/summary.json" <<'PY'
import bisect, json, math, sys, time, urllib.parse, urllib.request

base, sink, summary = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
n, errors = summary["requests"], summary["expected_errors"]


def query(q):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=10) as r:
        result = json.load(r)["data"]["result"]
    return result


def scalar(q):
    result = query(q)
    return None if not result else float(result[0]["value"][1])


fe = 'service_name="frontend",span_name="GET /checkout",span_kind="SPAN_KIND_SERVER"'
calls = f"sum(traces_span_metrics_calls_total{{{fe}}})"
deadline = time.time() + 120
while scalar(calls) != n:
    if time.time() > deadline:
        sys.exit(f"frontend server calls: {scalar(calls)}, expected {n}")
    time.sleep(0.5)

problems = []
chain = [("loadgen", "checkout", "SPAN_KIND_INTERNAL"), ("loadgen", "GET /checkout", "SPAN_KIND_CLIENT"),
         ("frontend", "GET /checkout", "SPAN_KIND_SERVER"), ("frontend", "GET /price", "SPAN_KIND_CLIENT"),
         ("backend", "GET /price", "SPAN_KIND_SERVER"), ("backend", "SELECT prices", "SPAN_KIND_CLIENT")]
# The other series reach their totals within a scrape or two of the first.
deadline = time.time() + 30
while True:
    got = {c: scalar(f'sum(traces_span_metrics_calls_total{{service_name="{c[0]}",span_name="{c[1]}",'
                     f'span_kind="{c[2]}"}})') for c in chain}
    if all(v == n for v in got.values()) or time.time() > deadline:
        break
    time.sleep(0.5)
for c, v in got.items():
    if v != n:
        problems.append(f"calls of {c}: {v}, expected {n}")
failed = scalar(f'sum(traces_span_metrics_calls_total{{{fe},status_code="STATUS_CODE_ERROR"}})')
if failed != errors:
    problems.append(f"frontend server errors: {failed}, expected {errors}")
count = scalar(f"sum(traces_span_metrics_duration_milliseconds_count{{{fe}}})")
if count != n:
    problems.append(f"duration count {count}, expected {n}")
series = query(f"traces_span_metrics_calls_total{{{fe}}}")
for s in series:
    if not s["metric"].get("collector_instance_id"):
        problems.append(f"series without collector_instance_id: {s['metric']}")

# p95 from the spans themselves, against Prometheus's estimate: within one bucket.
durations, trace_ids = [], set()
for line in open(sink):
    for rs in json.loads(line).get("resourceSpans", []):
        svc = next((kv["value"].get("stringValue") for kv in rs["resource"].get("attributes", [])
                    if kv["key"] == "service.name"), None)
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                trace_ids.add(s["traceId"].lower())
                if svc == "frontend" and s["name"] == "GET /checkout":
                    durations.append((int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"])) / 1e6)
if len(durations) != n:
    problems.append(f"{len(durations)} frontend server spans in the sink, expected {n}")
durations.sort()
exact = durations[math.ceil(0.95 * len(durations)) - 1]
estimate = scalar(f"histogram_quantile(0.95, sum by (le) (traces_span_metrics_duration_milliseconds_bucket{{{fe}}}))")
bounds = [0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 50]
b_exact, b_estimate = bisect.bisect_left(bounds, exact), bisect.bisect_left(bounds, estimate)
print(f"p95: {exact:.3f} ms from the spans (bucket {b_exact}), {estimate:.3f} ms from Prometheus (bucket {b_estimate})")
if abs(b_exact - b_estimate) > 1:
    problems.append(f"p95 {estimate} ms from Prometheus is more than one bucket from {exact} ms")

# Exemplars: Prometheus stored some from the OpenMetrics scrapes, and each
# names a trace the collector received.
now = time.time()
url = f"{base}/api/v1/query_exemplars?" + urllib.parse.urlencode(
    {"query": f"traces_span_metrics_duration_milliseconds_bucket{{{fe}}}",
     "start": now - 600, "end": now + 60})
with urllib.request.urlopen(url, timeout=10) as r:
    found = [e for series in json.load(r)["data"] for e in series["exemplars"]]
if not found:
    problems.append("no exemplars in Prometheus")
for e in found:
    if e["labels"].get("trace_id") not in trace_ids or len(e["labels"].get("span_id", "")) != 16:
        problems.append(f"exemplar of an unknown trace: {e}")
print(f"exemplars: {len(found)}, every one a trace of the sink")

# The service graph: every call of a checkout is one edge request.
edges = {("loadgen", "frontend", ""): (n, errors), ("frontend", "backend", ""): (n, errors),
         ("backend", "sqlite", "virtual_node"): (n, errors)}
deadline = time.time() + 30
while True:
    got = {}
    for (client, server, kind) in edges:
        sel = f'client="{client}",server="{server}",connection_type="{kind}"'
        got[(client, server, kind)] = (scalar(f"sum(traces_service_graph_request_total{{{sel}}})"),
                                       scalar(f"sum(traces_service_graph_request_failed_total{{{sel}}})"))
    if got == {k: (float(a), float(b)) for k, (a, b) in edges.items()} or time.time() > deadline:
        break
    time.sleep(0.5)
for k, (want_requests, want_failed) in edges.items():
    if got[k] != (want_requests, want_failed):
        problems.append(f"edge {k}: requests, failed = {got[k]}, expected {(want_requests, want_failed)}")
others = query('traces_service_graph_request_total unless on(client, server) '
               '(traces_service_graph_request_total{client="loadgen",server="frontend"} or '
               'traces_service_graph_request_total{client="frontend",server="backend"} or '
               'traces_service_graph_request_total{client="backend",server="sqlite"})')
if others:
    problems.append(f"unexpected edges: {[s['metric'] for s in others]}")
count = scalar('sum(traces_service_graph_request_server_seconds_count{client="frontend",server="backend"})')
if count != n:
    problems.append(f"frontend -> backend server-side duration count {count}, expected {n}")
if problems:
    sys.exit("\n".join(problems))
print(f"spanmetrics: {n} calls per span of the checkout, {errors} frontend errors, counts exact;"
      f" service graph: loadgen -> frontend -> backend -> sqlite, {n} requests each")
PY

# The collector's books: every span the traces pipeline took went to the
# file exporter and both connectors; every point the connectors emitted was
# handed to the prometheus exporter.
c="http://127.0.0.1:$c_admin"
wait_drained "$c" 60
received=$(metric "$c" tributary_pipeline_received_records_total 'pipeline="traces"')
for exporter in file spanmetrics servicegraph; do
  sent=$(metric "$c" tributary_exporter_sent_records_total "exporter=\"$exporter\",signal=\"spans\"")
  echo "collector: traces received=$received, sent by $exporter=$sent"
  ((received == 6 * N && sent == received))
done
check_accounting "$c" spans 3
# The connectors emit every second: the points they handed on and those the
# prometheus exporter sent are compared within one scrape, between flushes.
deadline=$((SECONDS + 30))
until curl -fsS --max-time 10 "$c/metrics" | awk '
    $1 ~ /^tributary_pipeline_received_records_total\{/ && /pipeline="metrics"/ { points += $NF }
    $1 ~ /^tributary_exporter_sent_records_total\{/ && /exporter="prometheus"/ { sent += $NF }
    END { print "metrics received=" points " prometheus=" sent; exit !(points > 0 && sent == points) }'; do
  ((SECONDS < deadline)) || { echo "the connectors' points never all reached the exporter" >&2; exit 1; }
  sleep 0.2
done
# Every client and server span found its partner or a virtual node.
curl -fsS --max-time 10 "$c/metrics" >"$WORK/collector-metrics.txt"
grep -E '^tributary_connector_unpaired_spans_total\{connector="servicegraph",side="(client|server)"\} 0$' \
  "$WORK/collector-metrics.txt" | wc -l | grep -qx 2
grep -qE '^tributary_connector_dropped_spans_total\{connector="servicegraph"\} 0$' "$WORK/collector-metrics.txt"
grep -qE "^tributary_connector_edges_total\{connector=\"servicegraph\"\} $((3 * N))\$" "$WORK/collector-metrics.txt"
