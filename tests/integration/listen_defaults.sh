#!/usr/bin/env bash
# The agent and the collector started from their built-in configurations
# listen on loopback only (`ss -ltnup`); the Kubernetes configurations name
# 0.0.0.0 for every listener that other pods reach.
set -euo pipefail
AGENT=$1
COLLECTOR=$2
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
source "$SOURCE_DIR/tests/lib.sh"
WORK=$(mktemp -d)
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# check PROGRAM NAME EXPECTED_PORTS...: starts PROGRAM without --config and
# compares the sockets it listens on with the expected ports, all on loopback.
check() {
  local program=$1 name=$2
  shift 2
  mkdir -p "$WORK/$name"
  TRIBUTARY_BUFFER_DIR="$WORK/$name/buffer" TRIBUTARY_TAIL_CHECKPOINT_DIR="$WORK/$name/tail" \
    TRIBUTARY_LOG_FILES="$WORK/$name/*.log" TRIBUTARY_FILE_PATH="$WORK/$name/out.jsonl" \
    "$program" >"$WORK/$name/log" 2>&1 &
  pid=$!
  wait_ready "http://127.0.0.1:8888/readyz" 120
  ss -H -ltnup | grep "pid=$pid," | awk '{print $1, $5}' | sort -u >"$WORK/$name/sockets"
  echo "$name listens on:"
  cat "$WORK/$name/sockets"
  local bad=0
  while read -r proto addr; do
    case "$addr" in
      127.0.0.1:* | \[::1\]:* | \[::ffff:127.0.0.1\]:*) ;;
      *)
        echo "FAIL: $name listens on $proto $addr, beyond loopback" >&2
        bad=1
        ;;
    esac
  done <"$WORK/$name/sockets"
  for want in "$@"; do
    if ! grep -q "^${want%%/*} .*:${want##*/}\$" "$WORK/$name/sockets"; then
      echo "FAIL: $name does not listen on $want" >&2
      bad=1
    fi
  done
  kill "$pid"
  wait "$pid" || true
  pid=""
  return $bad
}

check "$AGENT" agent tcp/4317 tcp/4318 tcp/8888 udp/8125
check "$COLLECTOR" collector tcp/4317 tcp/4318 tcp/8888 tcp/8889

# The Kubernetes configurations name the pod's addresses explicitly.
chart=$SOURCE_DIR/deploy/helm/tributary
for endpoint in 4317 4318 8125 8888; do
  grep -q "endpoint: 0.0.0.0:$endpoint" "$chart/files/agent.yaml" ||
    { echo "FAIL: the chart's agent configuration does not listen on 0.0.0.0:$endpoint" >&2; exit 1; }
done
for endpoint in 8889 8888; do
  grep -q "endpoint: 0.0.0.0:$endpoint" "$chart/files/collector.yaml" ||
    { echo "FAIL: the chart's collector configuration does not listen on 0.0.0.0:$endpoint" >&2; exit 1; }
done
grep -q '"endpoint" "0.0.0.0:4317"' "$chart/templates/_helpers.tpl" ||
  { echo "FAIL: the chart's collector OTLP receiver does not listen on 0.0.0.0:4317" >&2; exit 1; }
echo "PASS: built-in configurations listen on loopback only"
