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
