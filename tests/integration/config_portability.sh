#!/usr/bin/env bash
# OpenTelemetry Collector configuration files for the components Tributary
# shares with it (tests/portability, written from the Collector's
# documentation): each must be accepted by a real Collector v0.160.0 (built by
# tests/services/otelcol.sh; files marked `# collector: none` name a
# component not built there), and Tributary's `--check-config` must accept it
# or refuse exactly the keys the file lists as `# refused:`, each as not
# supported, never as unknown and never silently.
set -euo pipefail
AGENT=$(realpath "$1")
COLLECTOR=$(realpath "$2")
source "$(dirname "$0")/../lib.sh"
source "$TESTS_DIR/services/otelcol.sh"
WORK=$(mktemp -d)
trap cleanup EXIT
OTELCOL=$(otelcol_install)
failed=0
for file in "$TESTS_DIR"/portability/*.yaml; do
  name=$(basename "$file")
  if ! grep -q '^# collector: none' "$file"; then
    if ! "$OTELCOL" validate --config "$file" >"$WORK/otelcol.out" 2>&1; then
      echo "$name: the OpenTelemetry Collector refuses it:"
      cat "$WORK/otelcol.out"
      failed=1
      continue
    fi
  fi
  program=$COLLECTOR
  grep -q '^# program: agent' "$file" && program=$AGENT
  (cd "$(dirname "$file")" && "$program" --check-config --config "$name") >"$WORK/check.out" 2>&1 || true
  python3 "$TESTS_DIR/integration/portability_check.py" "$file" "$WORK/check.out" || failed=1
done
exit $failed
