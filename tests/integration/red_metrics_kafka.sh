#!/usr/bin/env bash
# RED metrics and the service graph, scaled out over Kafka: the example
# services (loadgen -> frontend -> backend -> sqlite) send their spans
# through two agents (the frontend and the load generator to one, the
# backend to the other, as on two nodes) to a real Kafka broker, keyed by
# trace id; two collectors in one consumer group fold them with spanmetrics
# and servicegraph into their prometheus exporters, both scraped by one real
# Prometheus.
#
# 1. Summed over the two collectors, every figure must equal the
#    single-collector figure of red_metrics_e2e.sh exactly (red_check.py),
#    each collector must have had a share, and neither has an unpaired span.
# 2. A second run of checkouts, with one collector killed (SIGKILL) half-way:
#    the survivor takes its partitions over from the last committed offsets.
#    The killed collector's series keep their last scraped values; the calls
#    summed over both may then differ from the checkouts sent by what the
#    killed one had folded but not yet had scraped (lost) or had scraped but
#    not committed (counted twice): at most the checkouts of one commit
#    interval, one flush interval and one scrape interval. The difference
#    and the calls split by the move (spans whose partner the killed
#    collector held: unpaired at the survivor) are printed.
#   red_metrics_kafka.sh AGENT COLLECTOR EXAMPLES_DIR
set -euo pipefail
AGENT=$1
COLLECTOR=$2
EXAMPLES=$3
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/prometheus.sh"
source "$TESTS_DIR/services/kafka.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
prometheus_install
N=${RED_KAFKA_REQUESTS:-2000}
RATE2=200 # checkouts per second in the second run

kport=$(free_port)
kafka_start kafka "$kport"
B=127.0.0.1:$kport
kafka_topic "$kport" otlp_spans 6

# The two collectors: Kafka -> spanmetrics, servicegraph -> prometheus; the
# spans also to a file sink.
declare -A C_ADMIN C_PROM C_PID
for c in c1 c2; do
  C_ADMIN[$c]=$(free_port) C_PROM[$c]=$(free_port)
  write_config "$WORK/$c.yaml" admin "${C_ADMIN[$c]}" \
    receiver kafka "brokers: [$B]
group_id: aggregators
session_timeout: 6s
heartbeat_interval: 2s
commit_interval: 1s" \
    exporter file "path: $WORK/sink-$c.jsonl
rotation: {max_megabytes: 0}" \
    exporter prometheus "endpoint: 127.0.0.1:${C_PROM[$c]}" \
    connector spanmetrics "$RED_SPANMETRICS" \
    connector servicegraph "$RED_SERVICEGRAPH" \
    pipeline traces "kafka | | file spanmetrics servicegraph" \
    pipeline metrics "spanmetrics servicegraph | | prometheus"
  start "$c" "$COLLECTOR" --config "$WORK/$c.yaml"
  C_PID[$c]=${PIDS[-1]}
done
for c in c1 c2; do wait_ready "http://127.0.0.1:${C_ADMIN[$c]}/readyz"; done

# The two agents: OTLP -> Kafka, one message per trace keyed by its id.
declare -A A_PORT
for a in a1 a2; do
  A_PORT[$a]=$(free_port)
  admin=$(free_port)
  write_config "$WORK/$a.yaml" admin "$admin" \
    receiver otlp "$(otlp_receiver_body "" "${A_PORT[$a]}")" \
    processor batch "$BATCH_100MS" \
    exporter kafka "brokers: [$B]" \
    service "buffer: {directory: $WORK/$a-buffer}" \
    pipeline traces "otlp | batch | kafka"
  start "$a" "$AGENT" --config "$WORK/$a.yaml"
  wait_ready "http://127.0.0.1:$admin/readyz"
done

# Until the group has settled with partitions on both collectors.
deadline=$((SECONDS + 90))
until curl -fsS "http://127.0.0.1:${C_ADMIN[c1]}/metrics" | grep -q '^tributary_kafka_consumer_lag{' &&
  curl -fsS "http://127.0.0.1:${C_ADMIN[c2]}/metrics" | grep -q '^tributary_kafka_consumer_lag{'; do
  ((SECONDS < deadline)) || { echo "the consumer group did not assign both collectors" >&2; exit 1; }
  sleep 0.5
done

prom=$(free_port)
cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: collectors
    static_configs:
      - targets: ["127.0.0.1:${C_PROM[c1]}", "127.0.0.1:${C_PROM[c2]}"]
YAML
prometheus_start prometheus "$prom" "$WORK/prometheus.yml" --enable-feature=exemplar-storage
P="http://127.0.0.1:$prom"

fe_port=$(free_port) be_port=$(free_port)
export OTEL_BSP_SCHEDULE_DELAY=200 OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none
start backend env OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:${A_PORT[a2]}" \
  "$EXAMPLES/tributary-example-backend" --port "$be_port"
start frontend env OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:${A_PORT[a1]}" \
  "$EXAMPLES/tributary-example-frontend" --port "$fe_port" --backend "127.0.0.1:$be_port"
wait_port "$be_port"
wait_port "$fe_port"
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:${A_PORT[a1]}" "$EXAMPLES/tributary-example-loadgen" \
  --target "127.0.0.1:$fe_port" --requests "$N" --rate 400 --error-ratio 0.05 >"$WORK/summary.json"
cat "$WORK/summary.json"

# 1. Exact, summed over the collectors.
python3 "$TESTS_DIR/integration/red_check.py" "$P" "$WORK/summary.json" "$WORK"/sink-c*.jsonl
FE='service_name="frontend",span_name="GET /checkout",span_kind="SPAN_KIND_SERVER"'
python3 - "$P" "$FE" <<'PY'
import json, sys, urllib.parse, urllib.request
q = f"sum by (instance) (traces_span_metrics_calls_total{{{sys.argv[2]}}})"
url = f"{sys.argv[1]}/api/v1/query?" + urllib.parse.urlencode({"query": q})
with urllib.request.urlopen(url, timeout=10) as r:
    shares = {s["metric"]["instance"]: float(s["value"][1]) for s in json.load(r)["data"]["result"]}
print(f"frontend server calls by collector: {shares}")
if len(shares) != 2 or min(shares.values()) <= 0:
    sys.exit("both collectors must have had a share of the traces")
PY
for c in c1 c2; do
  curl -fsS --max-time 10 "http://127.0.0.1:${C_ADMIN[$c]}/metrics" >"$WORK/$c-metrics.txt"
  grep -E '^tributary_connector_unpaired_spans_total\{connector="servicegraph",side="(client|server)"\} 0$' \
    "$WORK/$c-metrics.txt" | wc -l | grep -qx 2
done

# 2. A second run with c2 killed half-way.
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:${A_PORT[a1]}" "$EXAMPLES/tributary-example-loadgen" \
  --target "127.0.0.1:$fe_port" --requests "$N" --rate "$RATE2" --error-ratio 0.05 \
  >"$WORK/summary2.json" &
loadgen=$!
sleep $((N / RATE2 / 2))
kill -KILL "${C_PID[c2]}"
echo "c2 killed with SIGKILL"
wait "$loadgen"
# Until c1 has taken every partition over and read to the end of each.
C1="http://127.0.0.1:${C_ADMIN[c1]}"
deadline=$((SECONDS + 120))
until [[ "$(curl -fsS "$C1/metrics" | grep -c '^tributary_kafka_consumer_lag{')" == 6 ]] &&
  [[ "$(metric "$C1" tributary_kafka_consumer_lag)" == 0 ]]; do
  ((SECONDS < deadline)) || { echo "c1 did not take c2's partitions over" >&2; exit 1; }
  sleep 0.5
done
python3 - "$P" "$FE" "$((2 * N))" "$RATE2" <<'PY'
import json, sys, time, urllib.parse, urllib.request

base, fe, want, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])


def scalar(q):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=10) as r:
        result = json.load(r)["data"]["result"]
    return None if not result else float(result[0]["value"][1])


# The killed collector's series keep their last scraped values.
q = f"sum(last_over_time(traces_span_metrics_calls_total{{{fe}}}[15m]))"
# The commit, flush and scrape intervals are 1 s each.
bound = 3 * rate
previous, deadline = None, time.time() + 60
while True:  # until the survivor's figures stop moving
    got = scalar(q)
    if got is not None and got == previous and abs(got - want) <= bound or time.time() > deadline:
        break
    previous = got
    time.sleep(2.5)
print(f"after the kill: {got} frontend server calls summed over both collectors for {want} checkouts "
      f"(difference {got - want:+.0f}, bound {bound})")
if got is None or abs(got - want) > bound:
    sys.exit("the difference is over the bound of one commit, flush and scrape interval")
PY
# Calls split by the move: spans whose partner the killed collector held.
echo "spans unpaired at the survivor: $(metric "$C1" tributary_connector_unpaired_spans_total)"
