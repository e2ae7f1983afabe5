#!/usr/bin/env bash
# OTLP/HTTP: wrk (Debian's package, installed when missing) posts a one-span
# OTLP/JSON export request over 32 kept-alive connections for BENCH_SECONDS
# to the agent's otlp receiver (→ nop), first with no other connection open,
# then while idle.py holds 2,000 idle connections to the same port. Prints
# requests/s answered 200 (what wrk counted, less every other answer), p50
# and p99 latency, for this build and, side by side in the same run, for the
# baseline: the agent of BENCH_HTTP_BASELINE (a build directory), or else of
# git revision BENCH_HTTP_BASELINE_REV (default 07d7e45, the last with the
# cpp-httplib servers) built in a worktree in the cache. Medians of
# BENCH_RUNS runs; the two builds alternate.
#   bench/http/run.sh BUILD_DIR
set -euo pipefail
build=$1
runs=${BENCH_RUNS:-3}
seconds=${BENCH_SECONDS:-10}
idle_connections=${BENCH_HTTP_IDLE:-2000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/tests/lib.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
source "$here/../lib.sh"

if ! command -v wrk >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

baseline=${BENCH_HTTP_BASELINE:-}
if [[ -z "$baseline" ]]; then
  rev=${BENCH_HTTP_BASELINE_REV:-07d7e45}
  tree="${XDG_CACHE_HOME:-$HOME/.cache}/tributary/bench-http-baseline-$rev"
  if [[ ! -x "$tree/build/agent/tributary-agent" ]]; then
    rm -rf "$tree"
    git -C "$root" worktree prune
    git -C "$root" worktree add --detach "$tree" "$rev" >/dev/null
    cmake -S "$tree" -B "$tree/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DTRIBUTARY_BUILD_TESTS=OFF -DTRIBUTARY_BUILD_BENCH=OFF >/dev/null
    cmake --build "$tree/build" --target tributary-agent -j2 >/dev/null
  fi
  baseline="$tree/build"
fi

# measure NAME AGENT IDLE: one run; appends to $WORK/NAME-IDLE.{rps,p50,p99}.
measure() {
  local name=$1 agent=$2 idle=$3
  local port admin limits=""
  port=$(free_port) admin=$(free_port)
  # Idle connections stay for the whole run where the server has the setting.
  if "$agent" --print-config-reference | grep -q read_header_timeout; then
    limits=$'\n    read_header_timeout: 10m\n    idle_timeout: 10m'
  fi
  write_config "$WORK/agent.yaml" admin "$admin" \
    receiver otlp "protocols:
  http:
    endpoint: 127.0.0.1:$port$limits" \
    exporter nop "" \
    pipeline traces "otlp | | nop"
  start agent "$agent" --config "$WORK/agent.yaml"
  local apid=${PIDS[-1]} hpid=""
  wait_ready "http://127.0.0.1:$admin/readyz"
  if ((idle > 0)); then
    python3 "$here/idle.py" "$port" "$idle" >"$WORK/idle.out" &
    hpid=$!
    local deadline=$((SECONDS + 60))
    until grep -q ready "$WORK/idle.out"; do
      ((SECONDS < deadline)) || { echo "idle connections not all open" >&2; exit 1; }
      sleep 0.2
    done
  fi
  wrk -t1 -c32 -d"${seconds}s" --timeout 10s --latency -s "$here/post.lua" \
    "http://127.0.0.1:$port/v1/traces" >"$WORK/wrk.out"
  [[ -n "$hpid" ]] && { kill "$hpid"; wait "$hpid" 2>/dev/null || true; }
  kill -TERM "$apid"
  wait "$apid" || true
  PIDS=()
  python3 - "$WORK/wrk.out" "$WORK/$name-$idle" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
total, secs = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", text).group(1, 2)
unit = re.search(r"\d+ requests in [\d.]+(ms|s|m)", text).group(1)
secs = float(secs) * {"ms": 0.001, "s": 1, "m": 60}[unit]
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
ok = int(total) - (int(bad.group(1)) if bad else 0)
def ms(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, text, re.M)
    if not m or ok == 0:  # no answer: no latency to speak of
        return "nan"
    return "%.3f" % (float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)])
out = sys.argv[2]
open(out + ".rps", "a").write("%d\n" % (ok / secs))
open(out + ".p50", "a").write(ms(50) + "\n")
open(out + ".p99", "a").write(ms(99) + "\n")
print("%s: %d answered 200 of %d in %.1fs, p50 %s ms, p99 %s ms" % (out.rsplit("/", 1)[1], ok, int(total), secs, ms(50), ms(99)), file=sys.stderr)
PY
}

for run in $(seq "$runs"); do
  for idle in 0 "$idle_connections"; do
    measure new "$build/agent/tributary-agent" "$idle"
    measure baseline "$baseline/agent/tributary-agent" "$idle"
  done
done
for name in new baseline; do
  for idle in 0 "$idle_connections"; do
    echo "BENCH http_${name}_idle${idle}_requests_per_s $(median <"$WORK/$name-$idle.rps") req/s"
    echo "BENCH http_${name}_idle${idle}_p50 $(median <"$WORK/$name-$idle.p50") ms"
    echo "BENCH http_${name}_idle${idle}_p99 $(median <"$WORK/$name-$idle.p99") ms"
  done
done
