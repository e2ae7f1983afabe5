#include "tributary/core/registry.h"
#include "tributary/core/runtime/service.h"

extern const char kDefaultConfig[];

int main(int argc, char** argv) {
  return tributary::core::runtime::RunProgram(
      argc, argv, {"tributary-agent", kDefaultConfig, &tributary::RegisterAllComponents});
}
