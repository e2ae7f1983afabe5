# Shared by the integration test scripts: free ports, process control, the
# cached npm install of the OpenTelemetry JS clients.

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ -n "${WORK:-}" && "${KEEP_WORK:-0}" != "1" ]] && rm -rf "$WORK"
}

# cleanup_showing_logs: cleanup, after printing the end of every log in
# $WORK when the script is failing (for `trap cleanup_showing_logs EXIT`).
cleanup_showing_logs() {
  local rc=$?
  if ((rc != 0)); then
    for f in "$WORK"/*.log; do
      echo "--- $(basename "$f") (last lines)"
      tail -n 30 "$f"
    done
  fi
  cleanup
}

# free_port: a TCP port on 127.0.0.1 nobody listens on now, below the
# kernel's ephemeral range so that no outgoing connection takes it meanwhile.
free_port() {
  local port low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  ((low > 12000)) || low=32768
  while :; do
    port=$((10000 + RANDOM % (low - 10000)))
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

# wait_ready URL [seconds]: waits for an HTTP 200.
wait_ready() {
  local url=$1 deadline=$((SECONDS + ${2:-30}))
  until curl -fsS --max-time 5 -o /dev/null "$url" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      echo "not ready: $url" >&2
      return 1
    fi
    sleep 0.1
  done
}

# write_config FILE PART...: writes a configuration composed of parts, so that
# a test shows only what is particular to it. Parts, in any order:
#   receiver|processor|exporter ID BODY   a component; BODY is its settings,
#                                         unindented YAML (may be empty)
#   admin PORT                            service.admin on 127.0.0.1:PORT
#   pipelines "RECEIVERS | PROCESSORS | EXPORTERS"
#                                         traces, metrics and logs alike
#   pipeline NAME "RECEIVERS | PROCESSORS | EXPORTERS"
#                                         one pipeline (traces, logs/2, ...)
#   service BODY                          more service settings (buffer, ...)
# Lists are space-separated ids; an empty PROCESSORS is none.
write_config() {
  local file=$1
  shift
  local receivers="" processors="" exporters="" connectors="" pipelines="" service=""
  while (($#)); do
    case "$1" in
      receiver | processor | exporter | connector)
        local block="  $2:"$'\n'
        [[ -n "$3" ]] && block+="$(printf '%s\n' "$3" | sed '/^$/d; s/^/    /')"$'\n'
        case "$1" in
          receiver) receivers+=$block ;;
          processor) processors+=$block ;;
          exporter) exporters+=$block ;;
          connector) connectors+=$block ;;
        esac
        shift 3
        ;;
      admin)
        service+="  admin:"$'\n'"    endpoint: 127.0.0.1:$2"$'\n'
        shift 2
        ;;
      pipelines)
        local signal
        for signal in traces metrics logs; do pipelines+=$(_pipeline_line "$signal" "$2")$'\n'; done
        shift 2
        ;;
      pipeline)
        pipelines+=$(_pipeline_line "$2" "$3")$'\n'
        shift 3
        ;;
      service)
        service+="$(printf '%s\n' "$2" | sed '/^$/d; s/^/  /')"$'\n'
        shift 2
        ;;
      *)
        echo "write_config: unknown part '$1'" >&2
        return 2
        ;;
    esac
  done
  {
    [[ -n "$receivers" ]] && printf 'receivers:\n%s' "$receivers"
    [[ -n "$processors" ]] && printf 'processors:\n%s' "$processors"
    [[ -n "$exporters" ]] && printf 'exporters:\n%s' "$exporters"
    [[ -n "$connectors" ]] && printf 'connectors:\n%s' "$connectors"
    printf 'service:\n%s  pipelines:\n%s' "$service" "$pipelines"
  } >"$file"
}

# _pipeline_line NAME "RECEIVERS | PROCESSORS | EXPORTERS": one line of
# service.pipelines.
_pipeline_line() {
  local r p e
  IFS='|' read -r r p e <<<"$2"
  printf '    %s: {receivers: [%s], processors: [%s], exporters: [%s]}\n' "$1" \
    "$(_yaml_list $r)" "$(_yaml_list $p)" "$(_yaml_list $e)"
}
_yaml_list() {
  local IFS=,
  echo "$*" | sed 's/,/, /g'
}

# Bodies of the parts most tests use.
# otlp_receiver_body GRPC_PORT [HTTP_PORT]: OTLP on 127.0.0.1, each protocol
# whose port is given (not empty).
otlp_receiver_body() {
  printf 'protocols:\n'
  [[ -n "$1" ]] && printf '  grpc:\n    endpoint: 127.0.0.1:%s\n' "$1"
  [[ -n "${2:-}" ]] && printf '  http:\n    endpoint: 127.0.0.1:%s\n' "$2"
  return 0
}
# otlp_exporter_body PORT [MORE]: OTLP/gRPC to 127.0.0.1:PORT in plaintext,
# with MORE (unindented YAML) after it.
otlp_exporter_body() {
  printf 'endpoint: 127.0.0.1:%s\ntls:\n  insecure: true\n%s' "$1" "${2:-}"
}
# otlp_bulk_receiver_body GRPC_PORT: OTLP/gRPC on 127.0.0.1 taking requests
# of up to 64 MiB, for load generators.
otlp_bulk_receiver_body() {
  printf 'protocols:\n  grpc:\n    endpoint: 127.0.0.1:%s\n    max_recv_msg_size_mib: 64\n' "$1"
}
# tail_cri_body INCLUDE CHECKPOINT_DIR: CRI files matching INCLUDE, from the
# beginning.
tail_cri_body() {
  printf 'include: ["%s"]\nformat: cri\nstart_at: beginning\ncheckpoint_dir: %s\n' "$1" "$2"
}
BATCH_100MS="timeout: 100ms"
# The RED tests' connectors, flushing every second: span metrics with
# exemplars and buckets around the example services' latencies (which
# red_check.py knows), and the service graph.
RED_SPANMETRICS="metrics_flush_interval: 1s
histogram:
  explicit:
    buckets: [100us, 200us, 300us, 400us, 500us, 750us, 1ms, 1500us, 2ms, 3ms, 5ms, 10ms, 50ms]
exemplars: {enabled: true}"
RED_SERVICEGRAPH="metrics_flush_interval: 1s
store: {ttl: 2s, max_items: 100000}
store_expiration_loop: 200ms"
# Retries that start at once and never give up, for outage tests.
RETRY_UNTIL_DELIVERED="timeout: 5s
retry_on_failure:
  initial_interval: 100ms
  max_interval: 2s
  max_elapsed_time: 0s"

# start_otlp_agent AGENT EXPORTER EXPORTER_YAML: writes $WORK/agent.yaml (OTLP
# over gRPC and HTTP on free ports, every signal batched to EXPORTER, whose
# settings are EXPORTER_YAML), starts AGENT with it and waits until it is
# ready. Sets A_GRPC, A_HTTP and A_ADMIN to its ports.
start_otlp_agent() {
  local agent=$1 exporter=$2 settings=$3
  A_GRPC=$(free_port) A_HTTP=$(free_port) A_ADMIN=$(free_port)
  write_config "$WORK/agent.yaml" admin "$A_ADMIN" \
    receiver otlp "$(otlp_receiver_body "$A_GRPC" "$A_HTTP")" \
    processor batch "$BATCH_100MS" \
    exporter "$exporter" "$settings" \
    pipelines "otlp | batch | $exporter"
  start agent "$agent" --config "$WORK/agent.yaml"
  wait_ready "http://127.0.0.1:$A_ADMIN/readyz"
}

# wait_port PORT [SECONDS]: until something accepts TCP connections on 127.0.0.1:PORT.
wait_port() {
  local deadline=$((SECONDS + ${2:-30}))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    if ((SECONDS > deadline)); then
      echo "nothing listens on port $1" >&2
      return 1
    fi
    sleep 0.1
  done
}

# metric URL NAME [LABEL_FILTER]: the sum of a self-metric's samples at
# URL/metrics (only those whose line contains LABEL_FILTER).
metric() {
  curl -fsS --max-time 10 "$1/metrics" | awk -v name="$2" -v filter="${3:-}" '
    $0 !~ /^#/ && (index($1, name "{") == 1 || $1 == name) && (filter == "" || index($0, filter)) {
      sum += $NF
    }
    END { printf "%d\n", sum }'
}

# check_accounting URL SIGNAL [FANOUT]: with nothing in flight, every record
# a process took in (received, recovered from its buffer at start, or
# emitted by a processor from the points it merged) is sent, dead-lettered,
# dropped with a reason, still buffered, handed back to its sender with a
# retryable error by a processor, or merged. SIGNAL is spans, logs or
# metric_points. Each pipeline of SIGNAL is taken to deliver to FANOUT
# exporters and connectors (default 1), each of which accounts for every
# record: what comes in counts FANOUT times (so nothing may be dropped before
# the fan-out when FANOUT > 1).
check_accounting() {
  local url=$1 f="signal=\"$2\"" fanout=${3:-1}
  local received recovered emitted sent dead dropped buffered returned merged
  received=$(metric "$url" tributary_pipeline_received_records_total "$f")
  recovered=$(metric "$url" tributary_buffer_recovered_records_total "$f")
  emitted=$(metric "$url" tributary_processor_emitted_records_total "$f")
  sent=$(metric "$url" tributary_exporter_sent_records_total "$f")
  dead=$(metric "$url" tributary_dead_lettered_records_total "$f")
  dropped=$(metric "$url" tributary_dropped_records_total "$f")
  buffered=$(metric "$url" tributary_buffer_records "$f")
  returned=$(metric "$url" tributary_processor_returned_records_total "$f")
  merged=$(metric "$url" tributary_processor_merged_records_total "$f")
  echo "accounting $url: ($fanout x) received=$received emitted=$emitted recovered=$recovered =" \
    "sent=$sent dead_lettered=$dead dropped=$dropped buffered=$buffered ($fanout x)" \
    "returned=$returned merged=$merged"
  if (((received + emitted) * fanout + recovered !=
    sent + dead + dropped + buffered + (returned + merged) * fanout)); then
    echo "accounting does not balance at $url" >&2
    return 1
  fi
}

# wait_drained URL SECONDS: until the buffer of the process at URL holds
# nothing an exporter has not settled.
wait_drained() {
  local url=$1 deadline=$((SECONDS + $2))
  sleep 0.5
  until [[ "$(metric "$url" tributary_buffer_records)" == 0 ]]; do
    if ((SECONDS > deadline)); then
      echo "buffer at $url not drained: $(metric "$url" tributary_buffer_records) records left" >&2
      return 1
    fi
    sleep 0.3
  done
}

# wait_file FILE SECONDS: until FILE exists and is not empty.
wait_file() {
  local deadline=$((SECONDS + $2))
  until [[ -s "$1" ]]; do
    if ((SECONDS > deadline)); then
      echo "$1 did not appear in $2 s" >&2
      return 1
    fi
    sleep 0.2
  done
}

# start NAME CMD...: runs CMD in the background, logging to $WORK/NAME.log.
start() {
  local name=$1
  shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}

# npm_modules DIR NAME: installs the locked npm packages of DIR (its
# package.json and package-lock.json) into a cache outside the repository
# named NAME (once per lock file) and prints the node_modules directory.
npm_modules() {
  local src=$1
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/tributary/$2"
  local stamp
  stamp=$(sha256sum "$src/package-lock.json" | cut -c1-16)
  if [[ ! -f "$cache/.installed-$stamp" ]]; then
    rm -rf "$cache"
    mkdir -p "$cache"
    cp "$src/package.json" "$src/package-lock.json" "$cache/"
    (cd "$cache" && npm ci --no-audit --no-fund --loglevel=error) >&2
    touch "$cache/.installed-$stamp"
  fi
  echo "$cache/node_modules"
}

# interop_modules: the OpenTelemetry JS clients of tests/interop.
interop_modules() { npm_modules "$TESTS_DIR/interop" interop; }
