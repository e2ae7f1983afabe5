#!/usr/bin/env bash
# The Helm chart deploy/helm/tributary with a real helm (v4, built from the
# Go module proxy): `helm lint --strict` for each topology; `helm template`
# of each renders the objects the chart promises (checked by
# helm_objects_check.py), and the agent's and collector's configurations it
# renders pass the programs' own --check-config; values files with an
# unknown key or a wrong type are refused by values.schema.json with the key
# named.
#   helm_chart.sh AGENT COLLECTOR
set -euo pipefail
AGENT=$1
COLLECTOR=$2
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/helm.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
CHART=$(cd "$TESTS_DIR/../deploy/helm/tributary" && pwd)
HELM=$(helm_install)
"$HELM" version

for topology in direct kafka; do
  echo "== topology $topology"
  "$HELM" lint --strict "$CHART" --set topology=$topology
  "$HELM" template tributary "$CHART" --namespace observability --set topology=$topology \
    --set podMonitor.enabled=true --set serviceMonitor.enabled=true \
    --set prometheusRule.enabled=true >"$WORK/$topology.yaml"
  python3 "$TESTS_DIR/integration/helm_objects_check.py" "$WORK/$topology.yaml" "$topology" "$WORK"
  "$AGENT" --check-config --config "$WORK/agent-$topology.yaml"
  "$COLLECTOR" --check-config --config "$WORK/collector-$topology.yaml"
done

echo "== deploy/kubernetes is what the chart renders"
"$TESTS_DIR/../deploy/kubernetes/generate.sh" --check

echo "== values merged over the shipped configuration"
cat >"$WORK/values.yaml" <<'YAML'
agent:
  config:
    processors:
      batch:
        timeout: 1s
collector:
  replicas: 3
  config:
    exporters:
      file:
        path: /var/lib/tributary/other.jsonl
YAML
"$HELM" template tributary "$CHART" -f "$WORK/values.yaml" >"$WORK/merged.yaml"
python3 - "$WORK/merged.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
agent = yaml.safe_load(by[("ConfigMap", "tributary-agent")]["data"]["agent.yaml"])
collector = yaml.safe_load(by[("ConfigMap", "tributary-collector")]["data"]["collector.yaml"])
assert agent["processors"]["batch"] == {"send_batch_size": 8192, "timeout": "1s"}, agent["processors"]
assert "memory_limiter" in agent["processors"], "the merge dropped a shipped processor"
assert collector["exporters"]["file"]["path"] == "/var/lib/tributary/other.jsonl"
assert collector["exporters"]["file"]["rotation"]["max_backups"] == 10
assert by[("StatefulSet", "tributary-collector")]["spec"]["replicas"] == 3
print("values merged over the shipped configuration: ok")
PY

echo "== bad values are refused, the key named"
# refused FILE PATTERN: helm must refuse the values in FILE and say PATTERN.
refused() {
  if "$HELM" template tributary "$CHART" -f "$1" >"$WORK/out" 2>&1; then
    echo "helm accepted $(cat "$1")" >&2
    exit 1
  fi
  cat "$WORK/out"
  grep -Eq "$2" "$WORK/out" || { echo "the error does not name: $2" >&2; exit 1; }
}
printf 'agent:\n  replica: 3\n' >"$WORK/unknown.yaml"
refused "$WORK/unknown.yaml" "agent.*replica|replica.*agent"
printf 'collector:\n  replicas: "two"\n' >"$WORK/type.yaml"
refused "$WORK/type.yaml" "collector.*replicas|replicas.*collector"
printf 'topology: mesh\n' >"$WORK/enum.yaml"
refused "$WORK/enum.yaml" "topology"
echo "helm_chart: passed"
