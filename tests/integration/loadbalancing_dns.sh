#!/usr/bin/env bash
# The loadbalancing exporter's DNS resolver against a real DNS server
# (dnsmasq, in a network namespace of the test's own): two agents resolve
# collectors.test to three collectors (127.0.0.2-4) every 500 ms. 2,000
# traces split over the agents must be whole in exactly one collector's
# sink each, all three taking a share. Then the record drops the third
# collector: once both agents follow, 1,000 more traces must go to the
# other two only, whole, and the third collector, stopped, must have
# received nothing more; no acknowledged span is lost.
#   loadbalancing_dns.sh AGENT COLLECTOR
set -euo pipefail
AGENT=$1
COLLECTOR=$2
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/dns.sh"
dns_netns_reexec "$0" "$@"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
NODE_PATH=$(interop_modules)
export NODE_PATH

declare -A c_admin
for c in 2 3 4; do
  admin=$(free_port)
  write_config "$WORK/collector-$c.yaml" admin "$admin" \
    receiver otlp "$(otlp_receiver_body "")
  grpc:
    endpoint: 127.0.0.$c:4317" \
    processor batch "$BATCH_100MS" \
    exporter file "path: $WORK/sink-$c.jsonl" \
    pipeline traces "otlp | batch | file"
  start "collector-$c" "$COLLECTOR" --config "$WORK/collector-$c.yaml"
  wait_ready "http://127.0.0.1:$admin/readyz"
  c_admin[$c]=$admin
done
collector_4=${PIDS[-1]}
printf '127.0.0.2 collectors.test\n127.0.0.3 collectors.test\n127.0.0.4 collectors.test\n' \
  >"$WORK/hosts"
dns_start dns "$WORK/hosts"

declare -A a_grpc a_admin
for node in a b; do
  grpc=$(free_port) admin=$(free_port)
  write_config "$WORK/agent-$node.yaml" admin "$admin" \
    receiver otlp "$(otlp_receiver_body "$grpc")" \
    processor batch "$BATCH_100MS" \
    exporter loadbalancing "protocol: {otlp: {tls: {insecure: true}, timeout: 5s}}
resolver: {dns: {hostname: collectors.test, port: 4317, interval: 500ms, timeout: 2s}}
retry_on_failure: {initial_interval: 100ms, max_interval: 1s, max_elapsed_time: 0s}" \
    service "buffer: {directory: $WORK/agent-$node-buffer}" \
    pipeline traces "otlp | batch | loadbalancing"
  start "agent-$node" "$AGENT" --config "$WORK/agent-$node.yaml"
  wait_ready "http://127.0.0.1:$admin/readyz"
  a_grpc[$node]=$grpc
  a_admin[$node]=$admin
done

send() {  # send N OUT
  node "$TESTS_DIR/interop/sampling_traces.cjs" --a "http://127.0.0.1:${a_grpc[a]}" \
    --b "http://127.0.0.1:${a_grpc[b]}" --n "$1" --out "$2"
}
# check SENT SINKS...: every trace the sender listed in SENT whole in
# exactly one of the sinks, each of which holds a share of them.
check() {
  local sent=$1
  shift
  for node in a b; do wait_drained "http://127.0.0.1:${a_admin[$node]}" 120; done
  python3 - "$sent" "$@" <<'PY'
import collections, json, sys

wanted = {json.loads(line)["trace_id"] for line in open(sys.argv[1])}
want, paths = len(wanted), sys.argv[2:]
where = collections.defaultdict(collections.Counter)
for path in paths:
    try:
        lines = open(path).readlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        for rs in json.loads(line).get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    if s["traceId"].lower() in wanted:
                        where[s["traceId"].lower()][path] += 1
problems = []
if len(where) != want:
    problems.append(f"{len(where)} traces, expected {want}")
if any(len(s) != 1 for s in where.values()):
    problems.append("a trace in more than one sink")
if any(sum(s.values()) != 6 for s in where.values()):
    problems.append("a trace without exactly six spans")
shares = collections.Counter(next(iter(s)) for s in where.values())
print("traces per collector:", {p.rsplit("/", 1)[1]: n for p, n in sorted(shares.items())})
if len(shares) != len(paths):
    problems.append("a collector took no share")
sys.exit("\n".join(problems) if problems else 0)
PY
}

send 2000 "$WORK/sent-1.jsonl"
for c in 2 3 4; do wait_drained "http://127.0.0.1:${c_admin[$c]}" 60; done
check "$WORK/sent-1.jsonl" "$WORK"/sink-{2,3,4}.jsonl

# The record drops 127.0.0.4; once both agents resolved it again, the
# collector behind it goes.
printf '127.0.0.2 collectors.test\n127.0.0.3 collectors.test\n' >"$WORK/hosts"
dns_reload
deadline=$((SECONDS + 30))
until grep -q 'msg="backends" count=2' "$WORK/agent-a.log" &&
  grep -q 'msg="backends" count=2' "$WORK/agent-b.log"; do
  ((SECONDS < deadline)) || { echo "the agents did not follow the DNS change" >&2; exit 1; }
  sleep 0.2
done
wait_drained "http://127.0.0.1:${c_admin[4]}" 60
kill -TERM "$collector_4"
wait "$collector_4" || true
send 1000 "$WORK/sent-2.jsonl"
for c in 2 3; do wait_drained "http://127.0.0.1:${c_admin[$c]}" 60; done
check "$WORK/sent-2.jsonl" "$WORK"/sink-{2,3}.jsonl
# The stopped collector got none of them.
python3 - "$WORK/sent-2.jsonl" "$WORK/sink-4.jsonl" <<'PY'
import json, sys
wanted = {json.loads(line)["trace_id"] for line in open(sys.argv[1])}
there = {s["traceId"].lower() for line in open(sys.argv[2])
         for rs in json.loads(line).get("resourceSpans", [])
         for ss in rs.get("scopeSpans", []) for s in ss.get("spans", [])}
sys.exit(f"{len(wanted & there)} later traces at the removed collector" if wanted & there else 0)
PY
for node in a b; do check_accounting "http://127.0.0.1:${a_admin[$node]}" spans; done
