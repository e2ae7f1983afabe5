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
  connector spanmetrics "$RED_SPANMETRICS" \
  connector servicegraph "$RED_SERVICEGRAPH" \
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

python3 "$TESTS_DIR/integration/red_check.py" "http://127.0.0.1:$prom" "$WORK/summary.json" "$WORK/sink.jsonl"

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
