#!/usr/bin/env python3
"""Checks that every sample of real Prometheus expositions reached the agent's
file sink through its prometheus_scrape receiver, with the same name, labels
and value.

  scrape_check.py SINK JOB=EXPOSITION [JOB=EXPOSITION...]

Each EXPOSITION is parsed here, independently of the agent, by the rules of
the text format (OpenMetrics when the file ends in .om); the sink holds
OTLP/JSON lines. A sample is found when the point of its job (service.name)
with its name and labels has its value: counters and gauges as points of the
metric of the sample's name, histogram _bucket/_sum/_count and summary
quantile/_sum/_count from the family's histogram or summary point.
"""
import json
import math
import re
import sys

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(\S+))?\s*(?:#.*)?$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: '\n' if m.group(1) == 'n' else m.group(1), v)


def value(text):
    return {'+Inf': math.inf, 'Inf': math.inf, '-Inf': -math.inf, 'NaN': math.nan}.get(
        text, None) if text in ('+Inf', 'Inf', '-Inf', 'NaN') else float(text)


def parse_exposition(path):
    types, samples = {}, []
    for line in open(path):
        line = line.rstrip('\n')
        if line.startswith('# TYPE '):
            _, _, name, kind = line.split(' ', 3)
            types[name] = kind.strip()
            continue
        if not line or line.startswith('#'):
            continue
        m = LINE.match(line)
        if not m:
            raise SystemExit(f'{path}: cannot parse {line!r}')
        labels = {k: unescape(v) for k, v in LABEL.findall(m.group(2) or '')}
        samples.append((m.group(1), labels, value(m.group(3))))
    return types, samples


def family_of(name, types):
    for suffix in ('_bucket', '_sum', '_count', '_created', '_total'):
        if name.endswith(suffix) and name[:-len(suffix)] in types:
            return name[:-len(suffix)], suffix
    return name, ''


def attrs(point):
    out = {}
    for a in point.get('attributes', []):
        v = a['value']
        out[a['key']] = v.get('stringValue', '')
    return out


def load_sink(path):
    """(job, metric name) -> list of (kind, point)."""
    out = {}
    for line in open(path):
        req = json.loads(line)
        for rm in req.get('resourceMetrics', []):
            job = attrs(rm.get('resource', {})).get('service.name')
            for sm in rm.get('scopeMetrics', []):
                for m in sm.get('metrics', []):
                    for kind in ('sum', 'gauge', 'histogram', 'summary'):
                        if kind in m:
                            for p in m[kind].get('dataPoints', []):
                                out.setdefault((job, m['name']), []).append((kind, p))
    return out


def number(p):
    if 'asDouble' in p:
        v = p['asDouble']
        return float(v) if not isinstance(v, str) else value({'Infinity': '+Inf', '-Infinity': '-Inf'}.get(v, v))
    return float(p.get('asInt', 0))


def same(a, b):
    if isinstance(a, str) or isinstance(b, str):
        return False
    if math.isnan(a) and math.isnan(b):
        return True
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def exported(labels):
    """The labels as the receiver keeps them without honor_labels: an
    exposition's own job and instance become exported_job and
    exported_instance."""
    return {('exported_' + k if k in ('job', 'instance') else k): v for k, v in labels.items()}


def check(job, path, sink):
    types, samples = parse_exposition(path)
    missing = 0
    for name, labels, v in samples:
        labels = exported(labels)
        fam, suffix = family_of(name, types)
        kind = types.get(fam, 'untyped')
        if suffix == '_created':
            continue
        found = False
        if kind in ('histogram', 'summary') and (suffix in ('_bucket', '_sum', '_count') or
                                                 (kind == 'summary' and suffix == '')):
            key = 'le' if kind == 'histogram' else 'quantile'
            want = {k: x for k, x in labels.items() if k != key}
            for _, p in sink.get((job, fam), []):
                if attrs(p) != want:
                    continue
                if suffix == '_sum':
                    found = same(float(p.get('sum', 0)), v)
                elif suffix == '_count':
                    found = same(float(p.get('count', 0)), v)
                elif kind == 'histogram':
                    bounds = [float(b) for b in p.get('explicitBounds', [])] + [math.inf]
                    counts = [int(c) for c in p.get('bucketCounts', [])]
                    le = math.inf if labels['le'] in ('+Inf', 'Inf') else float(labels['le'])
                    cumulative = sum(c for b, c in zip(bounds, counts) if b <= le)
                    found = same(float(cumulative), v)
                else:
                    q = float(labels['quantile'])
                    found = any(same(float(qv.get('quantile', 0)), q) and same(float(qv.get('value', 0)), v)
                                for qv in p.get('quantileValues', []))
                if found:
                    break
        else:
            for _, p in sink.get((job, name), []):
                if attrs(p) == labels and same(number(p), v):
                    found = True
                    break
        if not found:
            if missing < 5:
                print(f'{job}: {name}{labels} {v} not found downstream')
            missing += 1
    print(f'{job}: {len(samples)} samples of {path.rsplit("/", 1)[-1]}, {missing} missing')
    return missing, len(samples)


def main():
    sink = load_sink(sys.argv[1])
    problems = 0
    for arg in sys.argv[2:]:
        job, path = arg.split('=', 1)
        missing, n = check(job, path, sink)
        problems += missing + (n == 0)
        up = [number(p) for _, p in sink.get((job, 'up'), [])]
        if not up or up[-1] != 1:
            print(f'{job}: up is {up[-1:] or "missing"}')
            problems += 1
    sys.exit(1 if problems else 0)


main()
