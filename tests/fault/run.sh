#!/usr/bin/env bash
# The fault suite: one scenario per run. A sender streams spans with unique
# ids into tributary-agent, which forwards them through its write-ahead
# buffer to tributary-collector (or to a destination that fails on purpose),
# which writes them to a file. Something is broken on the way; afterwards
# every span the agent acknowledged must be in the file, except for drops
# the self-metrics count exactly. Prints sent / delivered / lost / duplicated.
#
#   run.sh SCENARIO TOOLS_DIR AGENT COLLECTOR
#
# FAULT_SECONDS (default 20) is how long the sender streams; FAULT_OUTAGE
# (default 60) how long the destination stays down in destination_down.
set -euo pipefail
SCENARIO=$1
TOOLS=$2
AGENT=$3
COLLECTOR=$4
source "$(dirname "$0")/../lib.sh"
WORK=$(mktemp -d)
SECONDS_STREAM=${FAULT_SECONDS:-20}
OUTAGE=${FAULT_OUTAGE:-60}

a_grpc=$(free_port) a_admin=$(free_port) c_grpc=$(free_port) c_admin=$(free_port)
AGENT_PID= COLLECTOR_PID= SINK_PID= KILLER_PID=

stop_all() {
  if [[ -n "$KILLER_PID" ]]; then
    kill "$KILLER_PID" 2>/dev/null || true
    wait "$KILLER_PID" 2>/dev/null || true
  fi
  for pid in $AGENT_PID $COLLECTOR_PID $SINK_PID; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $AGENT_PID $COLLECTOR_PID $SINK_PID; do wait "$pid" 2>/dev/null || true; done
  AGENT_PID= COLLECTOR_PID= SINK_PID= KILLER_PID=
}
on_exit() {
  local rc=$?
  stop_all
  if ((rc != 0)); then
    for f in "$WORK"/*.log; do
      echo "--- $(basename "$f") (last lines)"
      tail -n 25 "$f"
    done
  fi
  cleanup
}
trap on_exit EXIT

# The agent's buffer settings; scenarios change them.
A_MAX_SIZE=64MiB A_SEGMENT=1MiB A_WHEN_FULL=block DEST_PORT=$c_grpc

write_configs() {
  write_config "$WORK/agent.yaml" admin "$a_admin" \
    receiver otlp "$(otlp_receiver_body "$a_grpc")" \
    processor batch "timeout: 50ms" \
    exporter otlp "$(otlp_exporter_body "$DEST_PORT" "timeout: 5s
retry_on_failure:
  initial_interval: 50ms
  max_interval: 1s
  max_elapsed_time: 0s")" \
    service "shutdown_timeout: 5s
buffer:
  directory: $WORK/agent-buffer
  max_size: $A_MAX_SIZE
  segment_size: $A_SEGMENT
  when_full: $A_WHEN_FULL
  fsync: interval
  fsync_interval: 200ms" \
    pipeline traces "otlp | batch | otlp"
  write_config "$WORK/collector.yaml" admin "$c_admin" \
    receiver otlp "$(otlp_receiver_body "$c_grpc")" \
    processor batch "timeout: 50ms" \
    exporter file "path: $WORK/out/delivered.jsonl
rotation:
  max_megabytes: 0" \
    service "shutdown_timeout: 5s
buffer:
  directory: $WORK/collector-buffer
  segment_size: 1MiB" \
    pipeline traces "otlp | batch | file"
  mkdir -p "$WORK/out"
}

start_agent() {
  "$AGENT" --config "$WORK/agent.yaml" >>"$WORK/agent.log" 2>&1 &
  AGENT_PID=$!
}
start_collector() {
  "$COLLECTOR" --config "$WORK/collector.yaml" >>"$WORK/collector.log" 2>&1 &
  COLLECTOR_PID=$!
}

send() {
  "$TOOLS/tributary-fault-send" --endpoint "127.0.0.1:$a_grpc" --acked "$WORK/acked.txt" \
    --duration "$SECONDS_STREAM" "$@" | tee "$WORK/send.out"
}

check() {
  echo "scenario $SCENARIO:"
  "$TOOLS/tributary-fault-check" --acked "$WORK/acked.txt" "$@" "$WORK"/out/*
}

drain_and_stop() {
  wait_drained "http://127.0.0.1:$a_admin" "${1:-120}"
  check_accounting "http://127.0.0.1:$a_admin" spans
  if [[ -n "$COLLECTOR_PID" ]]; then
    wait_drained "http://127.0.0.1:$c_admin" "${1:-120}"
    sleep 0.3  # the batch processor's last timeout
    check_accounting "http://127.0.0.1:$c_admin" spans
  fi
  stop_all
}

A="http://127.0.0.1:$a_admin"
case "$SCENARIO" in
  collector_sigkill)
    # (a) The collector is killed with SIGKILL every few seconds.
    write_configs
    start_collector
    start_agent
    wait_ready "$A/readyz"
    (
      while sleep 3; do
        kill -KILL "$COLLECTOR_PID" 2>/dev/null || true
        wait "$COLLECTOR_PID" 2>/dev/null || true
        sleep 0.5
        start_collector
      done
    ) &
    KILLER_PID=$!
    send --rate 40
    kill "$KILLER_PID"
    wait "$KILLER_PID" 2>/dev/null || true
    KILLER_PID=
    # The killer's last collector is not ours to wait on: start a fresh one.
    pkill -KILL -f "$WORK/collector.yaml" || true
    sleep 0.5
    start_collector
    drain_and_stop
    check
    ;;
  agent_sigkill)
    # (b) The agent is killed with SIGKILL during the stream; the sender
    # retries what was not acknowledged.
    write_configs
    start_collector
    start_agent
    wait_ready "$A/readyz"
    send --rate 40 &
    sender=$!
    for _ in $(seq $((SECONDS_STREAM / 3))); do
      sleep 3
      kill -KILL "$AGENT_PID"
      wait "$AGENT_PID" 2>/dev/null || true
      start_agent
    done
    wait "$sender"
    wait_ready "$A/readyz"
    drain_and_stop
    check
    ;;
  destination_down)
    # (c) The agent's destination is down for FAULT_OUTAGE seconds, then back.
    write_configs
    start_collector
    start_agent
    wait_ready "$A/readyz"
    (
      sleep 3
      if ! kill -TERM "$COLLECTOR_PID" 2>/dev/null; then
        echo "the collector had already exited:" >&2
        tail -n 20 "$WORK/collector.log" >&2
      fi
      wait "$COLLECTOR_PID" 2>/dev/null || true
      sleep "$OUTAGE"
      "$COLLECTOR" --config "$WORK/collector.yaml" >>"$WORK/collector.log" 2>&1 &
      echo $! >"$WORK/collector.pid"
      wait
    ) &
    KILLER_PID=$!
    SECONDS_STREAM=$((OUTAGE + 10)) send --rate 20
    wait_file "$WORK/collector.pid" $((OUTAGE + 30))
    COLLECTOR_PID=$(cat "$WORK/collector.pid")
    wait_ready "http://127.0.0.1:$c_admin/readyz"
    KILLER_PID=
    drain_and_stop
    check
    ;;
  destination_flaky)
    # (d) The destination refuses at random (RESOURCE_EXHAUSTED / UNAVAILABLE,
    # HTTP 429 / 503) for most of the stream.
    DEST_PORT=$(free_port)
    write_configs
    "$TOOLS/tributary-fault-sink" --port "$DEST_PORT" --output "$WORK/out/delivered.jsonl" \
      --flaky-for $((SECONDS_STREAM - 3)) --fail-ratio 0.5 >"$WORK/sink.log" 2>&1 &
    SINK_PID=$!
    start_agent
    wait_ready "$A/readyz"
    send --rate 40
    drain_and_stop
    cat "$WORK/sink.log"
    check
    ;;
  disk_full_block | disk_full_drop_oldest)
    # (e) The agent's buffer fills while the collector is down: in block mode
    # senders are refused (and retry); in drop_oldest mode the oldest data
    # goes, counted.
    A_MAX_SIZE=1MiB A_SEGMENT=128KiB
    [[ "$SCENARIO" == disk_full_drop_oldest ]] && A_WHEN_FULL=drop_oldest
    write_configs
    start_agent
    wait_ready "$A/readyz"
    (
      sleep $((SECONDS_STREAM / 2))
      "$COLLECTOR" --config "$WORK/collector.yaml" >>"$WORK/collector.log" 2>&1 &
      echo $! >"$WORK/collector.pid"
      wait
    ) &
    KILLER_PID=$!
    send --rate 40 --batch 100
    wait_file "$WORK/collector.pid" 30
    COLLECTOR_PID=$(cat "$WORK/collector.pid")
    wait_ready "http://127.0.0.1:$c_admin/readyz"
    wait_drained "$A" 120
    dropped=$(metric "$A" tributary_dropped_records_total 'reason="buffer_full"')
    refused=$(metric "$A" tributary_receiver_refused_records_total)
    echo "agent: dropped{buffer_full}=$dropped refused=$refused"
    KILLER_PID=
    drain_and_stop
    if [[ "$A_WHEN_FULL" == block ]]; then
      ((refused > 0)) || { echo "the buffer never filled: nothing was refused" >&2; exit 1; }
      check
    else
      ((dropped > 0)) || { echo "the buffer never filled: nothing was dropped" >&2; exit 1; }
      check --expect-lost "$dropped"
    fi
    ;;
  corrupt_segment)
    # (f) A segment file is damaged while the agent is down; on restart the
    # damaged record is skipped and counted, everything else delivered.
    write_configs
    start_agent
    wait_ready "$A/readyz"
    SECONDS_STREAM=5 send --rate 20
    kill -KILL "$AGENT_PID"
    wait "$AGENT_PID" 2>/dev/null || true
    segment=$(ls "$WORK"/agent-buffer/traces/*.seg | head -1)
    # Eight bytes inside the payload of a record in the middle of the file.
    mapfile -t records < <(grep -obUaF TRB1 "$segment" | cut -d: -f1)
    ((${#records[@]} > 4)) || { echo "too few records buffered" >&2; exit 1; }
    offset=$((records[${#records[@]} / 2] + 28 + 40))
    printf '\x00\x00\x00\x00\x00\x00\x00\x00' |
      dd of="$segment" bs=1 seek="$offset" conv=notrunc status=none
    start_collector
    start_agent
    wait_ready "$A/readyz"
    wait_drained "$A" 60
    corrupt=$(metric "$A" tributary_dropped_records_total 'reason="buffer_corrupt"')
    echo "agent: dropped{buffer_corrupt}=$corrupt"
    ((corrupt > 0)) || { echo "the damage went unnoticed" >&2; exit 1; }
    drain_and_stop
    check --expect-lost "$corrupt"
    ;;
  *)
    echo "unknown scenario $SCENARIO" >&2
    exit 2
    ;;
esac
