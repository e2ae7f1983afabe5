#!/usr/bin/env python3
"""Checks the Grafana dashboards in dashboards/.

  check_dashboards.py static REPO
      The conventions (a `datasource` variable used by every panel and
      target, unique stable uids, one schemaVersion, a unit on every panel,
      `$__rate_interval` in every rate, the tag `tributary`), that the JSON is
      what dashboards/generate.py writes, and that every Tributary metric a
      query names is registered somewhere in the C++ sources.

  check_dashboards.py live REPO PROMETHEUS_URL ELASTICSEARCH_URL [--optional TITLE ...]
      Walks every panel's every target: fills the template variables from
      the data source's own label values (every value, as Grafana's "All"),
      runs each Prometheus query as an instant and as a range query and each
      Elasticsearch query through _search, and fails naming dashboard, panel
      and query when one errors, returns nothing (unless the panel's title
      is given with --optional: it needs a component this workload does not
      run), or names a metric that neither Prometheus has nor the sources
      register.

DASHBOARDS_DIR names another folder of dashboards to check (the checker's
self-tests). Exit status 1 on any failure; every failure is printed.
"""
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

SCHEMA_VERSION = 39
DS = "${datasource}"
METRIC_REF = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{")
PROMQL_WORDS = {"sum", "rate", "increase", "histogram_quantile", "count", "max", "min", "avg",
                "by", "on", "group_left", "without", "delta", "deriv"}


def dashboards(repo):
    # DASHBOARDS_DIR: another folder of dashboards (the checker's self-tests).
    folder = os.environ.get("DASHBOARDS_DIR") or os.path.join(repo, "dashboards")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                yield name, json.load(f)


def panels(dashboard):
    for p in dashboard["panels"]:
        if p["type"] == "row":
            yield from p.get("panels", [])
        else:
            yield p


def metric_names(expr):
    return {m for m in METRIC_REF.findall(expr) if m not in PROMQL_WORDS}


def registered_metrics(repo):
    """Metric names the C++ sources register (string literals)."""
    names = set()
    for top in ("core", "common", "receivers", "processors", "exporters", "connectors", "agent",
                "collector", "sdk"):
        for root, _, files in os.walk(os.path.join(repo, top)):
            for f in files:
                if f.endswith((".cc", ".h")) and not f.endswith("_test.cc"):
                    with open(os.path.join(root, f), encoding="utf-8", errors="replace") as src:
                        names.update(re.findall(r'"([a-z_]+)"', src.read()))
    return names


def base_name(metric):
    return re.sub(r"_(bucket|sum|count)$", "", metric)


def check_static(repo):
    failures = []
    generated = subprocess.CompletedProcess([], 0) if os.environ.get("DASHBOARDS_DIR") else \
        subprocess.run([sys.executable, os.path.join(repo, "dashboards", "generate.py"),
                                "--check"], capture_output=True, text=True)
    if generated.returncode != 0:
        failures.append(generated.stdout.strip() or generated.stderr.strip())
    registered = registered_metrics(repo)
    uids = {}
    for name, d in dashboards(repo):
        where = f"{name} ({d.get('title')})"
        if not d.get("uid"):
            failures.append(f"{where}: no uid")
        elif d["uid"] in uids:
            failures.append(f"{where}: uid {d['uid']} also in {uids[d['uid']]}")
        uids[d.get("uid")] = name
        if d.get("schemaVersion") != SCHEMA_VERSION:
            failures.append(f"{where}: schemaVersion {d.get('schemaVersion')}, not {SCHEMA_VERSION}")
        if "tributary" not in d.get("tags", []):
            failures.append(f"{where}: no tag tributary")
        variables = {v["name"]: v for v in d["templating"]["list"]}
        if variables.get("datasource", {}).get("type") != "datasource":
            failures.append(f"{where}: no `datasource` variable of type datasource")
        for v in d["templating"]["list"]:
            if v["type"] == "query" and v.get("datasource", {}).get("uid") != DS:
                failures.append(f"{where}: variable {v['name']} does not use $datasource")
        for p in panels(d):
            at = f"{where}, panel \"{p['title']}\""
            if p.get("datasource", {}).get("uid") != DS:
                failures.append(f"{at}: datasource is not $datasource")
            if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
                failures.append(f"{at}: no unit")
            if not p.get("targets"):
                failures.append(f"{at}: no query")
            for t in p.get("targets", []):
                if t.get("datasource", {}).get("uid") != DS:
                    failures.append(f"{at}, query {t['refId']}: datasource is not $datasource")
                expr = t.get("expr")
                if expr is None:
                    continue
                for window in re.findall(r"(?:rate|increase|delta)\([^\[]*\[([^\]]*)\]", expr):
                    if window != "$__rate_interval":
                        failures.append(f"{at}, query {t['refId']}: range [{window}], "
                                        f"not [$__rate_interval]")
                for m in metric_names(expr):
                    if m.startswith("tributary_") and base_name(m) not in registered \
                            and m not in registered:
                        failures.append(f"{at}, query {t['refId']}: {m} is not a metric "
                                        f"Tributary registers")
    return failures


class Live:
    def __init__(self, prom, es):
        self.prom = prom.rstrip("/")
        self.es = es.rstrip("/")
        self.now = time.time()

    def get(self, url, body=None):
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.load(r), None
        except urllib.error.HTTPError as e:
            return None, f"HTTP {e.code}: {e.read().decode(errors='replace')[:300]}"
        except OSError as e:
            return None, str(e)

    def prom_api(self, path, **params):
        query = urllib.parse.urlencode(params, doseq=True)
        data, err = self.get(f"{self.prom}/api/v1/{path}?{query}")
        if err:
            return None, err
        if data.get("status") != "success":
            return None, data.get("error", "failed")
        return data["data"], None


def regex_of(values):
    # As Grafana writes a multi-value variable into a PromQL string: regex
    # metacharacters escaped, the backslash doubled for the string literal.
    escaped = [re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\\\1", v) for v in values]
    return "(" + "|".join(escaped) + ")"


def substitute(text, values, lucene=False):
    for name in sorted(values, key=len, reverse=True):
        vals = values[name]
        if lucene:
            quoted = "(" + " OR ".join('"' + v.replace('"', '\\"') + '"' for v in vals) + ")"
            text = text.replace("${" + name + ":lucene}", quoted)
        else:
            text = text.replace("$" + name, regex_of(vals))
    return text


def prom_variables(live, d, failures, where):
    values = {}
    for v in d["templating"]["list"]:
        if v["type"] != "query":
            continue
        query = substitute(v["query"]["query"], values)
        m = re.fullmatch(r"label_values\((.*),\s*([a-zA-Z_]+)\)", query)
        if not m:
            failures.append(f"{where}: variable {v['name']}: cannot read {query}")
            continue
        data, err = live.prom_api(f"label/{m.group(2)}/values", **{"match[]": m.group(1)})
        if err or not data:
            failures.append(f"{where}: variable {v['name']} ({query}) has no values: {err or 'empty'}")
            values[v["name"]] = ["no-value"]
        else:
            values[v["name"]] = data
    return values


def check_prometheus(live, name, d, optional, failures, known):
    where = f"{name} ({d['title']})"
    values = prom_variables(live, d, failures, where)
    results = {}
    for p in panels(d):
        for t in p["targets"]:
            at = f"{where}, panel \"{p['title']}\", query {t['refId']}"
            expr = substitute(t["expr"], values).replace("$__rate_interval", "1m")
            for m in metric_names(t["expr"]):
                if m not in known["prometheus"] and base_name(m) not in known["registered"] \
                        and m not in known["registered"]:
                    failures.append(f"{at}: names {m}, which the pipeline does not export")
            data, err = live.prom_api("query", query=expr, time=f"{live.now:.3f}")
            if err:
                failures.append(f"{at}: instant query failed: {err}\n    {expr}")
                continue
            series = [s for s in data["result"] if s["value"][1] not in ("NaN",)]
            if not series and p["title"] not in optional:
                failures.append(f"{at}: no data\n    {expr}")
            rng, err = live.prom_api("query_range", query=expr, start=f"{live.now - 120:.3f}",
                                     end=f"{live.now:.3f}", step="15")
            if err:
                failures.append(f"{at}: range query failed: {err}\n    {expr}")
            results[(p["title"], t["refId"])] = data["result"]
    return results


def check_elasticsearch(live, name, d, optional, failures):
    where = f"{name} ({d['title']})"
    values = {}
    for v in d["templating"]["list"]:
        if v["type"] != "query":
            continue
        q = json.loads(v["query"]["query"])
        body = json.dumps({"size": 0, "aggs": {"v": {"terms": {"field": q["field"],
                                                               "size": 100}}}}).encode()
        data, err = live.get(f"{live.es}/logs-*/_search", body)
        keys = [b["key"] for b in data["aggregations"]["v"]["buckets"]] if data else []
        if err or not keys:
            failures.append(f"{where}: variable {v['name']} has no values: {err or 'empty'}")
            keys = ["no-value"]
        values[v["name"]] = keys
    results = {}
    for p in panels(d):
        for t in p["targets"]:
            at = f"{where}, panel \"{p['title']}\", query {t['refId']}"
            query = substitute(t["query"], values, lucene=True)
            body = {"size": 0, "query": {"bool": {"filter": [
                {"query_string": {"query": query, "analyze_wildcard": True}},
                {"range": {"@timestamp": {"gte": "now-1h"}}}]}}}
            for m in t["metrics"]:
                if m["type"] == "raw_data":
                    body["size"] = int(m["settings"]["size"])
                    body["sort"] = [{"@timestamp": "desc"}]
            aggs = body
            for b in t["bucketAggs"]:
                if b["type"] == "terms":
                    agg = {"terms": {"field": b["field"], "size": int(b["settings"]["size"])}}
                else:
                    agg = {"date_histogram": {"field": b["field"], "fixed_interval": "30s"}}
                aggs.setdefault("aggs", {})[b["id"]] = agg
                aggs = agg
            data, err = live.get(f"{live.es}/logs-*/_search", json.dumps(body).encode())
            if err:
                failures.append(f"{at}: _search failed: {err}\n    {query}")
                continue
            hits = data["hits"]["total"]["value"]
            if hits == 0 and p["title"] not in optional:
                failures.append(f"{at}: no documents\n    {query}")
            results[(p["title"], t["refId"])] = data
    return results


def check_live(repo, prom, es, optional):
    failures = []
    live = Live(prom, es)
    names, err = live.prom_api("label/__name__/values")
    if err:
        return [f"Prometheus at {prom}: {err}"], {}
    known = {"prometheus": set(names), "registered": registered_metrics(repo)}
    results = {}
    for name, d in dashboards(repo):
        ds_type = next(v["query"] for v in d["templating"]["list"] if v["name"] == "datasource")
        if ds_type == "prometheus":
            results[name] = check_prometheus(live, name, d, optional, failures, known)
        else:
            results[name] = check_elasticsearch(live, name, d, optional, failures)
    for title in optional:
        if not any(p["title"] == title for _, d in dashboards(repo) for p in panels(d)):
            failures.append(f"--optional {title}: no such panel")
    return failures, results


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "static":
        failures = check_static(sys.argv[2])
    elif len(sys.argv) >= 5 and sys.argv[1] == "live":
        optional = set()
        args = sys.argv[5:]
        while args:
            if args[0] != "--optional" or len(args) < 2:
                print(__doc__)
                return 2
            optional.add(args[1])
            args = args[2:]
        failures, results = check_live(sys.argv[2], sys.argv[3], sys.argv[4], optional)
        with open(os.environ.get("DASHBOARD_RESULTS", os.devnull), "w") as f:
            json.dump({n: {f"{k[0]}/{k[1]}": v for k, v in r.items()}
                       for n, r in results.items()}, f)
    else:
        print(__doc__)
        return 2
    for f in failures:
        print("FAIL", f)
    if not failures:
        print("dashboards: all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
