# Sourced by tests that need helm. Helm v4 is built from the Go module proxy
# with the machine's Go into a cache outside the repository (once; about a
# minute on 2 idle cores, more when they are busy).
#
#   helm_install    prints the path of the helm binary, building it if missing

HELM_VERSION=v4.3.2
TRIBUTARY_GO_CACHE=${TRIBUTARY_GO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tributary/go}

helm_install() {
  local bin=$TRIBUTARY_GO_CACHE/bin/helm-$HELM_VERSION
  if [[ ! -x "$bin" ]]; then
    command -v go >/dev/null 2>&1 ||
      { echo "helm_install: the go command is needed to build helm $HELM_VERSION" >&2; return 1; }
    echo "building helm $HELM_VERSION from the Go module proxy" >&2
    mkdir -p "$TRIBUTARY_GO_CACHE/bin"
    local tmp
    tmp=$(mktemp -d)
    env GOPATH="$TRIBUTARY_GO_CACHE" GOMODCACHE="$TRIBUTARY_GO_CACHE/mod" \
      GOCACHE="$TRIBUTARY_GO_CACHE/build" GOBIN="$tmp" GOFLAGS=-mod=mod \
      go install -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
      "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >&2 || { rm -rf "$tmp"; return 1; }
    mv "$tmp/helm" "$bin"
    rm -rf "$tmp"
  fi
  echo "$bin"
}
