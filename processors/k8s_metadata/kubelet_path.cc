#include "processors/k8s_metadata/kubelet_path.h"

#include <charconv>
#include <vector>

namespace tributary::processors::k8s_metadata {
namespace {

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return !s.empty();
}

}  // namespace

std::optional<PodRef> ParseKubeletPath(std::string_view path) {
  const std::vector<std::string_view> parts = Split(path, '/');
  // .../pods/<ns>_<pod>_<uid>/<container>/<n>.log
  for (size_t i = 0; i + 3 < parts.size(); ++i) {
    if (parts[i] != "pods" || i + 4 != parts.size()) continue;
    const std::vector<std::string_view> id = Split(parts[i + 1], '_');
    if (id.size() != 3 || id[0].empty() || id[1].empty() || id[2].empty()) return std::nullopt;
    if (parts[i + 2].empty()) return std::nullopt;
    PodRef ref;
    ref.namespace_name = id[0];
    ref.pod_name = id[1];
    ref.pod_uid = id[2];
    ref.container_name = parts[i + 2];
    std::string_view file = parts[i + 3];
    const size_t dot = file.find('.');
    int64_t restart;
    const std::string_view number = file.substr(0, dot);
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), restart);
    if (ec == std::errc() && ptr == number.data() + number.size() &&
        dot != std::string_view::npos && file.substr(dot).starts_with(".log")) {
      ref.restart_count = restart;
    }
    return ref;
  }
  // .../containers/<pod>_<ns>_<container>-<id>.log
  if (parts.size() >= 2 && parts[parts.size() - 2] == "containers") {
    std::string_view file = parts.back();
    if (!file.ends_with(".log")) return std::nullopt;
    file.remove_suffix(4);
    const std::vector<std::string_view> id = Split(file, '_');
    if (id.size() != 3 || id[0].empty() || id[1].empty()) return std::nullopt;
    const size_t dash = id[2].rfind('-');
    if (dash == std::string_view::npos || dash == 0 || !IsHex(id[2].substr(dash + 1))) {
      return std::nullopt;
    }
    PodRef ref;
    ref.pod_name = id[0];
    ref.namespace_name = id[1];
    ref.container_name = id[2].substr(0, dash);
    ref.container_id = id[2].substr(dash + 1);
    return ref;
  }
  return std::nullopt;
}

}  // namespace tributary::processors::k8s_metadata
