#ifndef TRIBUTARY_EXPORTERS_LOADBALANCING_LOADBALANCING_EXPORTER_H_
#define TRIBUTARY_EXPORTERS_LOADBALANCING_LOADBALANCING_EXPORTER_H_

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/aggregation/aggregation.h"
#include "common/otlp/grpc_client.h"
#include "common/tls/client_config.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/exporter_config.h"

namespace tributary::exporters::loadbalancing {

// `protocol.otlp`: how each backend is reached (its endpoint comes from the
// resolver).
struct OtlpProtocolConfig {
  std::string compression = "gzip";
  std::chrono::milliseconds timeout{10000};
  std::map<std::string, std::string> headers;
  common::tls::TlsClientConfig tls;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("compression", compression, "gzip or none");
    v.Optional("timeout", timeout, "deadline of one export call to a backend");
    v.Optional("headers", headers, "gRPC metadata sent with every call");
    v.Optional("tls", tls, "transport security");
  }
};

struct ProtocolConfig {
  OtlpProtocolConfig otlp;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("otlp", otlp, "OTLP/gRPC to every backend");
  }
};

struct StaticResolverConfig {
  std::vector<std::string> hostnames;
  template <class V>
  void VisitFields(V&& v) {
    v.Required("hostnames", hostnames, "the backends, host:port each");
  }
};

struct DnsResolverConfig {
  std::string hostname;
  int64_t port = 4317;
  std::chrono::milliseconds interval{5000};
  std::chrono::milliseconds timeout{1000};
  template <class V>
  void VisitFields(V&& v) {
    v.Required("hostname", hostname, "name whose addresses are the backends (a headless Service)");
    v.Optional("port", port, "port of every backend");
    v.Optional("interval", interval, "how often the name is resolved again");
    v.Optional("timeout", timeout, "how long one resolution may take");
  }
};

struct ResolverConfig {
  std::optional<StaticResolverConfig> static_list;
  std::optional<DnsResolverConfig> dns;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("static", static_list, "a fixed list of backends");
    v.Optional("dns", dns, "backends found by resolving a name");
  }
};

// `exporters.loadbalancing`, keyed as the OpenTelemetry Collector's.
struct LoadBalancingConfig {
  std::string routing_key = "traceID";
  ProtocolConfig protocol;
  ResolverConfig resolver;
  core::QueueConfig sending_queue;
  core::RetryConfig retry_on_failure;
  std::optional<core::DeadLetterConfig> dead_letter;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("routing_key", routing_key,
               "traceID (every span and log record of a trace to one backend) or service (every "
               "record of a service.name to one backend; metrics always go by service)");
    v.Optional("protocol", protocol, "how backends are reached");
    v.Required("resolver", resolver, "where the backends come from: static or dns, one of them");
    v.Optional("sending_queue", sending_queue, "in-memory queue in front of the exporter");
    v.Optional("retry_on_failure", retry_on_failure,
               "retry of retryable failures: only the parts that failed, routed again");
    v.Optional("dead_letter", dead_letter, "where records a backend refuses for good are kept");
  }
  absl::Status Validate() const;
};

// A consistent-hash ring of backends: a key keeps its backend while the
// backends stay, and only the keys of a backend that goes (or a share of
// every backend's, for one that comes) move.
class Ring {
 public:
  explicit Ring(std::vector<std::string> backends);
  // The index into backends() of the backend of `key`; the ring must not be
  // empty.
  size_t Find(std::string_view key) const;
  const std::vector<std::string>& backends() const { return backends_; }
  bool empty() const { return backends_.empty(); }

 private:
  std::vector<std::string> backends_;
  std::vector<std::pair<uint64_t, size_t>> points_;  // sorted by hash
};

// Backend addresses as "address:port", or why there are none.
using Addresses = absl::StatusOr<std::vector<std::string>>;

// Splits each batch over backends by trace id (or service name) on a
// consistent-hash ring, with one OTLP/gRPC client per backend, and sends the
// parts at once. A batch succeeds when every part does; a retry sends only
// the parts that failed, routed again, so to a new backend when the
// resolver's answer changed. The DNS resolver asks every interval; a failed
// or slow answer keeps the backends known.
class LoadBalancingExporter : public core::Exporter {
 public:
  // The backends of a DNS name, "host:port" each; injectable for tests.
  using ResolveFn = std::function<Addresses()>;

  LoadBalancingExporter(std::string id, LoadBalancingConfig config, ResolveFn resolve = nullptr);
  ~LoadBalancingExporter() override;
  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Export(const core::Batch& batch, core::ExportReport& report) noexcept override;
  int MaxConcurrency() const override { return 16; }
  bool ReadsWireForm() const override { return true; }

  // Resolves now (the timer does it every interval).
  void Resolve();
  std::vector<std::string> backends() const;

 private:
  struct Backends {
    Ring ring;
    std::vector<std::shared_ptr<common::otlp::GrpcClient>> clients;  // by ring index
  };
  void SetBackends(std::vector<std::string> endpoints);

  const std::string id_;
  const LoadBalancingConfig config_;
  const ResolveFn resolve_;
  // The lookup still running when its wait ran out: waited for again,
  // instead of starting another, so that a slow name server never gathers
  // lookup threads.
  std::shared_future<Addresses> lookup_;
  mutable std::mutex mu_;
  std::shared_ptr<const Backends> backends_;
  common::aggregation::PeriodicTask resolver_timer_;
};

// Starts resolving `hostname` to its addresses, as "address:port" (IPv6 in
// brackets), sorted. getaddrinfo cannot be cancelled: it runs on a thread of
// its own until it answers.
std::shared_future<Addresses> StartLookup(const std::string& hostname, int port);
// The answer of a lookup, or an error after `timeout`.
Addresses ResolveHost(const std::string& hostname, int port, std::chrono::milliseconds timeout);

}  // namespace tributary::exporters::loadbalancing

#endif  // TRIBUTARY_EXPORTERS_LOADBALANCING_LOADBALANCING_EXPORTER_H_
