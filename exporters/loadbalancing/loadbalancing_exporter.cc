#include "exporters/loadbalancing/loadbalancing_exporter.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/otlp/wire_request.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"
#include "tributary/core/wire.h"

namespace tributary::exporters::loadbalancing {

namespace {

using common::aggregation::Hash64;
using common::otlp::WireRef;

constexpr int kPointsPerBackend = 160;

}  // namespace

absl::Status LoadBalancingConfig::Validate() const {
  if (routing_key != "traceID" && routing_key != "service") {
    return absl::InvalidArgumentError("routing_key must be traceID or service");
  }
  if (resolver.static_list.has_value() == resolver.dns.has_value()) {
    return absl::InvalidArgumentError("resolver: give exactly one of static and dns");
  }
  if (resolver.static_list && resolver.static_list->hostnames.empty()) {
    return absl::InvalidArgumentError("resolver.static.hostnames must not be empty");
  }
  if (resolver.dns) {
    if (resolver.dns->hostname.empty()) {
      return absl::InvalidArgumentError("resolver.dns.hostname must not be empty");
    }
    if (resolver.dns->port < 1 || resolver.dns->port > 65535) {
      return absl::InvalidArgumentError("resolver.dns.port must be 1-65535");
    }
    if (resolver.dns->interval.count() <= 0 || resolver.dns->timeout.count() <= 0) {
      return absl::InvalidArgumentError("resolver.dns.interval and timeout must be positive");
    }
  }
  const auto& otlp = protocol.otlp;
  if (otlp.compression != "gzip" && otlp.compression != "none" && !otlp.compression.empty()) {
    return absl::InvalidArgumentError("protocol.otlp.compression must be gzip or none");
  }
  if (otlp.timeout.count() <= 0) {
    return absl::InvalidArgumentError("protocol.otlp.timeout must be > 0");
  }
  return common::tls::ValidateFor(otlp.tls, {.client = "the loadbalancing exporter",
                                             .server_name_override = true,
                                             .insecure_skip_verify = false});
}

Ring::Ring(std::vector<std::string> backends) : backends_(std::move(backends)) {
  std::sort(backends_.begin(), backends_.end());
  backends_.erase(std::unique(backends_.begin(), backends_.end()), backends_.end());
  for (size_t b = 0; b < backends_.size(); ++b) {
    for (int i = 0; i < kPointsPerBackend; ++i) {
      points_.emplace_back(Hash64(backends_[b], absl::StrCat("#", i)), b);
    }
  }
  std::sort(points_.begin(), points_.end());
}

size_t Ring::Find(std::string_view key) const {
  const uint64_t h = Hash64(key);
  auto it = std::lower_bound(points_.begin(), points_.end(), std::make_pair(h, size_t{0}));
  if (it == points_.end()) it = points_.begin();
  return it->second;
}

std::shared_future<Addresses> StartLookup(const std::string& hostname, int port) {
  auto result = std::make_shared<std::promise<Addresses>>();
  std::shared_future<Addresses> answer = result->get_future().share();
  std::thread([hostname, port, result] {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    const int rc = getaddrinfo(hostname.c_str(), nullptr, &hints, &list);
    if (rc != 0) {
      result->set_value(absl::UnavailableError(
          absl::StrCat("cannot resolve ", hostname, ": ", gai_strerror(rc))));
      return;
    }
    std::vector<std::string> out;
    for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
      char text[INET6_ADDRSTRLEN] = {};
      if (a->ai_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, text,
                  sizeof(text));
        out.push_back(absl::StrCat(text, ":", port));
      } else if (a->ai_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, text,
                  sizeof(text));
        out.push_back(absl::StrCat("[", text, "]:", port));
      }
    }
    freeaddrinfo(list);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    result->set_value(std::move(out));
  }).detach();
  return answer;
}

Addresses ResolveHost(const std::string& hostname, int port, std::chrono::milliseconds timeout) {
  std::shared_future<Addresses> answer = StartLookup(hostname, port);
  if (answer.wait_for(timeout) != std::future_status::ready) {
    return absl::DeadlineExceededError(
        absl::StrCat("resolving ", hostname, " took over ", timeout.count(), " ms"));
  }
  return answer.get();
}

LoadBalancingExporter::LoadBalancingExporter(std::string id, LoadBalancingConfig config,
                                             ResolveFn resolve)
    : id_(std::move(id)), config_(std::move(config)), resolve_(std::move(resolve)) {
  backends_ = std::make_shared<Backends>(Backends{Ring({}), {}});
}

LoadBalancingExporter::~LoadBalancingExporter() { resolver_timer_.Stop(); }

absl::Status LoadBalancingExporter::Start() {
  if (config_.resolver.static_list) {
    SetBackends(config_.resolver.static_list->hostnames);
    return absl::OkStatus();
  }
  // A name that does not resolve yet is no reason not to start: the timer
  // asks again, and exports wait for backends as retryable failures.
  Resolve();
  resolver_timer_.Start(config_.resolver.dns->interval, [this] { Resolve(); });
  return absl::OkStatus();
}

void LoadBalancingExporter::Shutdown(core::Deadline) noexcept { resolver_timer_.Stop(); }

void LoadBalancingExporter::Resolve() {
  Addresses answer = absl::UnknownError("not resolved");
  if (resolve_) {
    answer = resolve_();
  } else {
    const auto& dns = *config_.resolver.dns;
    if (!lookup_.valid()) lookup_ = StartLookup(dns.hostname, static_cast<int>(dns.port));
    if (lookup_.wait_for(dns.timeout) == std::future_status::ready) {
      answer = lookup_.get();
      lookup_ = {};
    } else {
      answer = absl::DeadlineExceededError(absl::StrCat(
          "resolving ", dns.hostname, " took over ", dns.timeout.count(), " ms (still waiting)"));
    }
  }
  if (!answer.ok()) {
    core::Log(core::LogLevel::kWarn, id_, "resolving the backends failed; keeping the known ones",
              absl::StrCat("error=\"", answer.status().message(), "\""));
    return;
  }
  if (answer->empty()) {
    core::Log(core::LogLevel::kWarn, id_,
              "the backends' name resolved to nothing; keeping the known ones");
    return;
  }
  SetBackends(std::move(*answer));
}

std::vector<std::string> LoadBalancingExporter::backends() const {
  std::lock_guard<std::mutex> lock(mu_);
  return backends_->ring.backends();
}

void LoadBalancingExporter::SetBackends(std::vector<std::string> endpoints) {
  Ring ring(std::move(endpoints));
  std::lock_guard<std::mutex> lock(mu_);
  if (ring.backends() == backends_->ring.backends()) return;
  auto next = std::make_shared<Backends>(Backends{std::move(ring), {}});
  for (const std::string& endpoint : next->ring.backends()) {
    // A backend that stays keeps its client (and connection).
    std::shared_ptr<common::otlp::GrpcClient> client;
    for (size_t i = 0; i < backends_->clients.size(); ++i) {
      if (backends_->ring.backends()[i] == endpoint) client = backends_->clients[i];
    }
    if (!client) {
      const OtlpProtocolConfig& p = config_.protocol.otlp;
      common::otlp::GrpcClientSettings settings;
      settings.endpoint = endpoint;
      settings.compression = p.compression;
      settings.timeout = p.timeout;
      settings.headers = p.headers;
      settings.tls = p.tls;
      client = std::make_shared<common::otlp::GrpcClient>(std::move(settings));
      if (absl::Status s = client->Start(); !s.ok()) {
        core::Log(core::LogLevel::kError, id_, "cannot make a client for a backend",
                  absl::StrCat("backend=", endpoint, " error=\"", s.message(), "\""));
      }
    }
    next->clients.push_back(std::move(client));
  }
  core::Log(core::LogLevel::kInfo, id_, "backends",
            absl::StrCat("count=", next->ring.backends().size()));
  backends_ = std::move(next);
}

absl::Status LoadBalancingExporter::Export(const core::Batch& batch,
                                           core::ExportReport& report) noexcept {
  std::shared_ptr<const Backends> backends;
  {
    std::lock_guard<std::mutex> lock(mu_);
    backends = backends_;
  }
  if (backends->ring.empty()) return absl::UnavailableError("no backends resolved yet");
  // The batch is split on its serialized form: each part is composed from
  // the bytes of its records and sent as they are.
  std::string scratch;
  common::otlp::WireRequest request;
  if (!request.Read(core::wire::SerializedRequest(batch, &scratch))) {
    return absl::InvalidArgumentError("the batch is not a valid OTLP request");
  }
  const core::Signal signal = batch.signal();
  const bool by_trace = config_.routing_key == "traceID" && signal != core::Signal::kMetrics;
  std::vector<std::vector<WireRef>> parts(backends->ring.backends().size());
  // The spans of a trace mostly come one after another: the last key's
  // backend is kept.
  std::string_view last_key;
  size_t last_backend = 0;
  bool have_last = false;
  for (uint32_t r = 0; r < request.resources(); ++r) {
    const std::string service =
        core::wire::StringAttribute(request.resource(r), 1, "service.name").value_or("");
    have_last = false;  // `service` is about to change
    for (uint32_t s = 0; s < request.scopes(r); ++s) {
      for (uint32_t i = 0; i < request.records(r, s); ++i) {
        const WireRef ref{r, s, i};
        std::string_view key = service;
        if (by_trace) {
          const std::string_view id = signal == core::Signal::kTraces
                                          ? common::otlp::SpanTraceId(request.record(ref))
                                          : common::otlp::LogTraceId(request.record(ref));
          if (!id.empty()) key = id;
        }
        if (!have_last || key != last_key) {
          last_key = key;
          last_backend = backends->ring.Find(key);
          have_last = true;
        }
        parts[last_backend].push_back(ref);
      }
    }
  }
  auto compose = [&](const std::vector<WireRef>& refs) {
    std::string bytes = request.Compose(refs);
    const size_t records = signal == core::Signal::kMetrics
                               ? core::wire::CountOtlpRecords(signal, bytes).value_or(0)
                               : refs.size();
    return core::Batch(signal, std::move(bytes), records);
  };
  // Every backend's part at once.
  std::vector<std::optional<core::Batch>> batches(parts.size());
  std::vector<std::shared_ptr<common::otlp::GrpcClient::Call>> calls(parts.size());
  for (size_t b = 0; b < parts.size(); ++b) {
    if (parts[b].empty()) continue;
    batches[b] = compose(parts[b]);
    calls[b] = backends->clients[b]->Send(*batches[b]);
  }
  absl::Status result;
  std::vector<WireRef> failed;
  for (size_t b = 0; b < parts.size(); ++b) {
    if (!calls[b]) continue;
    common::otlp::GrpcClient::Result sent = calls[b]->Wait();
    report.rejected_records += sent.report.rejected_records;
    if (!sent.report.rejected_reason.empty()) report.rejected_reason = sent.report.rejected_reason;
    if (sent.status.ok()) continue;
    if (core::IsRetryable(sent.status)) {
      // Only this part goes again, routed again.
      failed.insert(failed.end(), parts[b].begin(), parts[b].end());
      if (result.ok()) {
        result = absl::Status(
            sent.status.code(),
            absl::StrCat("backend ", backends->ring.backends()[b], ": ", sent.status.message()));
      }
    } else {
      // Refused for good by this backend: the part goes to the dead-letter file.
      report.rejected_records += batches[b]->record_count();
      report.rejected_reason =
          absl::StrCat("backend ", backends->ring.backends()[b], ": ", sent.status.message());
      if (report.rejected) {
        report.rejected->Append(*batches[b]);
      } else {
        report.rejected = std::move(*batches[b]);
      }
    }
  }
  if (!result.ok()) {
    std::sort(failed.begin(), failed.end(), [](const WireRef& x, const WireRef& y) {
      return std::tie(x.resource, x.scope, x.record) < std::tie(y.resource, y.scope, y.record);
    });
    report.retry = compose(failed);
  }
  return result;
}

}  // namespace tributary::exporters::loadbalancing

namespace tributary {

void RegisterExporterLoadbalancing(core::Registry& registry) {
  using exporters::loadbalancing::LoadBalancingConfig;
  registry.Add(core::MakeFactory<core::Exporter, LoadBalancingConfig>(
      "loadbalancing", {core::Signal::kTraces, core::Signal::kMetrics, core::Signal::kLogs},
      "OTLP/gRPC to several backends, each trace (or service) always to the same one by a "
      "consistent-hash ring, the backends listed or found by DNS.",
      [](const core::CreateContext& ctx,
         const LoadBalancingConfig& config) -> absl::StatusOr<std::unique_ptr<core::Exporter>> {
        return std::make_unique<exporters::loadbalancing::LoadBalancingExporter>(ctx.id.ToString(),
                                                                                 config);
      }));
}

}  // namespace tributary
