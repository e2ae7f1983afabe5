#!/usr/bin/env bash
# The agent forwards to the collector over mutual TLS with a bearer token,
# both read from files; every acknowledged span arrives. The collector
# refuses the same agent without its client certificate or its token, and
# counts the refusals.
set -euo pipefail
TOOLS=$1
AGENT=$2
COLLECTOR=$3
source "$(dirname "$0")/../lib.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
mkdir -p "$WORK/certs" "$WORK/out"
"$TESTS_DIR/tls/make-certs.sh" "$WORK/certs"
C="$WORK/certs"
echo "agent-token-$$" >"$WORK/token"

c_grpc=$(free_port) c_admin=$(free_port) a_grpc=$(free_port) a_admin=$(free_port)
write_config "$WORK/collector.yaml" admin "$c_admin" \
  receiver otlp "protocols:
  grpc:
    endpoint: 127.0.0.1:$c_grpc
    tls:
      cert_file: $C/server.crt
      key_file: $C/server.key
      client_ca_file: $C/ca.crt
auth:
  bearer_token_file: $WORK/token" \
  exporter file "path: $WORK/out/delivered.jsonl" \
  pipeline traces "otlp | | file"
# agent_config NAME CLIENT_CERT_LINES TOKEN
agent_config() {
  write_config "$WORK/$1.yaml" admin "$a_admin" \
    receiver otlp "$(otlp_receiver_body "$a_grpc")" \
    exporter otlp "endpoint: localhost:$c_grpc
headers:
  authorization: \"Bearer $3\"
tls:
  ca_file: $C/ca.crt
$2
retry_on_failure:
  max_elapsed_time: 2s" \
    pipeline traces "otlp | | otlp"
}
client_cert="  cert_file: $C/client.crt
  key_file: $C/client.key"
agent_config agent "$client_cert" "\${env:AGENT_TOKEN}"

start collector "$COLLECTOR" --config "$WORK/collector.yaml"
wait_ready "http://127.0.0.1:$c_admin/readyz"
AGENT_TOKEN=$(cat "$WORK/token") start agent "$AGENT" --config "$WORK/agent.yaml"
wait_ready "http://127.0.0.1:$a_admin/readyz"
"$TOOLS/tributary-fault-send" --endpoint "127.0.0.1:$a_grpc" --acked "$WORK/acked.txt" \
  --duration 3 --rate 20 --give-up-after 20
"$TOOLS/tributary-fault-check" --acked "$WORK/acked.txt" "$WORK/out/delivered.jsonl"
sent=$(awk '{n += $2} END {print n + 0}' "$WORK/acked.txt")
((sent > 0)) || { echo "nothing was sent" >&2; exit 1; }
kill -TERM "${PIDS[-1]}"
wait "${PIDS[-1]}" || true

# Without the client certificate, then with a wrong token: nothing gets in.
for variant in no_cert wrong_token; do
  if [[ $variant == no_cert ]]; then
    agent_config "$variant" "" "$(cat "$WORK/token")"
  else
    agent_config "$variant" "$client_cert" "not-the-token"
  fi
  start "$variant" "$AGENT" --config "$WORK/$variant.yaml"
  wait_ready "http://127.0.0.1:$a_admin/readyz"
  "$TOOLS/tributary-fault-send" --endpoint "127.0.0.1:$a_grpc" --acked "$WORK/$variant.txt" \
    --duration 1 --rate 5 --give-up-after 0 || true
  kill -TERM "${PIDS[-1]}"
  wait "${PIDS[-1]}" || true
done
unauthenticated=$(metric "http://127.0.0.1:$c_admin" tributary_receiver_failed_requests_total \
  'reason="unauthenticated"')
delivered=$(grep -o '"name":"id:' "$WORK/out/delivered.jsonl" | wc -l)
echo "tls: sent=$sent delivered=$delivered refused_unauthenticated=$unauthenticated"
((delivered == sent)) || { echo "a refused agent got data through" >&2; exit 1; }
((unauthenticated > 0)) || { echo "the wrong token was not counted" >&2; exit 1; }
