# Sourced by tests that need a real Prometheus server (Debian's package).
# Needs tests/lib.sh sourced first (WORK, start, free_port, wait_ready).
#
#   prometheus_install                      installs the package if missing
#   prometheus_start NAME PORT CONFIG [FLAG...]
#                                           runs it on 127.0.0.1:PORT with its
#                                           own storage under $WORK/NAME; stopped
#                                           by cleanup like everything `start`ed

prometheus_install() {
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && return
  echo "installing prometheus (Debian package)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends prometheus >&2
  # The package's own service is not ours to run.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl stop prometheus || true
  fi
}

prometheus_start() {
  local name=$1 port=$2 config=$3
  shift 3
  mkdir -p "$WORK/$name"
  start "$name" prometheus --config.file="$config" --storage.tsdb.path="$WORK/$name/data" \
    --web.listen-address="127.0.0.1:$port" --log.level=warn "$@"
  wait_ready "http://127.0.0.1:$port/-/ready" 60
}

# node_exporter_start NAME PORT: the Prometheus node exporter (Debian's
# package, installed if missing) on 127.0.0.1:PORT with its default
# collectors.
node_exporter_start() {
  local name=$1 port=$2
  if ! command -v prometheus-node-exporter >/dev/null 2>&1; then
    echo "installing prometheus-node-exporter (Debian package)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      prometheus-node-exporter >&2
    if command -v systemctl >/dev/null 2>&1; then
      systemctl stop prometheus-node-exporter 2>/dev/null || true
    fi
  fi
  start "$name" prometheus-node-exporter --web.listen-address="127.0.0.1:$port"
  wait_ready "http://127.0.0.1:$port/metrics" 30
}
