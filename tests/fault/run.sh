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
  [[ -d "$WORK" ]] && touch "$WORK/stop-probe"
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
  reload)
    # (g) The agent's configuration is rewritten under load, with a SIGHUP
    # after each change: a batch timeout, a processor added, an exporter
    # removed; then an invalid file through POST /-/reload. Its OTLP port
    # must never refuse a connection, its tail receiver never read a byte
    # twice, and every acknowledged span arrive exactly once.
    write_configs
    mkdir -p "$WORK/app" "$WORK/copy" "$WORK/logs"
    agent_config() {  # BATCH_TIMEOUT PROCESSORS EXPORTERS [MORE_SERVICE]
      write_config "$WORK/agent.yaml" admin "$a_admin" \
        receiver otlp "$(otlp_receiver_body "$a_grpc")" \
        receiver tail "include: [\"$WORK/app/*.log\"]
start_at: beginning
checkpoint_dir: $WORK/tail-checkpoints" \
        processor batch "timeout: $1" \
        processor memory_limiter "limit_mib: 8192" \
        exporter otlp "$(otlp_exporter_body "$c_grpc" "timeout: 5s
retry_on_failure:
  initial_interval: 50ms
  max_interval: 1s
  max_elapsed_time: 0s")" \
        exporter file/copy "path: $WORK/copy/spans.jsonl" \
        exporter file/logs "path: $WORK/logs/lines.jsonl" \
        service "shutdown_timeout: 5s
buffer:
  directory: $WORK/agent-buffer
  fsync: interval
  fsync_interval: 200ms
${4:-}" \
        pipeline traces "otlp | $2 | $3" \
        pipeline logs "tail | batch | file/logs"
    }
    reloads() { metric "$A" tributary_config_reloads_total "result=\"$1\""; }
    reload_and_wait() {  # expected successes after this one
      kill -HUP "$AGENT_PID"
      local deadline=$((SECONDS + 60))
      until [[ "$(reloads success)" == "$1" ]]; do
        ((SECONDS < deadline)) || { echo "reload $1 did not complete" >&2; exit 1; }
        sleep 0.1
      done
      changes=$(grep 'configuration reloaded' "$WORK/agent.log" | tail -1 | sed 's/.*changes=//')
      echo "reload $1 done: $changes"
      # Only the pipelines that changed are rebuilt: the logs pipeline and
      # the otlp exporter run on.
      [[ -z "${2:-}" || "$changes" == "$2" ]] ||
        { echo "reload $1: expected changes $2" >&2; exit 1; }
    }
    agent_config 50ms "batch" "otlp file/copy"
    start_collector
    start_agent
    wait_ready "$A/readyz"
    # A probe connects to the OTLP port every 10 ms; a log line is written
    # every 10 ms.
    (
      refused=0
      while [[ ! -e "$WORK/stop-probe" ]]; do
        (echo >"/dev/tcp/127.0.0.1/$a_grpc") 2>/dev/null || refused=$((refused + 1))
        sleep 0.01
      done
      echo "$refused" >"$WORK/refused"
    ) &
    PROBE_PID=$!
    (
      i=0
      while [[ ! -e "$WORK/stop-probe" ]]; do
        i=$((i + 1))
        echo "log-line-$i" >>"$WORK/app/app.log"
        sleep 0.01
      done
      echo "$i" >"$WORK/lines-written"
    ) &
    WRITER_PID=$!
    send --threads 10 --rate 3 --batch 200 &
    sender=$!
    step=$((SECONDS_STREAM / 5))
    sleep "$step"
    agent_config 200ms "batch" "otlp file/copy"
    reload_and_wait 1
    sleep "$step"
    agent_config 200ms "memory_limiter batch" "otlp file/copy"
    reload_and_wait 2 '"pipeline traces rebuilt"'
    sleep "$step"
    agent_config 200ms "memory_limiter batch" "otlp"
    reload_and_wait 3 '"pipeline traces rebuilt; exporter file/copy removed"'
    sleep "$step"
    cp "$WORK/agent.yaml" "$WORK/agent.good.yaml"
    agent_config 200ms "memory_limiter batch no_such_processor" "otlp" "colour: blue"
    code=$(curl -sS -o "$WORK/reload.out" -w '%{http_code}' -X POST "$A/-/reload")
    echo "invalid reload: HTTP $code: $(head -c 300 "$WORK/reload.out")"
    [[ "$code" == 400 ]] || { echo "an invalid file was answered $code" >&2; exit 1; }
    grep -q 'agent.yaml:.*service.colour' "$WORK/reload.out" ||
      { echo "the answer does not name the file, line and key" >&2; exit 1; }
    [[ "$(metric "$A" tributary_config_last_reload_successful)" == 0 ]] ||
      { echo "tributary_config_last_reload_successful is not 0" >&2; exit 1; }
    [[ "$(reloads failure)" == 1 ]] || { echo "the failed reload was not counted" >&2; exit 1; }
    wait "$sender"
    touch "$WORK/stop-probe"
    wait "$PROBE_PID" "$WRITER_PID"
    refused=$(cat "$WORK/refused")
    reread=$(metric "$A" tributary_tail_reread_bytes_total)
    echo "agent: refused connections=$refused tail reread bytes=$reread"
    ((refused == 0)) || { echo "the OTLP port refused $refused connections" >&2; exit 1; }
    ((reread == 0)) || { echo "the tail receiver read $reread bytes again" >&2; exit 1; }
    # The old pipelines kept delivering after the invalid file: every span
    # sent after it is in the check below.
    written=$(cat "$WORK/lines-written")
    deadline=$((SECONDS + 60))
    until [[ "$(cat "$WORK"/logs/*.jsonl 2>/dev/null | grep -o 'log-line-[0-9]*' | sort -u | wc -l)" == "$written" ]]; do
      ((SECONDS < deadline)) || break
      sleep 0.2
    done
    lines=$(cat "$WORK"/logs/*.jsonl | grep -o 'log-line-[0-9]*' | wc -l)
    unique=$(cat "$WORK"/logs/*.jsonl | grep -o 'log-line-[0-9]*' | sort -u | wc -l)
    echo "tail: written=$written delivered=$lines unique=$unique"
    ((lines == written && unique == written)) ||
      { echo "tail lines lost or repeated across reloads" >&2; exit 1; }
    # The agent's books: its traces pipeline fanned out to two exporters for
    # part of the run, so only the collector's are balanced as a whole.
    wait_drained "$A" 120
    received=$(metric "$A" tributary_pipeline_received_records_total 'signal="spans"')
    sent=$(metric "$A" tributary_exporter_sent_records_total 'exporter="otlp",signal="spans"')
    echo "agent: received=$received sent by otlp=$sent"
    ((received == sent)) || { echo "the agent's otlp exporter did not send what it received" >&2; exit 1; }
    wait_drained "http://127.0.0.1:$c_admin" 120
    sleep 0.3
    check_accounting "http://127.0.0.1:$c_admin" spans
    stop_all
    check | tee "$WORK/check.out"
    grep -q ' duplicated=0 ' "$WORK/check.out" || { echo "spans were duplicated" >&2; exit 1; }
    ;;
  *)
    echo "unknown scenario $SCENARIO" >&2
    exit 2
    ;;
esac
