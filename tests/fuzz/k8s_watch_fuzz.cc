// Kubernetes pod list and watch-event parsing: the first byte picks which;
// whatever the API server sends, the cache stays consistent and bounded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/k8s/pod_watcher.h"

using tributary::common::k8s::PodWatcher;
using tributary::common::k8s::PodWatcherOptions;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  PodWatcherOptions options;
  options.max_pods = 4;
  PodWatcher watcher(options);
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    (void)watcher.ApplyList(text);
  } else {
    while (!text.empty()) {
      const size_t nl = text.find('\n');
      (void)watcher.ApplyEvent(text.substr(0, nl));
      if (nl == std::string_view::npos) break;
      text.remove_prefix(nl + 1);
    }
  }
  if (watcher.size() > options.max_pods) abort();
  return 0;
}
