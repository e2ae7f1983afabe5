#!/usr/bin/env bash
# The Helm chart and the agent against a real Kubernetes API server
# (kube-apiserver and etcd built from the Go module proxy; no kubelet, so
# pods never run, and no controllers):
# - what `helm template` renders for each topology is accepted by
#   `kubectl apply --dry-run=server` and then applied for real;
# - `kubectl kustomize deploy/kubernetes/direct` renders the chart's default
#   objects, and the plain manifests (both topologies and the examples) are
#   accepted by a server-side dry run;
# - the agent runs on this host as node "node-a" with a token of the chart's
#   ServiceAccount (so with the chart's RBAC): its k8s_metadata processor and
#   the prometheus_scrape receiver's pod discovery list and watch the pods
#   the test creates, relabels and deletes; pods on "node-b" are ignored;
#   container log records get the pod's labels, the annotated pod is scraped
#   until it is deleted; the same token is refused on secrets.
#   kubernetes_e2e.sh AGENT
set -euo pipefail
AGENT=$1
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/helm.sh"
source "$TESTS_DIR/services/kubernetes.sh"
WORK=$(mktemp -d)
trap cleanup_showing_logs EXIT
CHART=$(cd "$TESTS_DIR/../deploy/helm/tributary" && pwd)
HELM=$(helm_install)
kubernetes_start
kubectl version

echo "== the chart's objects, accepted by the API server"
# apply NAMESPACE RELEASE HELM_ARGS...: renders the chart, applies it with a
# server-side dry run, then for real.
apply() {
  local ns=$1 release=$2
  shift 2
  kubectl create namespace "$ns"
  "$HELM" template "$release" "$CHART" --namespace "$ns" "$@" >"$WORK/$release.yaml"
  kubectl apply --server-side --dry-run=server -n "$ns" -f "$WORK/$release.yaml"
  kubectl apply --server-side -n "$ns" -f "$WORK/$release.yaml"
}
apply observability tributary
apply kafka-topology tributary-kafka --set topology=kafka --set priorityClass.create=false
kubectl get daemonset,statefulset,service,configmap,serviceaccount,poddisruptionbudget \
  -n observability
kubectl get clusterrole tributary-agent tributary-kafka-agent
kubectl get priorityclass tributary-agent

echo "== the plain manifests: the chart's objects, accepted by the API server"
DEPLOY=$(cd "$TESTS_DIR/../deploy/kubernetes" && pwd)
"$HELM" template tributary "$CHART" --namespace tributary >"$WORK/chart-defaults.yaml"
kubectl kustomize "$DEPLOY/direct" >"$WORK/kustomized.yaml"
python3 - "$WORK/chart-defaults.yaml" "$WORK/kustomized.yaml" <<'PY'
import sys, yaml
def objects(path, drop_namespace_object):
    out = {}
    for d in yaml.safe_load_all(open(path)):
        if not d or (drop_namespace_object and d["kind"] == "Namespace"):
            continue
        d["metadata"].pop("namespace", None)
        out[(d["kind"], d["metadata"]["name"])] = d
    return out
chart, kustomized = objects(sys.argv[1], False), objects(sys.argv[2], True)
if chart != kustomized:
    print("deploy/kubernetes/direct differs from the chart's defaults:",
          sorted(set(chart) ^ set(kustomized)) or
          [k for k in chart if chart[k] != kustomized.get(k)], file=sys.stderr)
    sys.exit(1)
print(f"kustomize renders the chart's {len(chart)} objects")
PY
kubectl create namespace tributary
kubectl apply --server-side --dry-run=server -k "$DEPLOY/direct"
kubectl apply --server-side --dry-run=server -k "$DEPLOY/kafka"
kubectl create namespace shop
# Without controllers nothing creates a namespace's default ServiceAccount.
kubectl create serviceaccount default -n shop
kubectl apply --server-side --dry-run=server -k "$DEPLOY/examples"

echo "== the agent with the chart's ServiceAccount"
TOKEN=$WORK/agent.token
kubectl create token tributary-agent -n observability --duration 1h >"$TOKEN"

# Two expositions to scrape: one for the pod on node-a, one for node-b's.
port_a=$(free_port) port_b=$(free_port)
for side in a b; do
  mkdir -p "$WORK/expo-$side"
  printf '# TYPE shop_orders counter\nshop_orders_total{side="%s"} 42\n' "$side" >"$WORK/expo-$side/metrics"
done
start expo-a python3 -u -m http.server --bind 127.0.0.1 --directory "$WORK/expo-a" "$port_a"
start expo-b python3 -u -m http.server --bind 127.0.0.1 --directory "$WORK/expo-b" "$port_b"
# Only the agent asks them for /metrics: readiness is a bare connection.
wait_port "$port_a"
wait_port "$port_b"

# pod NAME NODE PORT: a pod annotated for scraping at 127.0.0.1:PORT, its
# status set as a kubelet would.
pod() {
  kubectl apply -n shop -f - <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  labels: {app: web, tier: front}
  annotations: {prometheus.io/scrape: "true", prometheus.io/port: "$3"}
spec:
  nodeName: $2
  automountServiceAccountToken: false
  containers:
    - {name: app, image: tributary/tributary-examples:0.1.0}
YAML
  kubectl patch pod "$1" -n shop --subresource=status --type=merge \
    -p '{"status":{"phase":"Running","podIP":"127.0.0.1","podIPs":[{"ip":"127.0.0.1"}]}}'
}
pod web-a node-a "$port_a"
pod other-b node-b "$port_b"
uid_a=$(kubectl get pod web-a -n shop -o jsonpath='{.metadata.uid}')
uid_b=$(kubectl get pod other-b -n shop -o jsonpath='{.metadata.uid}')

# Container log files as the kubelet lays them out.
log_a=$WORK/pods/shop_web-a_$uid_a/app/0.log
log_b=$WORK/pods/shop_other-b_$uid_b/app/0.log
mkdir -p "$(dirname "$log_a")" "$(dirname "$log_b")"
cri() { printf '%s stdout F %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$2" >>"$1"; }

admin=$(free_port)
api="endpoint: $KUBE_URL
  token_file: $TOKEN
  ca_file: $KUBE_CA"
write_config "$WORK/agent.yaml" admin "$admin" \
  receiver tail "$(tail_cri_body "$WORK/pods/*/*/*.log" "$WORK/checkpoints")" \
  receiver prometheus_scrape "job_name: pods
scrape_interval: 1s
scrape_timeout: 900ms
kubernetes_pods:
  $api" \
  processor k8s_metadata "api:
  $api" \
  processor batch "timeout: 100ms" \
  exporter file "path: $WORK/out.jsonl" \
  pipeline logs "tail | k8s_metadata batch | file" \
  pipeline metrics "prometheus_scrape | batch | file"
cri "$log_a" "hello from web-a"
cri "$log_b" "hello from other-b"
K8S_NODE_NAME=node-a start agent "$AGENT" --config "$WORK/agent.yaml"
wait_ready "http://127.0.0.1:$admin/readyz"

# found KIND PYTHON_CONDITION: whether out.jsonl has a record (log or metric
# data point with its resource attributes `r` and, for logs, body `body`)
# for which the condition holds.
found() {
  python3 - "$WORK/out.jsonl" "$1" "$2" <<'PY'
import json, sys
path, kind, cond = sys.argv[1:4]
def attrs(resource):
    return {a["key"]: next(iter(a["value"].values())) for a in resource.get("attributes", [])}
try:
    lines = open(path).read().splitlines()
except FileNotFoundError:
    lines = []
for line in lines:
    req = json.loads(line)
    for rl in req.get("resourceLogs", []) if kind == "log" else []:
        r = attrs(rl.get("resource", {}))
        for sl in rl.get("scopeLogs", []):
            for rec in sl.get("logRecords", []):
                body = rec.get("body", {}).get("stringValue", "")
                if eval(cond):
                    sys.exit(0)
    for rm in req.get("resourceMetrics", []) if kind == "metric" else []:
        r = attrs(rm.get("resource", {}))
        for sm in rm.get("scopeMetrics", []):
            for m in sm.get("metrics", []):
                name = m["name"]
                if eval(cond):
                    sys.exit(0)
sys.exit(1)
PY
}
# eventually SECONDS KIND CONDITION
eventually() {
  local deadline=$((SECONDS + $1))
  until found "$2" "$3"; do
    if ((SECONDS > deadline)); then
      echo "not seen in $1 s: $2 where $3" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "seen: $2 where $3"
}

eventually 60 log "body == 'hello from web-a' and r.get('k8s.pod.label.app') == 'web' and r.get('k8s.pod.uid') == '$uid_a' and r.get('k8s.node.name') == 'node-a'"
eventually 30 log "body == 'hello from other-b'"
if found log "body == 'hello from other-b' and 'k8s.pod.label.app' in r"; then
  echo "node-b's pod was looked up by node-a's agent" >&2
  exit 1
fi
eventually 60 metric "name == 'shop_orders_total' and r.get('k8s.pod.name') == 'web-a'"
if grep -q "GET /metrics" "$WORK/expo-b.log"; then
  echo "node-b's pod was scraped by node-a's agent" >&2
  exit 1
fi

echo "== a relabelled pod: its new labels reach the records"
kubectl label pod web-a -n shop app=web-2 --overwrite
deadline=$((SECONDS + 60)) n=0
until found log "body.startswith('after relabel') and r.get('k8s.pod.label.app') == 'web-2'"; do
  ((SECONDS < deadline)) || { echo "the new label never reached the records" >&2; exit 1; }
  n=$((n + 1))
  cri "$log_a" "after relabel $n"
  sleep 0.5
done
echo "seen: the label app=web-2 after $n lines"

echo "== a deleted pod is no longer scraped"
kubectl delete pod web-a -n shop --grace-period=0 --force
scrapes() { grep -c "GET /metrics" "$WORK/expo-a.log" || true; }
deadline=$((SECONDS + 60))
while :; do
  before=$(scrapes)
  sleep 3
  [[ "$(scrapes)" == "$before" ]] && break
  ((SECONDS < deadline)) || { echo "web-a is still scraped after its deletion" >&2; exit 1; }
done
echo "scrapes of web-a stopped at $before"

echo "== the agent's token reads pods and nothing else"
as_agent() { kubectl --token "$(cat "$TOKEN")" --kubeconfig /dev/null --server "$KUBE_URL" \
  --certificate-authority "$KUBE_CA" "$@"; }
as_agent get pods -n shop
if as_agent get secrets -n shop >"$WORK/secrets.out" 2>&1; then
  echo "the agent's token reads secrets" >&2
  exit 1
fi
cat "$WORK/secrets.out"
grep -q "Forbidden" "$WORK/secrets.out"
echo "kubernetes_e2e: passed"
