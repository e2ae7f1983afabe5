# Sourced by the test services that build tools from the Go module proxy
# with the machine's Go: modules, build cache and binaries live in a cache
# outside the repository.
#
#   cached_go ARGS...   the go command with that cache; fails clearly without go

TRIBUTARY_GO_CACHE=${TRIBUTARY_GO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tributary/go}

cached_go() {
  command -v go >/dev/null 2>&1 ||
    { echo "the go command is needed to build test tools from the Go module proxy" >&2; return 1; }
  env GOPATH="$TRIBUTARY_GO_CACHE" GOMODCACHE="$TRIBUTARY_GO_CACHE/mod" \
    GOCACHE="$TRIBUTARY_GO_CACHE/build" GOFLAGS=-mod=mod go "$@"
}
