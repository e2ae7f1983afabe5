#!/usr/bin/env bash
# The .deb packages: built by CPack from BUILD_DIR, their file lists,
# conffiles, Depends and maintainer scripts read with dpkg-deb, the systemd
# units checked by systemd-analyze verify, and the packages installed with
# apt-get into a Debian 12 root made by mmdebstrap (so their Depends resolve
# on Debian 12), where the installed agent and collector check their
# installed configuration. The root's base is cached outside the repository.
#
#   packages_e2e.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd)
source "$(dirname "$0")/../lib.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/tributary/mmdebstrap"
mkdir -p "$CACHE"

(cd "$WORK" && cpack --config "$BUILD/CPackConfig.cmake" -B "$WORK/out" >"$WORK/cpack.log" 2>&1) ||
  { tail -30 "$WORK/cpack.log" >&2; exit 1; }
cd "$WORK/out"
ls -l ./*.deb
fail() { echo "packages: $*" >&2; exit 1; }

for p in agent collector; do
  deb=tributary-${p}_*_amd64.deb
  dpkg-deb -c $deb | awk '{print $NF}' >"$WORK/$p.files"
  for f in ./usr/bin/tributary-$p ./etc/tributary/$p.yaml \
    ./usr/lib/systemd/system/tributary-$p.service ./usr/share/doc/tributary-$p/config-reference.md; do
    grep -qx "$f" "$WORK/$p.files" || fail "$deb lacks $f"
  done
  dpkg-deb -I $deb >"$WORK/$p.info"
  dpkg-deb -e $deb "$WORK/$p.control"
  [[ "$(cat "$WORK/$p.control/conffiles")" == "/etc/tributary/$p.yaml" ]] ||
    fail "$deb: conffiles is '$(cat "$WORK/$p.control/conffiles")'"
  depends=$(dpkg-deb -f $deb Depends)
  echo "tributary-$p Depends: $depends"
  for lib in libc6 libstdc++6 libgrpc++1.51 libprotobuf32 libyaml-cpp0.7 libcurl4 librdkafka1 \
    libzstd1 passwd procps; do
    grep -q "\b$lib\b" <<<"$depends" || fail "$deb does not depend on $lib"
  done
  for script in postinst prerm postrm; do
    [[ -x "$WORK/$p.control/$script" ]] || fail "$deb has no executable $script"
    sh -n "$WORK/$p.control/$script"
    # Maintainer scripts only manage the user and the unit: nothing deletes data.
    if grep -Eq 'rm -|userdel|deluser' "$WORK/$p.control/$script"; then
      fail "$deb's $script deletes something"
    fi
  done
done
# Paths only (a link's line ends with its target).
dpkg-deb -c libtributary-sdk-dev_*_amd64.deb | awk '{print $6}' >"$WORK/sdk.files"
for f in ./usr/include/tributary/sdk/sdk.h ./usr/lib/cmake/tributary-sdk/tributary-sdk-config.cmake \
  ./usr/lib/pkgconfig/tributary-sdk.pc; do
  grep -qx "$f" "$WORK/sdk.files" || fail "libtributary-sdk-dev lacks $f"
done
grep -qx './usr/lib/libtributary-sdk.so' "$WORK/sdk.files" || fail "libtributary-sdk-dev has no link"
grep -q '^./usr/lib/libtributary-sdk.so.0' "$WORK/sdk.files" && fail "libtributary-sdk-dev holds the library"
[[ "$(dpkg-deb -f libtributary-sdk-dev_*_amd64.deb Depends)" == *"libtributary-sdk0 (= "* ]] ||
  fail "libtributary-sdk-dev does not depend on libtributary-sdk0 of its version"
dpkg-deb -c libtributary-sdk0_*_amd64.deb | awk '{print $6}' >"$WORK/sdk0.files"
grep -qx './usr/lib/libtributary-sdk.so.0' "$WORK/sdk0.files" || fail "libtributary-sdk0 has no library"
grep -q '^./usr/include' "$WORK/sdk0.files" && fail "libtributary-sdk0 holds headers"
dpkg-deb -e libtributary-sdk0_*_amd64.deb "$WORK/sdk0.control"
grep -q '^libtributary-sdk 0 libtributary-sdk0' "$WORK/sdk0.control/shlibs" ||
  fail "libtributary-sdk0 has no shlibs entry"

for deb in ./*.deb; do
  # A description's lines are the text as written (no list separators).
  if dpkg-deb -f "$deb" Description | grep -q '^ *;'; then fail "$deb: description has ';' lines"; fi
done

# A Debian 12 root with apt (cached), the packages installed into it.
base="$CACHE/bookworm-apt.tar"
if [[ ! -s "$base" ]]; then
  mmdebstrap --variant=apt --format=tar --quiet bookworm "$base.tmp" http://deb.debian.org/debian
  mv "$base.tmp" "$base"
fi
mkdir "$WORK/root"
tar -C "$WORK/root" -xf "$base"
cp ./*.deb "$WORK/root/tmp/"
cp /etc/resolv.conf "$WORK/root/etc/resolv.conf"
in_root() { chroot "$WORK/root" env DEBIAN_FRONTEND=noninteractive "$@"; }
mount -t proc proc "$WORK/root/proc"
trap 'umount "$WORK/root/proc" 2>/dev/null || true; cleanup_showing_logs' EXIT
in_root apt-get update -qq
# systemd first, so that the maintainer scripts enable the units and
# systemd-analyze can verify them where they are installed.
in_root apt-get install -y -qq --no-install-recommends systemd >"$WORK/apt.log" 2>&1 ||
  { tail -40 "$WORK/apt.log" >&2; fail "apt-get install systemd failed"; }
debs=()
for deb in ./*.deb; do debs+=("/tmp/${deb#./}"); done
in_root apt-get install -y -qq --no-install-recommends "${debs[@]}" >>"$WORK/apt.log" 2>&1 ||
  { tail -40 "$WORK/apt.log" >&2; fail "apt-get install failed"; }
in_root dpkg -s tributary-agent tributary-collector libtributary-sdk0 libtributary-sdk-dev |
  grep -c '^Status: install ok installed' | grep -qx 4 || fail "not all four packages are installed"
# grep reads the whole list: with -q it could stop early, and the writer's
# SIGPIPE would fail the pipeline.
in_root ldconfig -p | grep 'libtributary-sdk.so.0 ' >/dev/null ||
  fail "the SDK's library is not in the linker cache"
in_root getent passwd tributary-agent >/dev/null || fail "no tributary-agent user"
in_root id -nG tributary-agent | grep -qw adm || fail "tributary-agent is not in group adm"
in_root tributary-agent --check-config --config /etc/tributary/agent.yaml
in_root tributary-collector --check-config --config /etc/tributary/collector.yaml
in_root tributary-agent --version
for p in agent collector; do
  unit=/usr/lib/systemd/system/tributary-$p.service
  in_root systemd-analyze verify "$unit" >"$WORK/verify-$p.log" 2>&1 ||
    { cat "$WORK/verify-$p.log" >&2; fail "systemd-analyze verify rejects tributary-$p.service"; }
  if [[ -s "$WORK/verify-$p.log" ]]; then
    cat "$WORK/verify-$p.log" >&2
    fail "systemd-analyze verify warns about tributary-$p.service"
  fi
  grep -q '^ExecReload=/bin/kill -HUP \$MAINPID' "$WORK/root$unit" || fail "no reload in $unit"
  [[ -L "$WORK/root/etc/systemd/system/multi-user.target.wants/tributary-$p.service" ]] ||
    fail "postinst did not enable tributary-$p.service"
  echo "tributary-$p.service: verified, enabled"
done
# A changed conffile survives reinstalling, as dpkg keeps conffiles.
echo "# local change" >>"$WORK/root/etc/tributary/agent.yaml"
in_root apt-get install -y -qq --reinstall -o Dpkg::Options::=--force-confold \
  "/tmp/$(ls tributary-agent_*.deb)" >>"$WORK/apt.log" 2>&1
grep -q "# local change" "$WORK/root/etc/tributary/agent.yaml" || fail "the conffile was replaced"
in_root apt-get remove -y -qq tributary-agent >>"$WORK/apt.log" 2>&1
[[ -f "$WORK/root/etc/tributary/agent.yaml" ]] || fail "remove deleted the conffile"
echo "packages: built, checked, installed into a Debian 12 root; configurations valid there"
