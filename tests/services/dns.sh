# Sourced by tests that need names resolved by a DNS server of their own
# (dnsmasq, Debian's dnsmasq-base) without touching the machine's resolver:
# the test runs in a network namespace whose /etc/resolv.conf (bind-mounted
# by `ip netns exec`) names that server. Needs tests/lib.sh sourced first.
#
#   dns_netns_reexec "$0" "$@"  when not yet inside one: makes a network
#                               namespace (loopback up, nameserver
#                               127.0.0.1), runs the script again inside it
#                               and removes the namespace after; returns
#                               only inside it
#   dns_start NAME HOSTS        dnsmasq on 127.0.0.1:53 answering from the
#                               hosts file HOSTS (address name per line),
#                               nothing cached, nothing forwarded
#   dns_reload                  after HOSTS changed: dnsmasq reads it again

dns_install() {
  command -v dnsmasq >/dev/null 2>&1 && return
  echo "installing dnsmasq-base (Debian package)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends dnsmasq-base >&2
}

dns_netns_reexec() {
  [[ -n "${TRIBUTARY_IN_NETNS:-}" ]] && return 0
  dns_install
  local ns="tributary-test-$$" rc=0
  ip netns add "$ns"
  mkdir -p "/etc/netns/$ns"
  echo "nameserver 127.0.0.1" >"/etc/netns/$ns/resolv.conf"
  ip netns exec "$ns" ip link set lo up
  TRIBUTARY_IN_NETNS=$ns ip netns exec "$ns" "$@" || rc=$?
  ip netns del "$ns" || true
  rm -rf "/etc/netns/$ns"
  exit "$rc"
}

DNS_PID=
dns_start() {
  start "$1" dnsmasq --keep-in-foreground --log-facility=- --port=53 --listen-address=127.0.0.1 \
    --bind-interfaces --no-resolv --no-hosts --addn-hosts="$2" --local-ttl=0 --user=root
  DNS_PID=${PIDS[-1]}
  local deadline=$((SECONDS + 30))
  until getent hosts "$(awk 'NR == 1 {print $2}' "$2")" >/dev/null; do
    ((SECONDS < deadline)) || { echo "dnsmasq did not answer" >&2; return 1; }
    sleep 0.2
  done
}

dns_reload() { kill -HUP "$DNS_PID"; }
