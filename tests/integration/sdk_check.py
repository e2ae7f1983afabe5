#!/usr/bin/env python3
"""Checks what the SDK example services sent through tributary-agent.

Reads the agent's file sink (OTLP/JSON, one request per line) and the load
generator's summary, and checks: every request is one trace of six spans in
the expected parent chain across the three services; the failed requests are
exactly the traces with error statuses; the HTTP and business metrics count
the same requests and errors; every log record belongs to a span of its
service's trace; the SDK dropped nothing; the resource carries the service
names and the Kubernetes attributes given through the environment.

  sdk_check.py SINK SUMMARY_JSON
"""
import collections
import json
import sys

sink, summary_path = sys.argv[1], sys.argv[2]
summary = json.load(open(summary_path))
n, errors = summary["requests"], summary["expected_errors"]
problems = []


def check(cond, what):
    if not cond:
        problems.append(what)


def attrs(obj):
    out = {}
    for kv in obj.get("attributes", []):
        v = kv.get("value", {})
        out[kv["key"]] = next(iter(v.values()), None) if v else None
    return out


spans, logs = [], []
metrics = {}  # (service, name, attrs tuple) -> last data point
resources = {}
for line in open(sink):
    req = json.loads(line)
    for rs in req.get("resourceSpans", []):
        res = attrs(rs.get("resource", {}))
        resources[res.get("service.name")] = res
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                s["service"] = res.get("service.name")
                spans.append(s)
    for rl in req.get("resourceLogs", []):
        res = attrs(rl.get("resource", {}))
        for sl in rl.get("scopeLogs", []):
            for r in sl.get("logRecords", []):
                r["service"] = res.get("service.name")
                logs.append(r)
    for rm in req.get("resourceMetrics", []):
        res = attrs(rm.get("resource", {}))
        svc = res.get("service.name")
        for sm in rm.get("scopeMetrics", []):
            for m in sm.get("metrics", []):
                for kind in ("sum", "gauge", "histogram"):
                    for p in m.get(kind, {}).get("dataPoints", []):
                        key = (svc, m["name"], tuple(sorted((k, str(v)) for k, v in attrs(p).items())))
                        old = metrics.get(key)
                        if old is None or int(p["timeUnixNano"]) >= int(old["timeUnixNano"]):
                            metrics[key] = p

# Traces: loadgen checkout -> loadgen GET /checkout -> frontend GET /checkout
# -> frontend GET /price -> backend GET /price -> backend SELECT prices.
chain = [("loadgen", "checkout", 1), ("loadgen", "GET /checkout", 3), ("frontend", "GET /checkout", 2),
         ("frontend", "GET /price", 3), ("backend", "GET /price", 2), ("backend", "SELECT prices", 3)]
traces = collections.defaultdict(list)
for s in spans:
    traces[s["traceId"]].append(s)
check(len(spans) == 6 * n, f"{len(spans)} spans, expected {6 * n}")
check(len(traces) == n, f"{len(traces)} traces, expected {n}")
failed_traces = 0
for tid, ts in traces.items():
    by_id = {s["spanId"]: s for s in ts}
    ordered = []
    root = [s for s in ts if not s.get("parentSpanId")]
    if len(root) != 1 or len(ts) != 6:
        problems.append(f"trace {tid}: {len(ts)} spans, {len(root)} roots")
        continue
    cur = root[0]
    while cur is not None:
        ordered.append(cur)
        kids = [s for s in ts if s.get("parentSpanId") == cur["spanId"]]
        cur = kids[0] if len(kids) == 1 else None
    got = [(s["service"], s["name"], s.get("kind")) for s in ordered]
    if got != chain:
        problems.append(f"trace {tid}: chain {got}")
        continue
    remote_parent = [bool(int(s.get("flags", 0)) & 0x200) for s in ordered]
    check(remote_parent == [False, False, True, False, True, False], f"trace {tid}: remote-parent flags {remote_parent}")
    statuses = [s.get("status", {}).get("code", 0) for s in ordered]
    failed = statuses[4] == 2
    failed_traces += failed
    expect = [2, 2, 2, 2, 2, 2] if failed else [0, 0, 0, 0, 0, 0]
    check(statuses == expect, f"trace {tid}: statuses {statuses}")
    fe = attrs(ordered[2])
    check(fe.get("http.response.status_code") == ("500" if failed else "200"),
          f"trace {tid}: frontend status attribute {fe.get('http.response.status_code')}")
    check(fe.get("http.route") == "/checkout", f"trace {tid}: frontend route {fe.get('http.route')}")
    if failed:
        check(any(e.get("name") == "exception" for e in ordered[5].get("events", [])), f"trace {tid}: no exception event")
check(failed_traces == errors, f"{failed_traces} failed traces, expected {errors}")


def value(svc, name, **kv):
    key = (svc, name, tuple(sorted((k, str(v)) for k, v in kv.items())))
    p = metrics.get(key)
    if p is None:
        problems.append(f"no metric {svc} {name} {kv}")
        return None
    if "asInt" in p:
        return int(p["asInt"])
    if "count" in p:
        return int(p["count"])
    return p.get("asDouble")


check(value("frontend", "http.server.request.duration", **{"http.request.method": "GET", "http.route": "/checkout",
            "http.response.status_code": 200}) == n - errors, "frontend 200 histogram count")
check(value("frontend", "http.server.request.duration", **{"http.request.method": "GET", "http.route": "/checkout",
            "http.response.status_code": 500}) == errors, "frontend 500 histogram count")
check(value("backend", "price.lookups", outcome="found") == n - errors, "backend found lookups")
check(value("backend", "price.lookups", outcome="failed") == errors, "backend failed lookups")
check(value("frontend", "checkout.orders", outcome="placed") == n - errors, "frontend placed orders")
check(value("frontend", "checkout.orders", outcome="failed") == errors, "frontend failed orders")
for svc in ("frontend", "backend", "loadgen"):
    for sig in ("spans", "logs"):
        for reason in ("queue_full", "export_failed"):
            v = value(svc, "tributary.sdk.dropped", signal=sig, reason=reason)
            check(v == 0, f"{svc} dropped {sig} ({reason}): {v}")

span_ids = {(s["service"], s["traceId"], s["spanId"]) for s in spans}
messages = collections.Counter((r["service"], r["body"]["stringValue"], r.get("severityText")) for r in logs)
expected_logs = {("frontend", "order placed", "INFO"): n - errors,
                 ("frontend", "checkout failed: price unavailable", "ERROR"): errors,
                 ("backend", "price found", "INFO"): n - errors,
                 ("backend", "price lookup failed", "ERROR"): errors}
check(dict(messages) == {k: v for k, v in expected_logs.items() if v}, f"log records {dict(messages)}")
for r in logs:
    if (r["service"], r.get("traceId"), r.get("spanId")) not in span_ids:
        problems.append(f"log {r['body']} of {r['service']} is not in a span of its service")
        break

for svc in ("frontend", "backend", "loadgen"):
    res = resources.get(svc, {})
    check(res.get("telemetry.sdk.name") == "tributary", f"{svc} resource {res}")
check(resources.get("backend", {}).get("k8s.pod.name") == "backend-7f9c", "backend k8s.pod.name")
check(resources.get("backend", {}).get("k8s.namespace.name") == "shop", "backend k8s.namespace.name")

print(f"requests={n} errors={errors} spans={len(spans)} traces={len(traces)} logs={len(logs)} problems={len(problems)}")
for p in problems[:20]:
    print("problem:", p)
sys.exit(1 if problems else 0)
