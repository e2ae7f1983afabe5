# Sourced by tests that need a real Kubernetes API server. Needs tests/lib.sh
# sourced first (WORK, start, free_port). etcd, kube-apiserver and kubectl
# are built from the Go module proxy with the machine's Go (the modules in
# tests/services/etcd and tests/services/kubernetes) into a cache outside
# the repository, once per version: about 12 minutes on 2 idle cores, and
# kube-apiserver needs about 2.4 GB of memory to link.
#
#   kubernetes_install       builds the binaries if missing; sets KUBE_BIN
#   kubernetes_start         etcd and kube-apiserver on free loopback ports:
#                            self-signed certificates, a static admin token,
#                            RBAC, service-account tokens; no kubelet and no
#                            controllers. Sets KUBE_URL, KUBE_CA and
#                            KUBECONFIG (admin) and waits until it is ready.
#   kubectl ARGS...          kubectl with that KUBECONFIG

source "$(dirname "${BASH_SOURCE[0]}")/go.sh"
KUBERNETES_VERSION=v1.37.2
ETCD_VERSION=v3.7.3

kubernetes_install() {
  KUBE_BIN=$TRIBUTARY_GO_CACHE/kubernetes-$KUBERNETES_VERSION-etcd-$ETCD_VERSION
  [[ -x "$KUBE_BIN/kube-apiserver" && -x "$KUBE_BIN/kubectl" && -x "$KUBE_BIN/etcd" ]] && return
  local src tmp
  src=$(cd "$TESTS_DIR/services" && pwd)
  tmp=$(mktemp -d)
  echo "building etcd $ETCD_VERSION, kube-apiserver and kubectl $KUBERNETES_VERSION from the Go module proxy" >&2
  (
    cd "$src/etcd" && cached_go build -o "$tmp/etcd" -ldflags "-s -w" . &&
      cd "$src/kubernetes" && cached_go build -o "$tmp/" -ldflags "-s -w
        -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION
        -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION" \
        k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
  ) >&2 || { rm -rf "$tmp"; return 1; }
  mkdir -p "$(dirname "$KUBE_BIN")"
  rm -rf "$KUBE_BIN"
  mv "$tmp" "$KUBE_BIN"
}

kubernetes_start() {
  kubernetes_install || return 1
  local dir=$WORK/kubernetes etcd_port peer_port api_port
  mkdir -p "$dir"
  etcd_port=$(free_port) peer_port=$(free_port) api_port=$(free_port)
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tributary-test-ca \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout server.key \
      -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' >san.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile san.ext -out server.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    printf '%s,admin,admin,system:masters\n' "$(openssl rand -hex 16)" >tokens.csv
  )
  start etcd "$KUBE_BIN/etcd" --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "default=http://127.0.0.1:$peer_port" --name default --log-level warn
  wait_ready "http://127.0.0.1:$etcd_port/health" 60 || return 1
  # On TERM it is killed at once: its graceful shutdown waits for etcd,
  # which the same cleanup stops, and would hang there.
  start kube-apiserver bash -c 'trap "kill -KILL \$child" TERM; "$@" & child=$!; wait $child' _ \
    "$KUBE_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$dir/server.crt" --tls-private-key-file "$dir/server.key" \
    --client-ca-file "$dir/ca.crt" --token-auth-file "$dir/tokens.csv" \
    --authorization-mode RBAC \
    --service-account-key-file "$dir/sa.pub" --service-account-signing-key-file "$dir/sa.key" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-cluster-ip-range 10.96.0.0/16 --endpoint-reconciler-type none \
    --enable-priority-and-fairness=false --v 1
  KUBE_URL=https://127.0.0.1:$api_port
  KUBE_CA=$dir/ca.crt
  KUBECONFIG=$dir/kubeconfig
  export KUBECONFIG
  cat >"$KUBECONFIG" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: test
    cluster: {server: "$KUBE_URL", certificate-authority: "$KUBE_CA"}
users:
  - name: admin
    user: {token: "$(cut -d, -f1 "$dir/tokens.csv")"}
contexts:
  - name: test
    context: {cluster: test, user: admin}
current-context: test
YAML
  local deadline=$((SECONDS + 120))
  until kubectl get --raw /readyz >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      echo "kube-apiserver not ready in 120 s" >&2
      tail -20 "$WORK/kube-apiserver.log" >&2
      return 1
    fi
    sleep 0.5
  done
}

kubectl() { "$KUBE_BIN/kubectl" "$@"; }
