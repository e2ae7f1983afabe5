# Sourced by tests that need helm. Helm v4 is built from the Go module proxy
# with the machine's Go into a cache outside the repository (once; about a
# minute on 2 idle cores, more when they are busy).
#
#   helm_install    prints the path of the helm binary, building it if missing

source "$(dirname "${BASH_SOURCE[0]}")/go.sh"
HELM_VERSION=v4.3.2

helm_install() {
  local bin=$TRIBUTARY_GO_CACHE/bin/helm-$HELM_VERSION
  if [[ ! -x "$bin" ]]; then
    echo "building helm $HELM_VERSION from the Go module proxy" >&2
    mkdir -p "$TRIBUTARY_GO_CACHE/bin"
    local tmp
    tmp=$(mktemp -d)
    GOBIN="$tmp" cached_go install -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
      "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >&2 || { rm -rf "$tmp"; return 1; }
    mv "$tmp/helm" "$bin"
    rm -rf "$tmp"
  fi
  echo "$bin"
}
