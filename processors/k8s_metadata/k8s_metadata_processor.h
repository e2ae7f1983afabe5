#ifndef TRIBUTARY_PROCESSORS_K8S_METADATA_K8S_METADATA_PROCESSOR_H_
#define TRIBUTARY_PROCESSORS_K8S_METADATA_K8S_METADATA_PROCESSOR_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/k8s/pod_watcher.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"

namespace prometheus {
class Counter;
}

namespace tributary::processors::k8s_metadata {

struct K8sMetadataConfig {
  std::string node_name;
  std::optional<common::k8s::ApiConfig> api;
  std::chrono::milliseconds wait_for_metadata{std::chrono::seconds(10)};
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("node_name", node_name,
               "k8s.node.name; empty takes the K8S_NODE_NAME environment variable (set it from "
               "spec.nodeName with the downward API)");
    v.Optional("api", api,
               "enrich with pod labels and annotations from the Kubernetes API (watches this "
               "node's pods only)");
    v.Optional("wait_for_metadata", wait_for_metadata,
               "with api: how long the start waits for the first list of pods, so that records "
               "read at once are not passed on without their pod's labels (0: no wait)");
  }
};

// Sets k8s.namespace.name, k8s.pod.name, k8s.pod.uid, k8s.container.name,
// k8s.container.restart_count and k8s.node.name on resources from the
// kubelet path in their log.file.path attribute (or from k8s.pod.uid already
// there, for OTLP data), plus labels and annotations when the API is on.
// Attributes a resource already has are kept. Runs on the caller's thread.
class K8sMetadataProcessor : public core::Processor {
 public:
  K8sMetadataProcessor(std::string id, K8sMetadataConfig config, core::Consumer* next);
  ~K8sMetadataProcessor() override;

  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Consume(core::Envelope envelope) noexcept override;

  // For tests: the API cache, or null when the API is off.
  common::k8s::PodWatcher* watcher() { return watcher_.get(); }

 private:
  void Enrich(opentelemetry::proto::resource::v1::Resource* resource);

  const std::string id_;
  const K8sMetadataConfig config_;
  core::Consumer* const next_;
  std::string node_name_;
  std::unique_ptr<common::k8s::PodWatcher> watcher_;
  prometheus::Counter* enriched_;
  prometheus::Counter* unmatched_;
};

}  // namespace tributary::processors::k8s_metadata

#endif  // TRIBUTARY_PROCESSORS_K8S_METADATA_K8S_METADATA_PROCESSOR_H_
