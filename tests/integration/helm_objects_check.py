#!/usr/bin/env python3
"""Checks the objects `helm template` rendered from deploy/helm/tributary
(release "tributary", namespace "observability", PodMonitor, ServiceMonitor
and PrometheusRule enabled) and writes the agent's and collector's
configurations to OUT/agent-TOPOLOGY.yaml and OUT/collector-TOPOLOGY.yaml.

    helm_objects_check.py RENDERED.yaml TOPOLOGY OUT
"""
import json
import sys

import yaml

class StrictLoader(yaml.SafeLoader):
    """Refuses a mapping that repeats a key (kubectl kustomize does)."""


def _mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                    key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)

rendered, topology, out = sys.argv[1:4]
docs = [d for d in yaml.load_all(open(rendered), Loader=StrictLoader) if d]
by = {}
for d in docs:
    by.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def one(kind, name):
    obj = by.get(kind, {}).get(name)
    check(obj is not None, f"no {kind} {name}")
    return obj or {}


# Every object carries the chart's labels.
for d in docs:
    labels = d["metadata"].get("labels", {})
    check(labels.get("app.kubernetes.io/part-of") == "tributary",
          f"{d['kind']} {d['metadata']['name']}: no app.kubernetes.io/part-of label")

agent_cm = one("ConfigMap", "tributary-agent")
collector_cm = one("ConfigMap", "tributary-collector")
agent = yaml.safe_load(agent_cm["data"]["agent.yaml"])
collector = yaml.safe_load(collector_cm["data"]["collector.yaml"])
with open(f"{out}/agent-{topology}.yaml", "w") as f:
    f.write(agent_cm["data"]["agent.yaml"])
with open(f"{out}/collector-{topology}.yaml", "w") as f:
    f.write(collector_cm["data"]["collector.yaml"])

# The topology: what the agents export and the collectors receive.
if topology == "direct":
    check(agent["exporters"] == {"otlp": {"endpoint": "tributary-collector.observability.svc:4317",
                                          "tls": {"insecure": True}}},
          f"direct: agent exporters {agent['exporters']}")
    check(list(collector["receivers"]) == ["otlp"], "direct: collector receivers")
else:
    check(list(agent["exporters"]) == ["kafka"], f"kafka: agent exporters {agent['exporters']}")
    check(collector["receivers"]["kafka"]["group_id"] == "tributary-collector",
          "kafka: collector consumer group")
for signal, p in agent["service"]["pipelines"].items():
    check(p["exporters"] == list(agent["exporters"]), f"agent pipeline {signal} exporters")
# Every collector pipeline takes the collector's receiver; span metrics and
# the service graph go from the traces pipeline to the metrics pipeline.
connectors = ["spanmetrics", "servicegraph"]
check(sorted(collector.get("connectors", {})) == sorted(connectors), "collector connectors")
for signal, p in collector["service"]["pipelines"].items():
    own = connectors if signal == "metrics" else []
    check(p["receivers"] == list(collector["receivers"]) + own,
          f"collector pipeline {signal} receivers {p['receivers']}")
check(collector["service"]["pipelines"]["traces"]["exporters"] == ["file"] + connectors,
      "collector traces pipeline exporters")

# The agent DaemonSet.
ds = one("DaemonSet", "tributary-agent")
pod = ds.get("spec", {}).get("template", {}).get("spec", {})
c = (pod.get("containers") or [{}])[0]
env = {e["name"] for e in c.get("env", [])}
for name in ("K8S_NODE_NAME", "K8S_POD_NAME", "K8S_POD_UID", "POD_IP", "HOST_IP"):
    check(name in env, f"agent: no {name} from the downward API")
check(pod.get("tolerations") == [{"operator": "Exists"}], "agent: not tolerating every taint")
check(pod.get("priorityClassName") == "tributary-agent", "agent: no priority class")
check(pod.get("serviceAccountName") == "tributary-agent", "agent: service account")
sc = c.get("securityContext", {})
check(sc.get("capabilities", {}).get("drop") == ["ALL"], "agent: capabilities not dropped")
check(sc.get("allowPrivilegeEscalation") is False, "agent: privilege escalation allowed")
check(sc.get("readOnlyRootFilesystem") is True, "agent: root filesystem writable")
host_paths = {v["hostPath"]["path"] for v in pod.get("volumes", []) if "hostPath" in v}
for path in ("/var/log/pods", "/var/lib/tributary", "/"):
    check(path in host_paths, f"agent: no hostPath {path}")
mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
check(mounts.get("/host", {}).get("readOnly") is True, "agent: / not mounted read-only at /host")
check(mounts.get("/var/log/pods", {}).get("readOnly") is True, "agent: logs not read-only")
check(c.get("livenessProbe", {}).get("httpGet", {}).get("port") == "admin", "agent: liveness")
check(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", "agent: readiness")
check("memory" in c.get("resources", {}).get("limits", {}), "agent: no memory limit")
check(agent["processors"]["memory_limiter"].get("limit_percentage") == 80,
      "agent: memory_limiter not a share of the pod's limit")
check(ds.get("spec", {}).get("updateStrategy", {}).get("type") == "RollingUpdate",
      "agent: not rolling updates")
ports = {p["name"]: p for p in c.get("ports", [])}
check(ports.get("otlp-grpc", {}).get("hostPort") == 4317, "agent: OTLP not on the node's port")

# The collector StatefulSet and its Services.
sts = one("StatefulSet", "tributary-collector")
spec = sts.get("spec", {})
check(spec.get("volumeClaimTemplates", [{}])[0].get("metadata", {}).get("name") == "state",
      "collector: the buffer is not on a volume claim")
pod = spec.get("template", {}).get("spec", {})
check(pod.get("securityContext", {}).get("runAsNonRoot") is True, "collector: runs as root")
cc = (pod.get("containers") or [{}])[0]
check(cc.get("securityContext", {}).get("readOnlyRootFilesystem") is True,
      "collector: root filesystem writable")
mounts = {m["mountPath"] for m in cc.get("volumeMounts", [])}
check("/var/lib/tributary" in mounts, "collector: buffer volume not mounted")
check(collector["service"]["buffer"]["directory"].startswith("/var/lib/tributary/"),
      "collector: buffer not on the volume")
headless = one("Service", "tributary-collector-headless")
check(headless.get("spec", {}).get("clusterIP") == "None", "collector: no headless Service")
check(spec.get("serviceName") == "tributary-collector-headless", "collector: serviceName")
one("Service", "tributary-collector")
pdb = one("PodDisruptionBudget", "tributary-collector")
check(pdb.get("spec", {}).get("maxUnavailable") == 1, "collector: PDB")

# RBAC: pods, read-only, nothing else.
role = one("ClusterRole", "tributary-agent")
check(role.get("rules") == [{"apiGroups": [""], "resources": ["pods"],
                             "verbs": ["get", "list", "watch"]}],
      f"agent: ClusterRole grants more than reading pods: {role.get('rules')}")
binding = one("ClusterRoleBinding", "tributary-agent")
check(binding.get("subjects") == [{"kind": "ServiceAccount", "name": "tributary-agent",
                                   "namespace": "observability"}], "agent: binding subject")
one("ServiceAccount", "tributary-agent")
check(one("ServiceAccount", "tributary-collector").get("automountServiceAccountToken") is False,
      "collector: mounts a token it does not need")
check(one("PriorityClass", "tributary-agent").get("value") == 1000000,
      "PriorityClass: value is not the integer 1000000")

# Monitoring and dashboards.
one("PodMonitor", "tributary")
one("ServiceMonitor", "tributary-collector")
rule = one("PrometheusRule", "tributary")
rules = [r for g in rule.get("spec", {}).get("groups", []) for r in g["rules"]]
check(len(rules) == 14, f"PrometheusRule: {len(rules)} rules, not 14")
dashboards = [d for d in by.get("ConfigMap", {}).values()
              if d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
check(len(dashboards) == 4, f"{len(dashboards)} dashboard ConfigMaps, not 4")
for d in dashboards:
    for key, text in d["data"].items():
        check(json.loads(text).get("uid", "").startswith("tributary-"), f"dashboard {key}: uid")

for f in failures:
    print("FAIL", f)
print(f"{topology}: {len(docs)} objects checked" if not failures else "")
sys.exit(1 if failures else 0)
