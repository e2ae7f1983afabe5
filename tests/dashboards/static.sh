#!/usr/bin/env bash
# The dashboards keep their conventions and are what generate.py writes; the
# alert and recording rules pass `promtool check rules` and their unit tests
# (`promtool test rules`, Debian's prometheus package, installed if
# missing). Then the checker is shown to catch what it checks: a copy of the
# dashboards with a hard-coded data source, a panel without a unit, a fixed
# rate window and an unknown Tributary metric must fail, each named. Last,
# every dashboard type-checks against @grafana/schema (pinned in
# tests/dashboards/schema, installed into a cache outside the repository),
# and a mistyped one must not.
#   static.sh
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/prometheus.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
REPO=$(cd "$TESTS_DIR/.." && pwd)
prometheus_install

python3 "$TESTS_DIR/dashboards/check_dashboards.py" static "$REPO"
promtool check rules "$REPO/dashboards/rules/tributary.rules.yaml"
(cd "$REPO/dashboards/rules" && promtool test rules tributary.rules.test.yaml)

echo "== the checker catches broken dashboards"
mkdir "$WORK/broken"
python3 - "$REPO/dashboards/tributary-pipeline.json" "$WORK/broken/pipeline.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
panels = [p for p in d["panels"] if p["type"] != "row"]
panels[0]["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
del panels[1]["fieldConfig"]["defaults"]["unit"]
panels[2]["targets"][0]["expr"] = panels[2]["targets"][0]["expr"].replace("$__rate_interval", "5m")
panels[3]["targets"][0]["expr"] = 'sum(rate(tributary_no_such_records_total{job="x"}[$__rate_interval]))'
json.dump(d, open(sys.argv[2], "w"))
PY
if DASHBOARDS_DIR="$WORK/broken" python3 "$TESTS_DIR/dashboards/check_dashboards.py" static "$REPO" \
  >"$WORK/broken.out"; then
  echo "the checker passed broken dashboards" >&2
  exit 1
fi
cat "$WORK/broken.out"
for expected in 'panel "Instances up": datasource is not $datasource' \
  'panel "Received records/s": no unit' \
  'panel "Sent records/s", query A: range [5m], not [$__rate_interval]' \
  'panel "Dropped records/s", query A: tributary_no_such_records_total is not a metric Tributary registers'; do
  grep -qF "$expected" "$WORK/broken.out" || { echo "not reported: $expected" >&2; exit 1; }
done
echo "== the dashboards type-check against @grafana/schema (tsc --strict)"
# typecheck DIR...: writes each dashboard of DIRs as a TypeScript constant
# typed Dashboard (an object literal, so unknown keys are errors too) and
# runs tsc over them.
typecheck() {
  local ts=$WORK/ts-$RANDOM
  mkdir "$ts"
  ln -s "$MODULES" "$ts/node_modules"
  python3 - "$ts" "$@" <<'PY'
import json, os, re, sys
out = sys.argv[1]
for folder in sys.argv[2:]:
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            d = json.load(open(os.path.join(folder, name)))
            ident = re.sub(r"\W", "_", name[:-5])
            with open(os.path.join(out, ident + ".ts"), "w") as f:
                f.write("import type { Dashboard } from '@grafana/schema';\n\n"
                        f"export const {ident}: Dashboard = {json.dumps(d, indent=2)};\n")
json.dump({"compilerOptions": {"strict": True, "noEmit": True, "module": "esnext",
                               "moduleResolution": "bundler", "target": "es2020",
                               "skipLibCheck": True}, "include": ["*.ts"]},
          open(os.path.join(out, "tsconfig.json"), "w"))
PY
  node "$MODULES/typescript/bin/tsc" -p "$ts"
}
MODULES=$(npm_modules "$TESTS_DIR/dashboards/schema" dashboard-schema)
typecheck "$REPO/dashboards"
mkdir "$WORK/mistyped"
python3 - "$REPO/dashboards" "$WORK/mistyped" <<'PY'
import json, sys
d = json.load(open(sys.argv[1] + "/node.json"))
d["schemaVersion"] = str(d["schemaVersion"])
json.dump(d, open(sys.argv[2] + "/node.json", "w"))
d = json.load(open(sys.argv[1] + "/services.json"))
d["refreshEvery"] = "30s"
json.dump(d, open(sys.argv[2] + "/services.json", "w"))
PY
if typecheck "$WORK/mistyped" >"$WORK/mistyped.out"; then
  echo "tsc passed a mistyped dashboard" >&2
  exit 1
fi
cat "$WORK/mistyped.out"
grep -q "node.ts.*'string' is not assignable to type 'number'" "$WORK/mistyped.out" &&
  grep -q "services.ts.*refreshEvery.*does not exist in type 'Dashboard'" "$WORK/mistyped.out" ||
  { echo "tsc did not name both mistakes" >&2; exit 1; }
echo "dashboards and rules: static checks passed"
