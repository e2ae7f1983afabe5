#!/usr/bin/env python3
"""Turns the pod template of a workload that `helm template` rendered into the
arguments of `podman run`, so that a test runs the chart's own container:
its image, args, environment (downward API values given by the test), volume
mounts (configMaps written out, hostPaths and volume claims mapped to local
folders), memory limit and securityContext (user, read-only root, dropped
capabilities, no privilege escalation), and the ServiceAccount token where
the pod mounts one. The network is the host's (ports are the configuration's,
not the spec's).

  pod_to_podman.py RENDERED.yaml KIND NAME SETTINGS.json

SETTINGS: {"work": folder for configMap files, "fields": {fieldPath: value},
"paths": {hostPath or "claim:NAME": local folder}, "serviceaccount": folder
with token, ca.crt and namespace, "env": {NAME: value} added,
"hosts": {name: address}, "mask": [paths bound to /dev/null]}.
Prints one argument per line. Fails on what it cannot carry over."""
import json
import os
import sys

import yaml

rendered, kind, name, settings_path = sys.argv[1:5]
settings = json.load(open(settings_path))
objects = [d for d in yaml.safe_load_all(open(rendered)) if d]
workload = next((d for d in objects if d["kind"] == kind and d["metadata"]["name"] == name), None)
if workload is None:
    sys.exit(f"no {kind} {name} in {rendered}")
pod = workload["spec"]["template"]["spec"]
if len(pod["containers"]) != 1 or pod.get("initContainers"):
    sys.exit(f"{kind} {name}: one container expected")
container = pod["containers"][0]
args = ["--network", "host", "--pull", "never"]


def fail(what):
    sys.exit(f"{kind} {name}: cannot carry over {what}")


# securityContext: the container's settings over the pod's.
security = dict(pod.get("securityContext", {}))
security.update(container.get("securityContext", {}))
for key in security:
    if key not in ("runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "readOnlyRootFilesystem",
                   "allowPrivilegeEscalation", "capabilities", "seccompProfile"):
        fail(f"securityContext.{key}")
if "runAsUser" in security:
    user = str(security["runAsUser"])
    if "runAsGroup" in security:
        user += f":{security['runAsGroup']}"
    args += ["--user", user]
if security.get("runAsNonRoot") and security.get("runAsUser", None) in (0, None):
    fail("runAsNonRoot without a non-zero runAsUser")
if "fsGroup" in security:
    args += ["--group-add", str(security["fsGroup"])]
if security.get("readOnlyRootFilesystem"):
    args += ["--read-only", "--read-only-tmpfs=false"]
if security.get("allowPrivilegeEscalation") is False:
    args += ["--security-opt", "no-new-privileges"]
for cap in security.get("capabilities", {}).get("drop", []):
    args += ["--cap-drop", cap]
for cap in security.get("capabilities", {}).get("add", []):
    args += ["--cap-add", cap]
if security.get("seccompProfile", {}).get("type", "RuntimeDefault") != "RuntimeDefault":
    fail("a seccomp profile other than RuntimeDefault")

limit = container.get("resources", {}).get("limits", {}).get("memory")
if limit:
    units = {"Ki": "k", "Mi": "m", "Gi": "g"}
    number, unit = limit[:-2], limit[-2:]
    if unit not in units or not number.isdigit():
        fail(f"memory limit {limit}")
    args += ["--memory", number + units[unit]]

for var in container.get("env", []):
    if "value" in var:
        value = var["value"]
    elif "fieldRef" in var.get("valueFrom", {}):
        path = var["valueFrom"]["fieldRef"]["fieldPath"]
        if path not in settings["fields"]:
            fail(f"env {var['name']} from {path} (no value given)")
        value = settings["fields"][path]
    else:
        fail(f"env {var['name']}")
    args += ["--env", f"{var['name']}={value}"]
for key, value in settings.get("env", {}).items():
    args += ["--env", f"{key}={value}"]
for host, address in settings.get("hosts", {}).items():
    args += ["--add-host", f"{host}:{address}"]

volumes = {v["name"]: v for v in pod.get("volumes", [])}
claims = {c["metadata"]["name"] for c in workload["spec"].get("volumeClaimTemplates", [])}
for mount in container.get("volumeMounts", []):
    options = ["ro"] if mount.get("readOnly") else ["rw"]
    if mount.get("mountPropagation") == "HostToContainer":
        options.append("rslave")
    elif mount.get("mountPropagation") not in (None, "None"):
        fail(f"mountPropagation {mount['mountPropagation']}")
    volume = volumes.get(mount["name"])
    if volume is not None and "configMap" in volume:
        config_map = next((d for d in objects if d["kind"] == "ConfigMap" and
                           d["metadata"]["name"] == volume["configMap"]["name"]), None)
        if config_map is None:
            fail(f"volume {mount['name']}: no ConfigMap {volume['configMap']['name']}")
        source = os.path.join(settings["work"], "configmap-" + config_map["metadata"]["name"])
        os.makedirs(source, exist_ok=True)
        for file, text in config_map.get("data", {}).items():
            with open(os.path.join(source, file), "w") as out:
                out.write(text)
    elif volume is not None and "hostPath" in volume:
        source = settings["paths"].get(volume["hostPath"]["path"])
        if source is None:
            fail(f"hostPath {volume['hostPath']['path']} (no local folder given)")
    elif volume is None and mount["name"] in claims:
        source = settings["paths"].get("claim:" + mount["name"])
        if source is None:
            fail(f"volume claim {mount['name']} (no local folder given)")
    else:
        fail(f"volume {mount['name']}")
    args += ["--volume", f"{source}:{mount['mountPath']}:{','.join(options)}"]

if pod.get("automountServiceAccountToken", True):
    if not settings.get("serviceaccount"):
        fail("the ServiceAccount token (no folder given)")
    args += ["--volume",
             f"{settings['serviceaccount']}:/var/run/secrets/kubernetes.io/serviceaccount:ro"]
for path in settings.get("mask", []):
    args += ["--volume", f"/dev/null:{path}:ro"]

if "command" in container:
    if len(container["command"]) != 1:
        fail("a command of several words")
    args += ["--entrypoint", container["command"][0]]
# An image without a registry host is a local one (podman would otherwise ask
# the registries it knows).
image = container["image"]
first = image.split("/")[0]
args.append(image if "/" in image and ("." in first or ":" in first) else "localhost/" + image)
args += container.get("args", [])
print("\n".join(args))
