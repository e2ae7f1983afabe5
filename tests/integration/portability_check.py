"""Checks what `--check-config` said of an OpenTelemetry Collector
configuration file: every error must refuse a key as not supported (none
may call a key unknown, and none may be missing), and the refused keys must be
exactly those the file lists in `# refused: PATH` lines. Prints the file's
report: its keys, those accepted and those refused with the reason.

    python3 portability_check.py FILE CHECK_CONFIG_OUTPUT
"""
import re
import sys

import yaml


def leaves(node, path=""):
    """The paths of a YAML document's keys that hold values (lists count once)."""
    if isinstance(node, dict) and node:
        for k, v in node.items():
            yield from leaves(v, f"{path}.{k}" if path else str(k))
    else:
        yield path


def main():
    config_file, output_file = sys.argv[1], sys.argv[2]
    text = open(config_file).read()
    expected = set(re.findall(r"^# refused: (\S+)", text, re.M))
    doc = yaml.safe_load(text)
    keys = [p for section in ("receivers", "processors", "exporters")
            for p in leaves(doc.get(section) or {}, section)]
    refused = {}
    problems = []
    for line in open(output_file).read().splitlines():
        m = re.match(r"^[^:]+:\d+:\d+: (\S+): (.*)$", line)
        if not m:
            continue
        path, message = m.groups()
        if "not supported" not in message:
            problems.append(f"not a refusal of an unsupported key: {line}")
        refused[path] = message
    for path in sorted(expected - refused.keys()):
        problems.append(f"expected to be refused, accepted: {path}")
    for path in sorted(refused.keys() - expected):
        problems.append(f"refused, not listed in the file: {path}: {refused[path]}")
    covered = sum(1 for k in keys if not any(k == r or k.startswith(r + ".") for r in refused))
    print(f"{config_file}: {len(keys)} keys, {covered} accepted, "
          f"{len(keys) - covered} under {len(refused)} refused")
    for path, message in sorted(refused.items()):
        print(f"  refused {path}: {message}")
    for p in problems:
        print(f"  PROBLEM {p}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
