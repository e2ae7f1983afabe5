#ifndef TRIBUTARY_COMMON_K8S_POD_WATCHER_H_
#define TRIBUTARY_COMMON_K8S_POD_WATCHER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/http/http_client.h"

namespace tributary::common::k8s {

// What the API says about one pod.
struct PodMeta {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string ip;  // status.podIP
};

struct PodWatcherOptions {
  std::string endpoint;  // https://host:port, or http:// in tests
  std::string token_file;
  std::string ca_file;
  std::string node_name;
  bool annotations = false;
  size_t max_pods = 1000;
  std::chrono::milliseconds backoff{1000};
  std::chrono::seconds watch_timeout{300};
  std::chrono::milliseconds deleted_grace{std::chrono::minutes(5)};
};

struct ApiConfig {
  std::string endpoint;
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  bool labels = true;
  bool annotations = false;
  int64_t max_pods = 1000;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("endpoint", endpoint,
               "API server URL; empty uses https://$KUBERNETES_SERVICE_HOST:"
               "$KUBERNETES_SERVICE_PORT (in-cluster)");
    v.Optional("token_file", token_file, "service-account token, read again on each connection");
    v.Optional("ca_file", ca_file, "CA bundle of the API server");
    v.Optional("labels", labels, "add pod labels as k8s.pod.label.<key>");
    v.Optional("annotations", annotations, "add pod annotations as k8s.pod.annotation.<key>");
    v.Optional("max_pods", max_pods, "pods kept in the cache at most");
  }
  absl::Status Validate() const {
    if (max_pods < 1) return absl::InvalidArgumentError("max_pods must be >= 1");
    return absl::OkStatus();
  }
};

// The watcher options for `api` on node `node_name`: in-cluster endpoint from
// KUBERNETES_SERVICE_HOST/PORT when api.endpoint is empty.
absl::StatusOr<PodWatcherOptions> WatcherOptions(const ApiConfig& api,
                                                 const std::string& node_name);

// Lists and watches the pods of one node (fieldSelector spec.nodeName) and
// keeps their labels and annotations, at most max_pods of them. A watch that
// ends is resumed from the last resourceVersion seen; 410 Gone (that version
// is too old) starts over with a fresh list. Deleted pods are kept for a
// grace period, since their last lines are still being read. One thread of
// its own; Lookup is called from pipeline threads.
class PodWatcher {
 public:
  explicit PodWatcher(PodWatcherOptions options);
  ~PodWatcher();

  void Start();
  void Stop();

  std::shared_ptr<const PodMeta> ByUid(const std::string& uid) const;
  std::shared_ptr<const PodMeta> ByName(const std::string& namespace_name,
                                        const std::string& name) const;
  size_t size() const;
  // Waits until the first list has been applied, at most `timeout`; whether
  // it was.
  bool WaitForList(std::chrono::milliseconds timeout) const;
  // The pods known now, deleted ones in their grace period left out.
  std::vector<std::shared_ptr<const PodMeta>> Pods() const;
  // Counters for self-metrics and tests.
  uint64_t lists() const { return lists_.load(); }
  uint64_t watch_events() const { return events_.load(); }

  // Applies one watch event line (JSON); public for tests and the fuzzer.
  // Returns kFailedPrecondition for 410 Gone, another error for a bad line.
  absl::Status ApplyEvent(std::string_view line);
  // Replaces the cache with a pod list response body.
  absl::Status ApplyList(std::string_view body);

 private:
  void Run();
  absl::Status List();
  absl::Status Watch();
  absl::Status Get(const std::string& url, bool stream, std::string* body, long* code);
  void Upsert(std::shared_ptr<PodMeta> pod);
  void Remove(const std::string& uid);
  void Sleep(std::chrono::milliseconds d);

  const PodWatcherOptions options_;
  common::http::Client client_;
  mutable std::mutex mu_;
  mutable std::condition_variable listed_cv_;  // a list was applied (with mu_)
  std::map<std::string, std::shared_ptr<const PodMeta>> by_uid_;
  std::map<std::pair<std::string, std::string>, std::string> uid_by_name_;
  std::map<std::string, std::chrono::steady_clock::time_point> deleted_;
  std::string resource_version_;

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::atomic<uint64_t> lists_{0};
  std::atomic<uint64_t> events_{0};
};

}  // namespace tributary::common::k8s

#endif  // TRIBUTARY_COMMON_K8S_POD_WATCHER_H_
