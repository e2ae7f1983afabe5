#!/usr/bin/env bash
# The operator's views of a running agent: the status page in Debian's
# Chromium (compared with /api/v1/status and /metrics), the live tap through
# curl and `tributary-agent tap`, and `tributary-agent top` under tmux.
# The agent takes spans from the fault suite's sender (names id:<n>, the ids
# it records as acknowledged) and writes them to a file; a second exporter
# sends to a port nobody listens on, so the page has a failing one to show.
#
#   operate_e2e.sh AGENT SENDER [SCREENSHOT]
set -euo pipefail
AGENT=$1
SENDER=$2
SCREENSHOT=${3:-}
source "$(dirname "$0")/../lib.sh"
WORK=$(mktemp -d)
trap 'touch "$WORK/stop"; tmux kill-session -t "tributary-top-$$" 2>/dev/null || true; cleanup_showing_logs' EXIT
BROWSER=$(npm_modules "$TESTS_DIR/browser" browser)

grpc=$(free_port) admin=$(free_port) closed=$(free_port)
A="http://127.0.0.1:$admin"
write_config "$WORK/agent.yaml" admin "$admin" \
  receiver otlp "$(otlp_receiver_body "$grpc")" \
  processor batch "timeout: 100ms" \
  exporter file "path: $WORK/out/spans.jsonl" \
  exporter otlp/down "$(otlp_exporter_body "$closed" "timeout: 1s
retry_on_failure:
  initial_interval: 200ms
  max_interval: 1s
  max_elapsed_time: 0s")" \
  service "buffer:
  directory: $WORK/buffer" \
  pipeline traces "otlp | batch | file otlp/down"
mkdir -p "$WORK/out"
start agent "$AGENT" --config "$WORK/agent.yaml"
wait_ready "$A/readyz"

# Spans flow for as long as the checks of the busy phase take.
"$SENDER" --endpoint "127.0.0.1:$grpc" --acked "$WORK/acked.txt" --duration 600 --threads 1 \
  --batch 20 --rate 20 >"$WORK/sender.log" 2>&1 &
SENDER_PID=$!
PIDS+=("$SENDER_PID")

# An id the tap shows must be one the sender made: a name id:<n> with n in a
# range it recorded (the sender records a range once acknowledged).
check_ids() {  # FILE WHAT
  local names
  names=$(grep -o '"name":"id:[0-9]*"' "$1" | grep -o '[0-9]*' | sort -un)
  [[ -n "$names" ]] || { echo "$2 showed no span" >&2; exit 1; }
  local deadline=$((SECONDS + 30))
  until python3 - "$WORK/acked.txt" $names <<'PY'; do
import sys
ranges = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
ids = [int(x) for x in sys.argv[2:]]
missing = [i for i in ids if not any(a <= i < a + n for a, n in ranges)]
sys.exit(1 if missing else 0)
PY
    ((SECONDS < deadline)) || { echo "$2 showed spans the sender did not make" >&2; exit 1; }
    sleep 0.5
  done
  echo "$2: $(echo "$names" | wc -l) spans, all made by the sender"
}

# The tap, with curl: what the receiver hands on.
code=$(curl -sS -o "$WORK/tap-curl.jsonl" -w '%{http_code}' \
  "$A/api/v1/tap?component=otlp&signal=traces&limit=3&duration=20s")
[[ "$code" == 200 ]] || { echo "tap answered $code" >&2; exit 1; }
(($(wc -l <"$WORK/tap-curl.jsonl") == 3)) || { echo "tap: not 3 lines" >&2; exit 1; }
check_ids "$WORK/tap-curl.jsonl" "curl tap of otlp"
# And with the program's own client: what the batch processor hands on.
"$AGENT" tap --admin "127.0.0.1:$admin" --component batch --signal traces --limit 2 \
  >"$WORK/tap-cli.jsonl"
(($(wc -l <"$WORK/tap-cli.jsonl") == 2)) || { echo "agent tap: not 2 lines" >&2; exit 1; }
check_ids "$WORK/tap-cli.jsonl" "tributary-agent tap of batch"
# Bad requests.
code=$(curl -sS -o "$WORK/tap-404.txt" -w '%{http_code}' "$A/api/v1/tap?component=nope")
[[ "$code" == 404 ]] && grep -q "known: batch, file, otlp, otlp/down" "$WORK/tap-404.txt" ||
  { echo "unknown component: $code $(cat "$WORK/tap-404.txt")" >&2; exit 1; }
if "$AGENT" tap --admin "127.0.0.1:$admin" --component otlp --signal logs --limit 1 \
  2>"$WORK/tap-err.txt"; then
  echo "agent tap of a signal the component does not take succeeded" >&2
  exit 1
fi
grep -q "takes no logs" "$WORK/tap-err.txt"

# The page while data flows (and the screenshot).
NODE_PATH="$BROWSER" node "$TESTS_DIR/browser/status_page.cjs" "$A" busy "${SCREENSHOT:-$WORK/status.png}"

# top under tmux, while data flows.
tmux new-session -d -s "tributary-top-$$" -x 200 -y 40 \
  "$AGENT top --admin 127.0.0.1:$admin --interval 1s"
deadline=$((SECONDS + 30))
until tmux capture-pane -p -t "tributary-top-$$" | grep -q '^otlp/down .* retrying'; do
  ((SECONDS < deadline)) || { tmux capture-pane -p -t "tributary-top-$$" >&2; exit 1; }
  sleep 0.3
done
tmux capture-pane -p -t "tributary-top-$$" >"$WORK/top.txt"
grep -q '^file  *exporter ' "$WORK/top.txt"
echo "top:"
head -8 "$WORK/top.txt"

# Idle: the sender stops; the page, the API and /metrics must agree.
kill -TERM "$SENDER_PID"
wait "$SENDER_PID" 2>/dev/null || true
deadline=$((SECONDS + 60))
acked=$(awk '{n += $2} END {print n + 0}' "$WORK/acked.txt")
until [[ "$(metric "$A" tributary_exporter_sent_records_total 'exporter="file"')" -ge "$acked" ]]; do
  ((SECONDS < deadline)) || { echo "the file exporter did not catch up" >&2; exit 1; }
  sleep 0.3
done
sleep 2.5  # a sample of the status board with nothing moving
NODE_PATH="$BROWSER" node "$TESTS_DIR/browser/status_page.cjs" "$A" idle
# top shows the same total as /metrics.
sent=$(metric "$A" tributary_exporter_sent_records_total 'exporter="file"')
"$AGENT" top --admin "127.0.0.1:$admin" --once >"$WORK/top-once.txt"
awk -v sent="$sent" '$1 == "file" && $5 == sent {found = 1} END {exit !found}' "$WORK/top-once.txt" ||
  { echo "top does not show file's total $sent:" >&2; cat "$WORK/top-once.txt" >&2; exit 1; }
echo "top --once: file sent $sent, as /metrics"
