#ifndef TRIBUTARY_PROCESSORS_K8S_METADATA_KUBELET_PATH_H_
#define TRIBUTARY_PROCESSORS_K8S_METADATA_KUBELET_PATH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tributary::processors::k8s_metadata {

// What the kubelet's log file layout says about a container.
struct PodRef {
  std::string namespace_name;
  std::string pod_name;
  std::string pod_uid;  // empty for /var/log/containers paths
  std::string container_name;
  int64_t restart_count = -1;  // -1 when the path does not say
  std::string container_id;    // /var/log/containers paths only
};

// `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log[.<rotation>]`
// or `/var/log/containers/<pod>_<namespace>_<container>-<64 hex id>.log`; any
// prefix before `pods/` or `containers/` is accepted (a host mounted elsewhere).
std::optional<PodRef> ParseKubeletPath(std::string_view path);

}  // namespace tributary::processors::k8s_metadata

#endif  // TRIBUTARY_PROCESSORS_K8S_METADATA_KUBELET_PATH_H_
