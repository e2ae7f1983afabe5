#!/usr/bin/env python3
"""The RED and service-graph figures of the example checkout, read from a
Prometheus that scrapes one collector or several (every query sums over
them), against what the load generator sent and the spans in the
collectors' file sinks: calls of each of the six spans of a checkout =
requests, errors of the frontend's server span = the load generator's
errors, the duration histogram's count = calls, its p95 within one bucket of
the p95 of the spans; exemplars naming traces of the sinks; the edges
loadgen -> frontend -> backend -> sqlite with one request each per checkout,
the failed ones on each, and no other edge.
  red_check.py PROMETHEUS_URL SUMMARY_JSON SINK...
"""
import bisect, json, math, sys, time, urllib.parse, urllib.request

base, summary, sinks = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3:]
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
for line in (line for sink in sinks for line in open(sink)):
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
