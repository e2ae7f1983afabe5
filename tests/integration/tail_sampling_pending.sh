#!/usr/bin/env bash
# Tail sampling at its limit: 1,200,000 single-span traces are sent at once
# to a collector holding at most 1,000,000 undecided (num_traces, when_full:
# refuse). The senders' requests wait for the decision, as their
# acknowledgements are held; the requests that would overfill the processor
# are refused with RESOURCE_EXHAUSTED, retried by the senders and taken once
# decisions make room. The processor must hold exactly num_traces at its
# peak, the collector's peak RSS must stay under the bound the README gives
# for that many pending traces, and every acknowledged span must reach the
# sink (the policy keeps all).
#   tail_sampling_pending.sh TOOLS_DIR COLLECTOR
set -euo pipefail
TOOLS=$1
COLLECTOR=$2
source "$(dirname "$0")/../lib.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
NUM_TRACES=1000000
THREADS=120
BATCH=10000 # spans per request, each span its own trace

grpc=$(free_port) admin=$(free_port)
C="http://127.0.0.1:$admin"
write_config "$WORK/collector.yaml" admin "$admin" \
  receiver otlp "$(otlp_bulk_receiver_body "$grpc")" \
  processor tail_sampling "decision_wait: 10s
num_traces: $NUM_TRACES
when_full: refuse
policies:
  - {name: everything, type: always_sample}" \
  exporter file "path: $WORK/sink.jsonl" \
  pipeline traces "otlp | tail_sampling | file"
start collector "$COLLECTOR" --config "$WORK/collector.yaml"
cpid=${PIDS[-1]}
wait_ready "$C/readyz"

# One request per sender thread, each waiting up to 120 s for its answer.
"$TOOLS/tributary-fault-send" --endpoint "127.0.0.1:$grpc" --acked "$WORK/acked.txt" \
  --threads "$THREADS" --batch "$BATCH" --duration 1 --rate 0.5 --deadline 120 \
  --give-up-after 300 >"$WORK/send.out" 2>&1 &
sender=$!
peak=0
while kill -0 "$sender" 2>/dev/null; do
  pending=$(metric "$C" tributary_tail_sampling_pending_traces)
  ((pending > peak)) && peak=$pending
  sleep 0.2
done
wait "$sender"
cat "$WORK/send.out"
rss_mib=$(($(awk '/VmHWM/ {print $2}' "/proc/$cpid/status") / 1024))
refused=$(metric "$C" tributary_tail_sampling_refused_requests_total)
echo "peak pending traces: $peak (num_traces $NUM_TRACES); refused requests: $refused;" \
  "collector peak RSS: $rss_mib MiB"
((peak == NUM_TRACES)) || { echo "the processor never held num_traces" >&2; exit 1; }
((refused > 0)) || { echo "no request was refused" >&2; exit 1; }
# The senders saw the refusals as RESOURCE_EXHAUSTED (gRPC code 8) and retried.
grep -Eq 'abandoned=0 .*code_8=[1-9]' "$WORK/send.out"
# The README's bound: 100 MiB for the process and 600 bytes per pending
# trace (its state and the bytes of its spans' request).
bound=$((100 + NUM_TRACES * 600 / 1048576))
((rss_mib <= bound)) || { echo "peak RSS $rss_mib MiB over the bound of $bound MiB" >&2; exit 1; }

wait_drained "$C" 120
"$TOOLS/tributary-fault-check" --acked "$WORK/acked.txt" "$WORK"/sink.jsonl*
