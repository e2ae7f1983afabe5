#!/usr/bin/env bash
# Against a real Elasticsearch 8 and a real OpenSearch 2.19, both from Maven
# Central (tests/services/elasticsearch.sh):
#
# 1. The OpenTelemetry JS SDK sends spans and logs through tributary-agent to
#    tributary-collector, whose two elasticsearch exporters index them into
#    Elasticsearch (ECS mapping) and OpenSearch (otel mapping), data streams
#    with the exporter's index templates. Every record must be searchable by
#    its run id in both, with its fields as mapped.
# 2. Elasticsearch is stopped for 30 s and restarted while
#    tributary-fault-send streams spans into an agent that indexes them
#    through its write-ahead buffer: every span the agent acknowledged is
#    indexed exactly once.
#
#   elasticsearch_e2e.sh TOOLS_DIR AGENT COLLECTOR
set -euo pipefail
TOOLS=$1
AGENT=$2
COLLECTOR=$3
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/elasticsearch.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
NODE_PATH=$(interop_modules)
export NODE_PATH
N=${E2E_RECORDS:-200}
OUTAGE=${ES_OUTAGE:-30}

es_port=$(free_port)
es_start es "$es_port"
opensearch_start os
ES=http://127.0.0.1:$es_port
OS=http://127.0.0.1:$OPENSEARCH_PORT

# count URL INDEX FIELD VALUE: documents of INDEX whose FIELD is VALUE.
count() {
  curl -fsS --max-time 30 -XPOST "$1/$2/_refresh" >/dev/null
  curl -fsS --max-time 30 -H 'Content-Type: application/json' "$1/$2/_count" \
    -d "{\"query\":{\"term\":{\"$3\":\"$4\"}}}" | sed -E 's/.*"count":([0-9]+).*/\1/'
}

# --- 1. SDK -> agent -> collector -> Elasticsearch and OpenSearch ------------
c_grpc=$(free_port) c_admin=$(free_port) a_http=$(free_port) a_admin=$(free_port)
C="http://127.0.0.1:$c_admin"
write_config "$WORK/collector.yaml" admin "$c_admin" \
  receiver otlp "$(otlp_receiver_body "$c_grpc")" \
  processor batch "$BATCH_100MS" \
  exporter elasticsearch/es "endpoints: [$ES]
install_templates: true
compression: gzip" \
  exporter elasticsearch/os "endpoints: [$OS]
mapping: otel
install_templates: true" \
  pipeline traces "otlp | batch | elasticsearch/es elasticsearch/os" \
  pipeline logs "otlp | batch | elasticsearch/es elasticsearch/os"
# The SDK sends metrics too; Elasticsearch takes logs and spans.
write_config "$WORK/agent.yaml" admin "$a_admin" \
  receiver otlp "$(otlp_receiver_body "" "$a_http")" \
  processor batch "$BATCH_100MS" \
  exporter otlp "$(otlp_exporter_body "$c_grpc")" \
  exporter nop "" \
  pipeline traces "otlp | batch | otlp" \
  pipeline logs "otlp | batch | otlp" \
  pipeline metrics "otlp | | nop"
start collector "$COLLECTOR" --config "$WORK/collector.yaml"
start agent "$AGENT" --config "$WORK/agent.yaml"
wait_ready "$C/readyz"
wait_ready "http://127.0.0.1:$a_admin/readyz"
run="es-$$"
node "$TESTS_DIR/interop/send.cjs" --transport http --endpoint "http://127.0.0.1:$a_http" \
  --run "$run" --n "$N" --out "$WORK/expected.json"
read -r want_spans want_logs < <(node -e '
  const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  let s = 0, l = 0;
  for (const r of e.traces) for (const rs of r.resourceSpans) for (const ss of rs.scopeSpans) s += ss.spans.length;
  for (const r of e.logs) for (const rl of r.resourceLogs) for (const sl of rl.scopeLogs) l += sl.logRecords.length;
  console.log(s, l);' "$WORK/expected.json")
deadline=$((SECONDS + 90))
until (($(metric "$C" tributary_exporter_sent_records_total) == 2 * (want_spans + want_logs))); do
  ((SECONDS < deadline)) || { echo "the collector did not index everything" >&2; exit 1; }
  sleep 0.5
done
problems=0
for target in "Elasticsearch $ES" "OpenSearch $OS"; do
  read -r name url <<<"$target"
  logs=$(count "$url" logs-generic-default resource.attributes.test_run "$run")
  spans=$(count "$url" traces-generic-default resource.attributes.test_run "$run")
  echo "$name: logs $logs of $want_logs, spans $spans of $want_spans"
  ((logs == want_logs && spans == want_spans)) || problems=$((problems + 1))
  # A data stream's backing index, with the template's mapping.
  mapping=$(curl -fsS --max-time 30 "$url/logs-generic-default/_mapping")
  grep -q '"\.ds-logs-generic-default-' <<<"$mapping" || { echo "$name: no data stream" >&2; problems=$((problems + 1)); }
  grep -q '"@timestamp":{"type":"date_nanos"}' <<<"$mapping" ||
    { echo "$name: @timestamp is not date_nanos: $mapping" >&2; problems=$((problems + 1)); }
done
# Fields as mapped: one log record and one span from each.
doc=$(curl -fsS --max-time 30 -H 'Content-Type: application/json' "$ES/logs-generic-default/_search" \
  -d "{\"size\":1,\"query\":{\"term\":{\"resource.attributes.test_run\":\"$run\"}}}")
for field in '"@timestamp":"' '"message":"' '"service.name":"' '"log.level":"' '"attributes":{'; do
  grep -qF "$field" <<<"$doc" || { echo "Elasticsearch log lacks $field: $doc" >&2; problems=$((problems + 1)); }
done
doc=$(curl -fsS --max-time 30 -H 'Content-Type: application/json' "$ES/traces-generic-default/_search" \
  -d "{\"size\":1,\"query\":{\"term\":{\"resource.attributes.test_run\":\"$run\"}}}")
for field in '"trace.id":"' '"span.id":"' '"span.name":"' '"event.duration":'; do
  grep -qF "$field" <<<"$doc" || { echo "Elasticsearch span lacks $field: $doc" >&2; problems=$((problems + 1)); }
done
doc=$(curl -fsS --max-time 30 -H 'Content-Type: application/json' "$OS/traces-generic-default/_search" \
  -d "{\"size\":1,\"query\":{\"term\":{\"resource.attributes.test_run\":\"$run\"}}}")
for field in '"trace_id":"' '"span_id":"' '"name":"' '"kind":"' '"scope":{'; do
  grep -qF "$field" <<<"$doc" || { echo "OpenSearch span lacks $field: $doc" >&2; problems=$((problems + 1)); }
done
((problems == 0)) || { echo "FAILED: $problems problems" >&2; exit 1; }
echo "every record is searchable in Elasticsearch and OpenSearch"
kill -TERM "${PIDS[-1]}" "${PIDS[-2]}"
wait "${PIDS[-1]}" "${PIDS[-2]}"
unset 'PIDS[-1]' 'PIDS[-1]'

# --- 2. Elasticsearch down for $OUTAGE s mid-stream ---------------------------
a_grpc=$(free_port) a_admin=$(free_port)
A="http://127.0.0.1:$a_admin"
write_config "$WORK/agent2.yaml" admin "$a_admin" \
  receiver otlp "$(otlp_receiver_body "$a_grpc")" \
  processor batch "timeout: 50ms" \
  exporter elasticsearch "endpoints: [$ES]
namespace: restart
$RETRY_UNTIL_DELIVERED" \
  service "buffer:
  directory: $WORK/agent-buffer
  max_size: 256MiB" \
  pipeline traces "otlp | batch | elasticsearch"
start agent2 "$AGENT" --config "$WORK/agent2.yaml"
AGENT_PID=$!
wait_ready "$A/readyz"
"$TOOLS/tributary-fault-send" --endpoint "127.0.0.1:$a_grpc" --acked "$WORK/acked.txt" \
  --duration $((OUTAGE + 15)) --rate 10 >"$WORK/send.out" 2>&1 &
SENDER=$!
sleep 5
es_stop es
echo "Elasticsearch stopped"
sleep "$OUTAGE"
es_restart es
echo "Elasticsearch restarted after $OUTAGE s"
wait "$SENDER"
cat "$WORK/send.out"
wait_drained "$A" 180
check_accounting "$A" spans
acked=$(awk '{n += $2} END {print n + 0}' "$WORK/acked.txt")
curl -fsS --max-time 30 -XPOST "$ES/traces-generic-restart/_refresh" >/dev/null
indexed=$(curl -fsS --max-time 30 "$ES/traces-generic-restart/_count" | sed -E 's/.*"count":([0-9]+).*/\1/')
echo "acknowledged $acked spans, indexed $indexed (duplicates answered 409:" \
  "$(metric "$A" tributary_elasticsearch_documents_duplicate_total))"
if ((indexed != acked)); then
  echo "indexed differs from acknowledged" >&2
  exit 1
fi
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
echo "agent stopped cleanly"
