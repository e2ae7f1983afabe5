#!/usr/bin/env bash
# The C++ SDK against the official OpenTelemetry JS packages: its OTLP output
# decoded field by field, and W3C trace context propagated both ways.
set -euo pipefail
TOOL=$1
source "$(dirname "$0")/../lib.sh"
NODE_PATH=$(interop_modules)
export NODE_PATH
node "$TESTS_DIR/interop/sdk_interop.cjs" --tool "$TOOL"
