#!/usr/bin/env bash
# Trace-consistent routing without Kafka: two agents with the loadbalancing
# exporter (static resolver) in front of three collectors. 3,000 traces of
# six spans from the OpenTelemetry JS SDK, each split over the two agents,
# must arrive with every span of each trace in exactly one collector's file
# sink, each collector taking a share. Then one collector is stopped and
# 1,500 more traces come (the agents retry its part from their write-ahead
# buffers) and it is started again: afterwards every span is still in
# exactly one sink, nothing lost and nothing twice.
#   loadbalancing_e2e.sh AGENT COLLECTOR
set -euo pipefail
AGENT=$1
COLLECTOR=$2
source "$(dirname "$0")/../lib.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
NODE_PATH=$(interop_modules)
export NODE_PATH
N=${LOADBALANCING_E2E_TRACES:-3000}

backends=()
declare -A c_admin
for c in 1 2 3; do
  grpc=$(free_port) admin=$(free_port)
  write_config "$WORK/collector-$c.yaml" admin "$admin" \
    receiver otlp "$(otlp_receiver_body "$grpc")" \
    processor batch "$BATCH_100MS" \
    exporter file "path: $WORK/sink-$c.jsonl" \
    service "buffer: {directory: $WORK/collector-$c-buffer}" \
    pipeline traces "otlp | batch | file"
  start "collector-$c" "$COLLECTOR" --config "$WORK/collector-$c.yaml"
  wait_ready "http://127.0.0.1:$admin/readyz"
  c_admin[$c]=$admin
  backends+=("127.0.0.1:$grpc")
done
hostnames=$(IFS=,; echo "${backends[*]}" | sed 's/,/, /g')

declare -A a_grpc a_admin
for node in a b; do
  grpc=$(free_port) admin=$(free_port)
  write_config "$WORK/agent-$node.yaml" admin "$admin" \
    receiver otlp "$(otlp_receiver_body "$grpc")" \
    processor batch "$BATCH_100MS" \
    exporter loadbalancing "routing_key: traceID
protocol: {otlp: {tls: {insecure: true}, timeout: 5s}}
resolver: {static: {hostnames: [$hostnames]}}
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
# check EXPECTED_TRACES: every span in exactly one sink, each trace whole.
check() {
  for node in a b; do wait_drained "http://127.0.0.1:${a_admin[$node]}" 120; done
  for c in 1 2 3; do wait_drained "http://127.0.0.1:${c_admin[$c]}" 60; done
  python3 - "$1" "$WORK"/sink-*.jsonl <<'PY'
import collections, json, sys

want = int(sys.argv[1])
where = collections.defaultdict(collections.Counter)  # trace -> sink -> spans
for path in sys.argv[2:]:
    for line in open(path):
        for rs in json.loads(line).get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    where[s["traceId"]][path] += 1
problems = []
if len(where) != want:
    problems.append(f"{len(where)} traces in the sinks, expected {want}")
split = [t for t, sinks in where.items() if len(sinks) != 1]
if split:
    problems.append(f"{len(split)} traces in more than one sink")
wrong = [t for t, sinks in where.items() if sum(sinks.values()) != 6]
if wrong:
    problems.append(f"{len(wrong)} traces without exactly six spans (lost or twice)")
shares = collections.Counter(next(iter(s)) for s in where.values())
print("traces per collector:", sorted(shares.values()))
if len(shares) != 3 or min(shares.values()) < want // 10:
    problems.append(f"uneven shares {dict(shares)}")
sys.exit("\n".join(problems) if problems else 0)
PY
}

send "$N" "$WORK/sent-1.jsonl"
check "$N"

# Collector 2 goes away; what is routed to it waits in the agents' buffers,
# retried, while the other collectors take theirs.
kill -TERM "${PIDS[1]}"
wait "${PIDS[1]}" || true
send $((N / 2)) "$WORK/sent-2.jsonl"
retries=0
deadline=$((SECONDS + 60))
until ((retries > 0)); do
  ((SECONDS < deadline)) || { echo "the agents never retried collector 2's part" >&2; exit 1; }
  sleep 0.5
  retries=0
  for node in a b; do
    retries=$((retries + $(metric "http://127.0.0.1:${a_admin[$node]}" tributary_exporter_retried_records_total)))
  done
done
echo "retries while collector 2 was away: $retries"
start "collector-2b" "$COLLECTOR" --config "$WORK/collector-2.yaml"
wait_ready "http://127.0.0.1:${c_admin[2]}/readyz"
check $((N + N / 2))
for node in a b; do check_accounting "http://127.0.0.1:${a_admin[$node]}" spans; done
