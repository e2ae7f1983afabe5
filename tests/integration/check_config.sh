#!/usr/bin/env bash
# --check-config: a typo is reported with file, line, column and key and a
# hint, and exits non-zero; valid files and the built-in defaults pass.
set -euo pipefail
COLLECTOR=$1
AGENT=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/typo.yaml" <<'YAML'
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  file:
    pth: /tmp/out.jsonl
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file, kafka]
YAML
if "$COLLECTOR" --check-config --config "$WORK/typo.yaml" >"$WORK/out" 2>&1; then
  echo "FAIL: a config with a typo passed --check-config" >&2
  exit 1
fi
cat "$WORK/out"
grep -qF "$WORK/typo.yaml:7:5: exporters.file.pth: unknown key (did you mean 'path'?)" "$WORK/out"
grep -qF "$WORK/typo.yaml:12:25: service.pipelines.traces.exporters: references exporter 'kafka', which is not defined" "$WORK/out"

sed -e 's/pth:/path:/' -e 's/, kafka//' "$WORK/typo.yaml" >"$WORK/good.yaml"
"$COLLECTOR" --check-config --config "$WORK/good.yaml"
"$COLLECTOR" --check-config
"$AGENT" --check-config
"$AGENT" --version | grep -q "tributary-agent"

# Secrets in the environment never reach the output.
cat >"$WORK/secret.yaml" <<'YAML'
receivers:
  otlp:
    auth:
      bearer_token: "${env:TRIBUTARY_TEST_TOKEN}"
      bearer_token_fil: /nonexistent
exporters:
  otlp:
    endpoint: 127.0.0.1:1
    headers:
      authorization: "Bearer ${env:TRIBUTARY_TEST_TOKEN}"
    tls:
      insecre: true
service:
  pipelines:
    logs: {receivers: [otlp], exporters: [otlp]}
YAML
if TRIBUTARY_TEST_TOKEN=s3cr3t-value "$AGENT" --check-config --config "$WORK/secret.yaml" >"$WORK/out" 2>&1; then
  echo "FAIL: typo passed" >&2
  exit 1
fi
grep -qF "receivers.otlp.auth.bearer_token_fil: unknown key" "$WORK/out"
if grep -q "s3cr3t-value" "$WORK/out"; then
  echo "FAIL: a secret was printed" >&2
  exit 1
fi
echo "check-config reports errors with file, line and key"
