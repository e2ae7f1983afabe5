#include "processors/k8s_metadata/k8s_metadata_processor.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "processors/k8s_metadata/kubelet_path.h"
#include "prometheus/counter.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"
#include "tributary/core/telemetry.h"

namespace tributary::processors::k8s_metadata {

using common::k8s::PodMeta;
using common::k8s::PodWatcher;
using common::k8s::WatcherOptions;
namespace {

using opentelemetry::proto::common::v1::KeyValue;
using Attributes = google::protobuf::RepeatedPtrField<KeyValue>;

const KeyValue* Find(const Attributes& attrs, std::string_view key) {
  for (const KeyValue& kv : attrs) {
    if (kv.key() == key) return &kv;
  }
  return nullptr;
}

void SetString(Attributes* attrs, const std::string& key, const std::string& value) {
  if (value.empty() || Find(*attrs, key)) return;
  KeyValue* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

std::string Env(const char* name) {
  const char* v = getenv(name);
  return v ? v : "";
}

const core::MetricFamily<prometheus::Counter> kResources{
    "tributary_k8s_metadata_resources_total",
    "Resources looked at, by whether pod metadata was found"};

}  // namespace

K8sMetadataProcessor::K8sMetadataProcessor(std::string id, K8sMetadataConfig config,
                                           core::Consumer* next)
    : id_(std::move(id)), config_(std::move(config)), next_(next) {
  node_name_ = config_.node_name.empty() ? Env("K8S_NODE_NAME") : config_.node_name;
  enriched_ = &kResources.Add({{"processor", id_}, {"result", "enriched"}});
  unmatched_ = &kResources.Add({{"processor", id_}, {"result", "unmatched"}});
}

K8sMetadataProcessor::~K8sMetadataProcessor() = default;

absl::Status K8sMetadataProcessor::Start() {
  if (!config_.api) return absl::OkStatus();
  auto o = WatcherOptions(*config_.api, node_name_);
  if (!o.ok()) return o.status();
  watcher_ = std::make_unique<PodWatcher>(*o);
  watcher_->Start();
  if (config_.wait_for_metadata.count() > 0 && !watcher_->WaitForList(config_.wait_for_metadata)) {
    core::Log(core::LogLevel::kWarn, id_, "no pod list yet; starting without pod metadata",
              absl::StrCat("waited_ms=", config_.wait_for_metadata.count()));
  }
  return absl::OkStatus();
}

void K8sMetadataProcessor::Shutdown(core::Deadline) noexcept {
  if (watcher_) watcher_->Stop();
}

void K8sMetadataProcessor::Enrich(opentelemetry::proto::resource::v1::Resource* resource) {
  Attributes* attrs = resource->mutable_attributes();
  std::optional<PodRef> ref;
  if (const KeyValue* path = Find(*attrs, "log.file.path")) {
    ref = ParseKubeletPath(path->value().string_value());
  }
  std::string uid;
  if (ref) {
    SetString(attrs, "k8s.namespace.name", ref->namespace_name);
    SetString(attrs, "k8s.pod.name", ref->pod_name);
    SetString(attrs, "k8s.pod.uid", ref->pod_uid);
    SetString(attrs, "k8s.container.name", ref->container_name);
    if (ref->restart_count >= 0 && !Find(*attrs, "k8s.container.restart_count")) {
      KeyValue* kv = attrs->Add();
      kv->set_key("k8s.container.restart_count");
      kv->mutable_value()->set_int_value(ref->restart_count);
    }
    uid = ref->pod_uid;
  } else if (const KeyValue* u = Find(*attrs, "k8s.pod.uid")) {
    uid = u->value().string_value();
  }
  if (!ref && uid.empty()) return;
  SetString(attrs, "k8s.node.name", node_name_);
  if (!watcher_) {
    enriched_->Increment();
    return;
  }
  std::shared_ptr<const PodMeta> pod = !uid.empty() ? watcher_->ByUid(uid)
                                       : ref ? watcher_->ByName(ref->namespace_name, ref->pod_name)
                                             : nullptr;
  if (pod == nullptr) {
    unmatched_->Increment();
    return;
  }
  enriched_->Increment();
  SetString(attrs, "k8s.pod.uid", pod->uid);
  if (config_.api->labels) {
    for (const auto& [k, v] : pod->labels) SetString(attrs, "k8s.pod.label." + k, v);
  }
  for (const auto& [k, v] : pod->annotations) SetString(attrs, "k8s.pod.annotation." + k, v);
}

absl::Status K8sMetadataProcessor::Consume(core::Envelope envelope) noexcept {
  // A batch held only here is changed in place; a shared one is copied.
  auto batch = std::make_shared<core::Batch>(core::TakeBatch(std::move(envelope.batch)));
  switch (batch->signal()) {
    case core::Signal::kLogs:
      for (auto& r : *batch->mutable_logs().mutable_resource_logs()) Enrich(r.mutable_resource());
      break;
    case core::Signal::kTraces:
      for (auto& r : *batch->mutable_traces().mutable_resource_spans()) {
        Enrich(r.mutable_resource());
      }
      break;
    case core::Signal::kMetrics:
      for (auto& r : *batch->mutable_metrics().mutable_resource_metrics()) {
        Enrich(r.mutable_resource());
      }
      break;
  }
  envelope.batch = std::move(batch);
  return next_->Consume(std::move(envelope));
}

}  // namespace tributary::processors::k8s_metadata

namespace tributary {

void RegisterProcessorK8sMetadata(core::Registry& registry) {
  using processors::k8s_metadata::K8sMetadataConfig;
  registry.Add(core::MakeFactory<core::Processor, K8sMetadataConfig, core::Signal, core::Consumer*>(
      "k8s_metadata", {core::Signal::kTraces, core::Signal::kMetrics, core::Signal::kLogs},
      "Kubernetes resource attributes from the kubelet log path, the node name, and "
      "optionally pod labels and annotations from the API.",
      [](const core::CreateContext& ctx, const K8sMetadataConfig& config, core::Signal,
         core::Consumer* next) -> absl::StatusOr<std::unique_ptr<core::Processor>> {
        return std::make_unique<processors::k8s_metadata::K8sMetadataProcessor>(ctx.id.ToString(),
                                                                                config, next);
      }));
}

}  // namespace tributary
