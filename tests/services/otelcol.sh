# Sourced by tests that need a real OpenTelemetry Collector. It is built with
# the OpenTelemetry Collector Builder (ocb) from the Go module proxy, with the
# components the interop tests use, into a cache outside the repository
# (once; a few minutes on 2 idle cores with an empty module cache).
# Needs tests/lib.sh sourced first (WORK, start, wait_ready) for otelcol_start.
#
#   otelcol_install             prints the path of the binary, building it if missing
#   otelcol_start NAME CONFIG   runs it with CONFIG; ready once its health
#                               check extension answers on $OTELCOL_HEALTH_PORT
#                               (CONFIG must enable `health_check` there);
#                               stopped by cleanup like everything `start`ed

source "$(dirname "${BASH_SOURCE[0]}")/go.sh"
OTELCOL_VERSION=v0.160.0

# The builder's configuration; its hash names the cached binary, so that a
# change of components builds anew. The file exporter's tests reach the two
# encoding modules, which the proxy does not serve at v0.160.0: they are
# pinned to v0.159.0 (`go mod why -m` shows that nothing in the binary
# imports them). The proxy does not serve the prometheus exporter at v0.160.0
# either: v0.159.0 is the nearest release.
_otelcol_build_yaml() {
  local core=go.opentelemetry.io/collector contrib=github.com/open-telemetry/opentelemetry-collector-contrib
  cat <<YAML
dist:
  name: otelcol
  description: OpenTelemetry Collector for Tributary's interop tests
  output_path: $1
extensions:
  - gomod: $contrib/extension/healthcheckextension $OTELCOL_VERSION
receivers:
  - gomod: $core/receiver/otlpreceiver $OTELCOL_VERSION
  - gomod: $contrib/receiver/kafkareceiver $OTELCOL_VERSION
  - gomod: $contrib/receiver/hostmetricsreceiver $OTELCOL_VERSION
exporters:
  - gomod: $core/exporter/otlpexporter $OTELCOL_VERSION
  - gomod: $core/exporter/otlphttpexporter $OTELCOL_VERSION
  - gomod: $core/exporter/debugexporter $OTELCOL_VERSION
  - gomod: $contrib/exporter/fileexporter $OTELCOL_VERSION
  - gomod: $contrib/exporter/kafkaexporter $OTELCOL_VERSION
  - gomod: $contrib/exporter/prometheusremotewriteexporter $OTELCOL_VERSION
  - gomod: $contrib/exporter/prometheusexporter v0.159.0
processors:
  - gomod: $core/processor/batchprocessor $OTELCOL_VERSION
  - gomod: $core/processor/memorylimiterprocessor $OTELCOL_VERSION
providers:
  - gomod: $core/confmap/provider/fileprovider v1.43.0
  - gomod: $core/confmap/provider/envprovider v1.43.0
replaces:
  - $contrib/extension/encoding/otlpencodingextension => $contrib/extension/encoding/otlpencodingextension v0.159.0
  - $contrib/extension/encoding => $contrib/extension/encoding v0.159.0
YAML
}

otelcol_install() {
  local hash bin
  hash=$(_otelcol_build_yaml /dist | sha256sum | cut -c1-12)
  bin=$TRIBUTARY_GO_CACHE/bin/otelcol-$OTELCOL_VERSION-$hash
  if [[ ! -x "$bin" ]]; then
    echo "building the OpenTelemetry Collector $OTELCOL_VERSION with ocb from the Go module proxy" >&2
    mkdir -p "$TRIBUTARY_GO_CACHE/bin"
    local tmp
    tmp=$(mktemp -d)
    GOBIN="$tmp" cached_go install "go.opentelemetry.io/collector/cmd/builder@$OTELCOL_VERSION" >&2 ||
      { rm -rf "$tmp"; return 1; }
    _otelcol_build_yaml "$tmp/dist" >"$tmp/build.yaml"
    (
      export GOPATH="$TRIBUTARY_GO_CACHE" GOMODCACHE="$TRIBUTARY_GO_CACHE/mod" \
        GOCACHE="$TRIBUTARY_GO_CACHE/build" GOFLAGS=-mod=mod
      cd "$tmp" && ./builder --config build.yaml --ldflags "-s -w"
    ) >&2 || { rm -rf "$tmp"; return 1; }
    mv "$tmp/dist/otelcol" "$bin"
    rm -rf "$tmp"
  fi
  echo "$bin"
}

otelcol_start() {
  local name=$1 config=$2 bin
  bin=$(otelcol_install) || return 1
  start "$name" "$bin" --config "$config"
  wait_ready "http://127.0.0.1:$OTELCOL_HEALTH_PORT/" 60
}

# otelcol_write_config FILE PART...: a Collector configuration from the parts
# write_config takes (receivers, exporters, pipelines; no `admin`), with the
# health check on $OTELCOL_HEALTH_PORT (chosen here) and its own telemetry
# off, so that it takes no fixed port.
otelcol_write_config() {
  local file=$1
  shift
  OTELCOL_HEALTH_PORT=$(free_port)
  write_config "$file" "$@" service "extensions: [health_check]
telemetry:
  metrics:
    level: none"
  printf 'extensions:\n  health_check:\n    endpoint: 127.0.0.1:%s\n' "$OTELCOL_HEALTH_PORT" >>"$file"
}
