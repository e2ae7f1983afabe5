#!/usr/bin/env bash
# A 1 GiB CRI log read from the beginning: every line becomes a record, the
# checkpoint reaches the end of the file, and the agent's peak RSS stays under
# MAX_RSS_MIB (128: about three times what it takes, an eighth of the file).
set -euo pipefail
AGENT=$1
source "$(dirname "$0")/../lib.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
# 1 MiB of CRI lines, repeated 1024 times.
python3 - "$WORK/block" <<'PY'
import sys
out, size, n = [], 0, 0
while size < (1 << 20) - 300:
    line = "2026-11-23T01:02:03.%09dZ stdout F request %d handled in %d ms %s\n" % (n, n, n % 97, "x" * 180)
    out.append(line)
    size += len(line)
    n += 1
open(sys.argv[1], "w").write("".join(out))
PY
for _ in $(seq 1024); do cat "$WORK/block"; done >"$WORK/big.log"
rm "$WORK/block"
lines=$(wc -l <"$WORK/big.log")
bytes=$(stat -c %s "$WORK/big.log")
admin=$(free_port)
write_config "$WORK/agent.yaml" admin "$admin" \
  receiver tail "$(tail_cri_body "$WORK/big.log" "$WORK/checkpoints")" \
  exporter nop "" \
  pipeline logs "tail | | nop"
start agent "$AGENT" --config "$WORK/agent.yaml"
apid=${PIDS[-1]}
wait_ready "http://127.0.0.1:$admin/readyz"
deadline=$((SECONDS + 180))
until (($(metric "http://127.0.0.1:$admin" tributary_exporter_sent_records_total) >= lines)); do
  ((SECONDS < deadline)) || { echo "timed out" >&2; exit 1; }
  sleep 0.2
done
until (($(metric "http://127.0.0.1:$admin" tributary_tail_checkpoint_lag_bytes) == 0)); do
  ((SECONDS < deadline)) || { echo "checkpoint never reached the end" >&2; exit 1; }
  sleep 0.2
done
sent=$(metric "http://127.0.0.1:$admin" tributary_exporter_sent_records_total)
read_bytes=$(metric "http://127.0.0.1:$admin" tributary_tail_read_bytes_total)
rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$apid/status")
echo "tail big file: lines=$lines records=$sent bytes=$bytes read=$read_bytes peak_rss=${rss}MiB"
((sent == lines && read_bytes == bytes)) || { echo "records or bytes do not match" >&2; exit 1; }
MAX_RSS_MIB=128
((rss <= MAX_RSS_MIB)) || { echo "peak RSS ${rss}MiB is over the ${MAX_RSS_MIB}MiB bound" >&2; exit 1; }
kill -TERM "$apid"
wait "$apid"
PIDS=()
grep -q " $bytes " "$WORK/checkpoints/tail.checkpoints" || { echo "checkpoint is not at the end" >&2; exit 1; }
