# Sourced by tests that run containers with podman (Debian's package, rootful).
# Needs tests/lib.sh sourced first (WORK, start).
#
#   podman_install            installs podman and runc if missing and points
#                             CONTAINERS_CONF at a configuration this kind of
#                             machine runs: the runc runtime (crun refuses
#                             the hybrid cgroup setup) and default ulimits
#                             no higher than the machine's own
#   podman_start NAME ARGS... `podman run ARGS` in the foreground as
#                             `start NAME` does, the container named
#                             tributary-test-NAME-<pid>; TERM reaches the
#                             program (podman forwards it), and
#                             podman_cleanup removes what is left
#   podman_cleanup            removes the containers podman_start made

PODMAN_CONTAINERS=()

podman_install() {
  local missing=()
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  if ((${#missing[@]})); then
    echo "installing ${missing[*]} (Debian packages)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
  local nofile nproc
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  [[ "$nofile" == unlimited ]] && nofile=1048576
  [[ "$nproc" == unlimited ]] && nproc=32768
  ((nofile > 20000)) && nofile=20000
  ((nproc > 32768)) && nproc=32768
  cat >"$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
CONF
  export CONTAINERS_CONF=$WORK/containers.conf
}

podman_start() {
  local name=$1
  shift
  local container=tributary-test-$name-$$
  PODMAN_CONTAINERS+=("$container")
  start "$name" podman run --rm --name "$container" "$@"
}

podman_cleanup() {
  local container
  for container in "${PODMAN_CONTAINERS[@]}"; do
    podman rm --force --time 10 "$container" >/dev/null 2>&1 || true
  done
}
