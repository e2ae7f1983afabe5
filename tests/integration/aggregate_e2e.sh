#!/usr/bin/env bash
# Merging the series of many senders: three senders (the OpenTelemetry JS
# SDK), told apart only by their pod name, each through an agent of its own,
# send the same counter, histogram and up-down counter to a collector whose
# `aggregate` processor drops the pod name and merges them for its
# prometheus exporter, scraped by a real Prometheus. One sender restarts
# half-way (its counters start again from 0). Prometheus must show exactly
# the sum of every increment sent (counter, histogram count and sum), the
# sum of the senders' last up-down values, and no reset of the merged
# series; the collector's books must balance.
#   aggregate_e2e.sh AGENT COLLECTOR
set -euo pipefail
AGENT=$1
COLLECTOR=$2
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/prometheus.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
prometheus_install
NODE_PATH=$(interop_modules)
export NODE_PATH
ROUNDS=${AGGREGATE_E2E_ROUNDS:-60}

c_grpc=$(free_port) c_admin=$(free_port) c_prom=$(free_port) prom=$(free_port)
write_config "$WORK/collector.yaml" admin "$c_admin" \
  receiver otlp "$(otlp_receiver_body "$c_grpc")" \
  processor aggregate "drop_attributes: [k8s.pod.name, service.instance.id]
interval: 500ms" \
  exporter prometheus "endpoint: 127.0.0.1:$c_prom" \
  service "buffer: {directory: $WORK/collector-buffer}" \
  pipeline metrics "otlp | aggregate | prometheus"
start collector "$COLLECTOR" --config "$WORK/collector.yaml"
wait_ready "http://127.0.0.1:$c_admin/readyz"

declare -A agent_grpc
for pod in a b c; do
  grpc=$(free_port) admin=$(free_port)
  write_config "$WORK/agent-$pod.yaml" admin "$admin" \
    receiver otlp "$(otlp_receiver_body "$grpc")" \
    processor batch "$BATCH_100MS" \
    exporter otlp "$(otlp_exporter_body "$c_grpc")" \
    pipeline metrics "otlp | batch | otlp"
  start "agent-$pod" "$AGENT" --config "$WORK/agent-$pod.yaml"
  wait_ready "http://127.0.0.1:$admin/readyz"
  agent_grpc[$pod]=$grpc
done

cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: collector
    static_configs:
      - targets: ["127.0.0.1:$c_prom"]
YAML
prometheus_start prometheus "$prom" "$WORK/prometheus.yml"

send() {  # send POD ROUNDS: one sender's run, its totals appended to sent.jsonl
  node "$TESTS_DIR/interop/merge_sender.cjs" --endpoint "http://127.0.0.1:${agent_grpc[$1]}" \
    --pod "$1" --rounds "$2" --interval 100 >>"$WORK/sent.jsonl"
}
# b stops half-way and starts again: a restart, its counters from 0.
send a "$ROUNDS" &
a_pid=$!
send c "$ROUNDS" &
c_pid=$!
send b $((ROUNDS / 2))
send b $((ROUNDS - ROUNDS / 2))
wait "$a_pid" "$c_pid"
cat "$WORK/sent.jsonl"

python3 - "http://127.0.0.1:$prom" "$WORK/sent.jsonl" <<'PY'
import json, sys, time, urllib.parse, urllib.request

base = sys.argv[1]
runs = [json.loads(line) for line in open(sys.argv[2])]
last = {}
for r in runs:
    last[r["pod"]] = r  # the up-down value of each sender's last run
want = {
    'sum(orders_total)': sum(r["orders"] for r in runs),
    'sum(latency_milliseconds_count)': sum(r["latency_count"] for r in runs),
    'sum(latency_milliseconds_sum)': sum(r["latency_sum"] for r in runs),
    'sum(inflight)': sum(r["inflight"] for r in last.values()),
    'count(orders_total)': 1,
    'sum(resets(orders_total[10m]))': 0,
    'sum(resets(latency_milliseconds_count[10m]))': 0,
}


def value(q):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=10) as r:
        result = json.load(r)["data"]["result"]
    return None if not result else float(result[0]["value"][1])


deadline = time.time() + 90
while True:
    got = {q: value(q) for q in want}
    if all(got[q] == v for q, v in want.items()) or time.time() > deadline:
        break
    time.sleep(1)
bad = False
for q, v in want.items():
    ok = got[q] == v
    bad = bad or not ok
    print(f"{q} = {got[q]} (expected {v})", "ok" if ok else "WRONG")
sys.exit(1 if bad else 0)
PY
check_accounting "http://127.0.0.1:$c_admin" metric_points
