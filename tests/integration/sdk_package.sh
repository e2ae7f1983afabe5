#!/usr/bin/env bash
# Installs the SDK with `cmake --install`, then builds a separate project
# against it twice, with find_package(tributary-sdk) and with pkg-config, and
# runs both against tributary-agent. The installed headers must not include
# gRPC, protobuf or Abseil.
set -euo pipefail
BUILD=$1
AGENT=$2
source "$(dirname "$0")/../lib.sh"
WORK=$(mktemp -d)
trap cleanup EXIT

for part in sdk_runtime sdk; do
  cmake --install "$BUILD" --prefix "$WORK/prefix" --component $part >/dev/null
done
if grep -rlE '#include [<"](grpc|google/protobuf|absl|curl)' "$WORK/prefix/include"; then
  echo "installed SDK headers include third-party headers" >&2
  exit 1
fi

start_otlp_agent "$AGENT" nop ""
export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$A_HTTP" OTEL_SERVICE_NAME=package-test

echo "--- find_package(tributary-sdk)"
cmake -S "$TESTS_DIR/sdk_package" -B "$WORK/user" -DCMAKE_PREFIX_PATH="$WORK/prefix" >/dev/null
cmake --build "$WORK/user" >/dev/null
"$WORK/user/sdk_user"

echo "--- pkg-config tributary-sdk"
pc_dir=$(dirname "$(find "$WORK/prefix" -name tributary-sdk.pc)")
flags=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs tributary-sdk)
libdir=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --variable=libdir tributary-sdk)
# shellcheck disable=SC2086
g++ -Wall -Wextra -Werror "$TESTS_DIR/sdk_package/main.cc" $flags -Wl,-rpath,"$libdir" -o "$WORK/sdk_user_pc"
"$WORK/sdk_user_pc"
