# Shared by the benchmark scripts (after tests/lib.sh).

# cpu_ticks PID, peak_rss_kib PID: CPU time (clock ticks) and peak RSS so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
peak_rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
# median: of the numbers on stdin.
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
tck=$(getconf CLK_TCK)

# write_cri FILE BYTES: CRI lines of about 275 bytes with a sequence number.
write_cri() {
  python3 - "$1" "$2" <<'PY'
import sys
path, limit = sys.argv[1], int(sys.argv[2])
pad = "x" * 150
with open(path + ".tmp", "w") as f:
    size = n = 0
    chunk = []
    while size < limit:
        line = ('2026-11-23T01:02:03.%09dZ stdout F {"level":"info","seq":%d,'
                '"msg":"request handled","path":"/api/v1/items","status":200,"pad":"%s"}\n'
                % (n % 1000000000, n, pad))
        chunk.append(line)
        size += len(line)
        n += 1
        if len(chunk) == 10000:
            f.write("".join(chunk))
            chunk = []
    f.write("".join(chunk))
import os
os.rename(path + ".tmp", path)
PY
}

# big_cri CACHE_DIR: makes (once) the 1 GiB CRI file the tail benchmarks read
# and sets big, big_bytes and big_lines to its path, size and line count.
big_cri() {
  mkdir -p "$1"
  big=$1/cri-1GiB.log
  [[ -f "$big" ]] || write_cri "$big" $((1 << 30))
  big_bytes=$(stat -c %s "$big")
  big_lines=$(wc -l <"$big")
}

# wait_sent URL COUNT PID: until URL's exporters have sent COUNT records.
wait_sent() {
  local sent
  for (( ; ; )); do
    sent=$(metric "$1" tributary_exporter_sent_records_total 2>/dev/null) || sent=0
    ((sent >= $2)) && return
    kill -0 "$3" 2>/dev/null || { echo "process $3 died" >&2; cat "$WORK"/*.log >&2; exit 1; }
    sleep 0.05
  done
}

# buffer_service DIR: service settings giving every pipeline a write-ahead
# buffer in DIR (fsync interval, the built-in default).
buffer_service() { printf 'buffer:\n  directory: %s\n  max_size: 4GiB\n' "$1"; }

# agent_tail_run NAME CONFIG ADMIN_PORT: starts the agent with CONFIG (which
# tails the big CRI file and serves its admin endpoint on ADMIN_PORT), waits
# until its exporters sent every line and appends MiB/s
# of the file, CPU-seconds per GiB and peak RSS (MiB) of the agent to
# $WORK/NAME.{mibs,cpu,rss}. The clock starts before the process does.
agent_tail_run() {
  local name=$1 config=$2 admin=127.0.0.1:$3 t0 t1 apid
  t0=$(date +%s.%N)
  start agent "$build/agent/tributary-agent" --config "$config"
  apid=${PIDS[-1]}
  wait_sent "http://$admin" "$big_lines" "$apid"
  t1=$(date +%s.%N)
  awk -v b="$big_bytes" -v s="$t0" -v e="$t1" 'BEGIN {printf "%.1f\n", b / 1048576 / (e - s)}' >>"$WORK/$name.mibs"
  awk -v t="$(cpu_ticks "$apid")" -v hz="$tck" -v b="$big_bytes" 'BEGIN {printf "%.2f\n", t / hz / (b / 1073741824)}' >>"$WORK/$name.cpu"
  echo $(($(peak_rss_kib "$apid") / 1024)) >>"$WORK/$name.rss"
  kill -TERM "$apid"
  wait "$apid" || true
  unset 'PIDS[-1]'
  echo "run $run: $name $(tail -1 "$WORK/$name.mibs") MiB/s $(tail -1 "$WORK/$name.cpu") cpu-s/GiB" \
    "$(tail -1 "$WORK/$name.rss") MiB" >&2
}

# print_tail_pair NAME MIBS CPU RSS: the medians agent_tail_run gathered for
# NAME_buffer_off and NAME_buffer_on as BENCH lines named MIBS, CPU and RSS,
# those of the buffered runs ending in `_buffered`.
print_tail_pair() {
  local name=$1 buffered suffix
  for buffered in off on; do
    suffix=$([[ $buffered == on ]] && echo _buffered || true)
    echo "BENCH $2$suffix $(median <"$WORK/${name}_buffer_$buffered.mibs") MiB/s"
    echo "BENCH $3$suffix $(median <"$WORK/${name}_buffer_$buffered.cpu") cpu-s"
    echo "BENCH $4$suffix $(median <"$WORK/${name}_buffer_$buffered.rss") MiB"
  done
}
