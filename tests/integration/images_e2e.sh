#!/usr/bin/env bash
# The images, built by deploy/image/build (mmdebstrap + buildah, no registry),
# run with podman as the Helm chart deploys them:
# - sizes, users and labels of the three images; the agent's under 120 MB;
# - the collector's StatefulSet and the agent's DaemonSet pod templates, as
#   `helm template` renders them (pod_to_podman.py: args, downward-API
#   environment, ConfigMap, hostPath and claim volumes, memory limit,
#   securityContext: user, read-only root, no capabilities, no privilege
#   escalation), with the shells of the images masked (nothing needs one),
#   on the host's network with the ports moved to free ones by values;
# - the agent in its container talks to a real kube-apiserver in-cluster
#   style (KUBERNETES_SERVICE_HOST and the mounted ServiceAccount token of
#   the chart's RBAC), reads the host's metrics under /host and container log
#   files that this script writes under the mounted /var/log/pods;
# - the example services run from the examples image and send OTLP to the
#   agent;
# - everything arrives at the collector: the log lines (exactly, with the
#   pod's labels), the services' spans and logs (known counts), the node's
#   and the services' metrics at its Prometheus exporter; the memory
#   limiter's limit is 80% of the container's memory limit; both processes
#   account for every record.
#   images_e2e.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd)
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/helm.sh"
source "$TESTS_DIR/services/kubernetes.sh"
source "$TESTS_DIR/services/podman.sh"
ROOT=$(cd "$TESTS_DIR/.." && pwd)
WORK=$(mktemp -d)
trap 'cleanup_showing_logs; podman_cleanup' EXIT
podman_install
HELM=$(helm_install)

echo "== the images"
"$ROOT/deploy/image/build" --build-dir "$BUILD"
version=$("$BUILD/agent/tributary-agent" --version | awk '{print $2}')
# The commit built (outside a git checkout the build script writes `unknown`).
revision=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
for image in agent collector examples; do
  ref=localhost/tributary/tributary-$image:$version
  inspect() { podman image inspect --format "$1" "$ref"; }
  size=$(inspect '{{.Size}}')
  user=$(inspect '{{.Config.User}}')
  echo "$ref: $size bytes, user $user, $(inspect '{{index .Config.Labels "org.opencontainers.image.source"}}')"
  [[ "$(inspect '{{index .Config.Labels "org.opencontainers.image.version"}}')" == "$version" ]] ||
    { echo "$ref: label org.opencontainers.image.version is not $version" >&2; exit 1; }
  [[ "$(inspect '{{index .Config.Labels "org.opencontainers.image.revision"}}')" == "$revision" ]] ||
    { echo "$ref: label org.opencontainers.image.revision is not $revision" >&2; exit 1; }
  [[ -n "$(inspect '{{index .Config.Labels "org.opencontainers.image.source"}}')" ]] ||
    { echo "$ref: no org.opencontainers.image.source label" >&2; exit 1; }
  case $image in
    agent)
      [[ "$user" == 0:0 ]] || { echo "$ref: runs as $user, the agent runs as root" >&2; exit 1; }
      ((size < 120 * 1000 * 1000)) || { echo "$ref: $size bytes, over 120 MB" >&2; exit 1; } ;;
    *) [[ "$user" == 10001:10001 ]] || { echo "$ref: runs as $user, not 10001" >&2; exit 1; } ;;
  esac
done
# No shell is needed at run time: every container below runs with them masked.
masks=(/usr/bin/dash /usr/bin/bash)

echo "== the chart's objects in a real API server"
kubernetes_start
agent_grpc=$(free_port) agent_http=$(free_port) agent_statsd=$(free_port) agent_admin=$(free_port)
collector_grpc=$(free_port) collector_http=$(free_port) collector_admin=$(free_port)
collector_prometheus=$(free_port)
cat >"$WORK/values.yaml" <<YAML
agent:
  config:
    receivers:
      otlp: {protocols: {grpc: {endpoint: "127.0.0.1:$agent_grpc"}, http: {endpoint: "127.0.0.1:$agent_http"}}}
      statsd: {endpoint: "127.0.0.1:$agent_statsd"}
    exporters:
      otlp: {endpoint: "tributary-collector.observability.svc:$collector_grpc"}
    service: {admin: {endpoint: "127.0.0.1:$agent_admin"}}
collector:
  config:
    receivers:
      otlp: {protocols: {grpc: {endpoint: "127.0.0.1:$collector_grpc"}, http: {endpoint: "127.0.0.1:$collector_http"}}}
    exporters:
      prometheus: {endpoint: "127.0.0.1:$collector_prometheus"}
    service: {admin: {endpoint: "127.0.0.1:$collector_admin"}}
YAML
"$HELM" template tributary "$ROOT/deploy/helm/tributary" --namespace observability \
  -f "$WORK/values.yaml" >"$WORK/rendered.yaml"
kubectl create namespace observability
kubectl apply --server-side -n observability -f "$WORK/rendered.yaml" >/dev/null
mkdir -p "$WORK/serviceaccount"
kubectl create token tributary-agent -n observability --duration 1h >"$WORK/serviceaccount/token"
cp "$KUBE_CA" "$WORK/serviceaccount/ca.crt"
echo observability >"$WORK/serviceaccount/namespace"

kubectl create namespace shop
# Without controllers nothing creates a namespace's default ServiceAccount.
kubectl create serviceaccount default -n shop
kubectl apply -n shop -f - <<YAML
apiVersion: v1
kind: Pod
metadata: {name: web-a, labels: {app: web, tier: front}}
spec:
  nodeName: node-a
  automountServiceAccountToken: false
  containers: [{name: app, image: "tributary/tributary-examples:$version"}]
YAML
uid=$(kubectl get pod web-a -n shop -o jsonpath='{.metadata.uid}')

echo "== the collector and the agent in their containers"
mkdir -p "$WORK/collector-state" "$WORK/agent-state" "$WORK/pods" "$WORK/docker-containers"
chown 10001:10001 "$WORK/collector-state"
# pod_args KIND NAME FIELDS_JSON EXTRA_JSON: the podman arguments of a pod template.
pod_args() {
  python3 - "$WORK/$2.json" "$3" "$4" "${masks[@]}" <<'PY'
import json, sys
out, fields, extra = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
settings = {"fields": fields, "mask": sys.argv[4:]}
settings.update(extra)
json.dump(settings, open(out, "w"))
PY
  python3 "$TESTS_DIR/integration/pod_to_podman.py" "$WORK/rendered.yaml" "$1" "$2" "$WORK/$2.json"
}
fields() {
  printf '{"spec.nodeName": "node-a", "metadata.name": "%s", "metadata.uid": "%s",
    "metadata.namespace": "observability", "status.podIP": "127.0.0.1", "status.hostIP": "127.0.0.1"}' \
    "$1" "$(cat /proc/sys/kernel/random/uuid)"
}
mapfile -t collector_args < <(pod_args StatefulSet tributary-collector "$(fields tributary-collector-0)" \
  "{\"work\": \"$WORK\", \"paths\": {\"claim:state\": \"$WORK/collector-state\"}}")
echo "podman run ${collector_args[*]}"
podman_start collector "${collector_args[@]}"
wait_ready "http://127.0.0.1:$collector_admin/readyz" 120

api_port=${KUBE_URL##*:}
mapfile -t agent_args < <(pod_args DaemonSet tributary-agent "$(fields tributary-agent-x7k2p)" "{
  \"work\": \"$WORK\",
  \"paths\": {\"/var/lib/tributary\": \"$WORK/agent-state\", \"/var/log/pods\": \"$WORK/pods\",
            \"/var/lib/docker/containers\": \"$WORK/docker-containers\", \"/\": \"/\"},
  \"serviceaccount\": \"$WORK/serviceaccount\",
  \"env\": {\"KUBERNETES_SERVICE_HOST\": \"127.0.0.1\", \"KUBERNETES_SERVICE_PORT\": \"$api_port\"},
  \"hosts\": {\"tributary-collector.observability.svc\": \"127.0.0.1\"}}")
echo "podman run ${agent_args[*]}"
# Container log lines as the kubelet writes them, root's files in root's
# folders: the agent reads them as root with every capability dropped.
log=$WORK/pods/shop_web-a_$uid/app/0.log
mkdir -p "$(dirname "$log")"
chmod 0750 "$WORK/pods/shop_web-a_$uid" "$(dirname "$log")"
lines=2000
python3 - "$log" "$lines" <<'PY'
import datetime, sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as out:
    for i in range(n):
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out.write(f"{now} stdout F web-a line {i:05d}\n")
PY
chmod 0640 "$log"
podman_start agent "${agent_args[@]}"
wait_ready "http://127.0.0.1:$agent_admin/readyz" 120

echo "== the example services from their image"
backend=$(free_port) frontend=$(free_port)
service_args=(--network host --read-only --read-only-tmpfs=false --cap-drop ALL
  --security-opt no-new-privileges --env "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$agent_http"
  --env OTEL_RESOURCE_ATTRIBUTES=service.namespace=shop)
for path in "${masks[@]}"; do service_args+=(--volume "/dev/null:$path:ro"); done
image=localhost/tributary/tributary-examples:$version
podman_start backend "${service_args[@]}" --env OTEL_SERVICE_NAME=backend "$image" \
  tributary-example-backend --port "$backend"
podman_start frontend "${service_args[@]}" --env OTEL_SERVICE_NAME=frontend "$image" \
  tributary-example-frontend --port "$frontend" --backend "127.0.0.1:$backend"
wait_port "$backend" 60
wait_port "$frontend" 60
requests=200
podman run --rm "${service_args[@]}" --env OTEL_SERVICE_NAME=loadgen "$image" \
  tributary-example-loadgen --target "127.0.0.1:$frontend" --requests "$requests" --rate 50 \
  --error-ratio 0.1 | tee "$WORK/loadgen.out"

echo "== everything at the collector"
# sink_counts: what the collector's file exporter holds, as JSON.
sink_counts() {
  python3 - "$WORK/collector-state/telemetry.jsonl" "$uid" <<'PY'
import json, sys
path, uid = sys.argv[1:3]
def attrs(o):
    return {a["key"]: next(iter(a["value"].values()), None) for a in o.get("attributes", [])}
lines, labelled, spans, span_errors, service_logs = set(), 0, {}, 0, {}
try:
    text = open(path).read().splitlines()
except FileNotFoundError:
    text = []
for row in text:
    req = json.loads(row)
    for rl in req.get("resourceLogs", []):
        r = attrs(rl.get("resource", {}))
        for sl in rl.get("scopeLogs", []):
            for rec in sl.get("logRecords", []):
                body = rec.get("body", {}).get("stringValue", "")
                if body.startswith("web-a line "):
                    lines.add(body)
                    labelled += (r.get("k8s.pod.label.app") == "web" and r.get("k8s.pod.uid") == uid
                                 and r.get("k8s.namespace.name") == "shop"
                                 and r.get("k8s.node.name") == "node-a")
                elif "service.name" in r:
                    key = r["service.name"] + ": " + body
                    service_logs[key] = service_logs.get(key, 0) + 1
    for rs in req.get("resourceSpans", []):
        service = attrs(rs.get("resource", {})).get("service.name")
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                if span.get("kind") in (2, "SPAN_KIND_SERVER"):
                    spans[service] = spans.get(service, 0) + 1
                    if service == "frontend" and span.get("status", {}).get("code") in (2, "STATUS_CODE_ERROR"):
                        span_errors += 1
print(json.dumps({"log_lines": len(lines), "labelled": labelled, "server_spans": spans,
                  "frontend_errors": span_errors, "service_logs": service_logs}, sort_keys=True))
PY
}
expected_errors=$((requests / 10))
expected=$(python3 -c "import json; print(json.dumps({'log_lines': $lines, 'labelled': $lines,
  'server_spans': {'frontend': $requests, 'backend': $requests}, 'frontend_errors': $expected_errors,
  'service_logs': {'frontend: order placed': $((requests - expected_errors)),
                   'frontend: checkout failed: price unavailable': $expected_errors}}, sort_keys=True))")
deadline=$((SECONDS + 120))
until [[ "$(sink_counts | python3 -c "
import json, sys
got, want = json.load(sys.stdin), json.loads(sys.argv[1])
logs = got['service_logs']
got['service_logs'] = {k: logs[k] for k in want['service_logs'] if k in logs}
print(got == want)" "$expected")" == True ]]; do
  if ((SECONDS > deadline)); then
    echo "the collector's file sink does not hold what was sent in 120 s:" >&2
    echo "  want $expected" >&2
    echo "  have $(sink_counts)" >&2
    exit 1
  fi
  sleep 1
done
echo "file sink: $(sink_counts)"

scrape=http://127.0.0.1:$collector_prometheus/metrics
deadline=$((SECONDS + 120))
until curl -fsS "$scrape" >"$WORK/scrape.txt" &&
  grep -q '^node_cpu_seconds_total{.*instance="node-a".*job="node"' "$WORK/scrape.txt" &&
  grep -q '^http_server_request_duration_seconds_count{.*job="shop/frontend"' "$WORK/scrape.txt" &&
  [[ "$(awk '/^http_server_request_duration_seconds_count\{/ && /job="shop\/frontend"/ {s += $NF}
             END {print s + 0}' "$WORK/scrape.txt")" == "$requests" ]]; do
  if ((SECONDS > deadline)); then
    echo "the collector's Prometheus exporter lacks the node's or the services' metrics:" >&2
    grep -E '^(node_cpu_seconds_total|http_server_request_duration_seconds_count)' "$WORK/scrape.txt" | head >&2
    exit 1
  fi
  sleep 1
done
echo "Prometheus exporter: node-a's host metrics and $requests frontend requests"

# The memory limiter's limit comes from the container's cgroup: 80% of the
# DaemonSet's 512Mi.
# (awk reads the whole exposition: stopping early would fail curl's write.)
limit=$(curl -fsS "http://127.0.0.1:$agent_admin/metrics" |
  awk '/^tributary_memory_limiter_limit_bytes\{/ && limit == "" {limit = $NF} END {print limit}')
want=$(python3 -c "
import yaml
for d in yaml.safe_load_all(open('$WORK/rendered.yaml')):
    if d and d['kind'] == 'DaemonSet':
        print(int(d['spec']['template']['spec']['containers'][0]['resources']['limits']['memory'][:-2]) * 1024 * 1024 * 8 // 10)")
# (The exposition prints 8 significant digits.)
if [[ -z "$limit" ]] || ! python3 -c "import sys; sys.exit(abs($limit - $want) > $want * 1e-7)"; then
  echo "memory limiter limit ${limit:-missing}, want $want (80% of the container's limit)" >&2
  exit 1
fi
echo "memory limiter limit: $limit bytes"

for url in "http://127.0.0.1:$agent_admin" "http://127.0.0.1:$collector_admin"; do
  wait_drained "$url" 60
  check_accounting "$url" logs
done
check_accounting "http://127.0.0.1:$agent_admin" spans
# The chart's collector hands its spans to the file exporter and to the
# spanmetrics and servicegraph connectors.
check_accounting "http://127.0.0.1:$collector_admin" spans 3
