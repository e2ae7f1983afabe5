#include "exporters/loadbalancing/loadbalancing_exporter.h"

#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "receivers/otlp/otlp_receiver.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::exporters::loadbalancing {
namespace {

using ::testing::HasSubstr;

// A real OTLP/gRPC backend: our receiver into a recording consumer.
struct Backend {
  Backend() {
    receivers::otlp::OtlpReceiverConfig rc;
    rc.protocols.grpc->endpoint = "127.0.0.1:0";
    rc.protocols.http.reset();
    core::ReceiverConsumers consumers;
    consumers.traces = &sink;
    consumers.metrics = &sink;
    consumers.logs = &sink;
    receiver = std::make_unique<receivers::otlp::OtlpReceiver>("otlp", rc, consumers);
    EXPECT_TRUE(receiver->Start().ok());
    endpoint = absl::StrCat("127.0.0.1:", receiver->grpc_port());
  }
  ~Backend() { receiver->Shutdown(core::Clock::now() + std::chrono::seconds(1)); }
  // Trace id -> spans received.
  std::map<std::string, int> Traces() {
    std::map<std::string, int> out;
    for (const core::Batch& b : sink.batches()) {
      if (b.signal() != core::Signal::kTraces) continue;
      for (const auto& rs : b.traces().resource_spans()) {
        for (const auto& ss : rs.scope_spans()) {
          for (const auto& s : ss.spans()) out[s.trace_id()]++;
        }
      }
    }
    return out;
  }
  // Log record bodies received: "<service>/<body>".
  std::set<std::string> Logs() {
    std::set<std::string> out;
    for (const core::Batch& b : sink.batches()) {
      if (b.signal() != core::Signal::kLogs) continue;
      for (const auto& rl : b.logs().resource_logs()) {
        const std::string service = rl.resource().attributes(0).value().string_value();
        for (const auto& sl : rl.scope_logs()) {
          for (const auto& l : sl.log_records())
            out.insert(service + "/" + l.body().string_value());
        }
      }
    }
    return out;
  }
  core::testing::RecordingConsumer sink;
  std::unique_ptr<receivers::otlp::OtlpReceiver> receiver;
  std::string endpoint;
};

// The id of test trace `t`.
std::string TraceId(int t) {
  std::string id(16, '\x01');
  id[0] = static_cast<char>(t);
  id[1] = static_cast<char>(t >> 8);
  return id;
}

// `traces` traces of `spans` spans each, over two services.
core::Batch Traces(int traces, int spans, int first = 0) {
  core::TracesRequest r;
  for (int service = 0; service < 2; ++service) {
    auto* rs = r.add_resource_spans();
    auto* kv = rs->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value(absl::StrCat("service-", service));
    auto* ss = rs->add_scope_spans();
    for (int t = first; t < first + traces; ++t) {
      for (int s = 0; s < spans; ++s) {
        if (s % 2 != service) continue;
        auto* span = ss->add_spans();
        span->set_trace_id(TraceId(t));
        span->set_span_id(std::string(8, static_cast<char>(s + 1)));
        span->set_name("op");
      }
    }
  }
  return core::Batch(std::move(r));
}

LoadBalancingConfig StaticConfig(const std::vector<Backend*>& backends) {
  LoadBalancingConfig config;
  config.resolver.static_list.emplace();
  for (Backend* b : backends) config.resolver.static_list->hostnames.push_back(b->endpoint);
  config.protocol.otlp.tls.insecure = true;
  config.protocol.otlp.timeout = std::chrono::seconds(5);
  return config;
}

TEST(LoadBalancingTest, EveryTraceGoesWholeToOneBackendAndAllBackendsShare) {
  Backend a, b, c;
  LoadBalancingExporter exporter("loadbalancing", StaticConfig({&a, &b, &c}));
  ASSERT_TRUE(exporter.Start().ok());
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(Traces(300, 4), report).ok());
  ASSERT_TRUE(exporter.Export(Traces(300, 2, 0), report).ok());  // more spans of the same traces
  std::map<std::string, int> where;
  int total = 0;
  for (Backend* backend : {&a, &b, &c}) {
    auto traces = backend->Traces();
    EXPECT_GT(traces.size(), 50u);  // each takes a share
    for (const auto& [id, n] : traces) {
      EXPECT_EQ(where.count(id), 0u) << "trace on two backends";
      where[id] = n;
      total += n;
    }
  }
  EXPECT_EQ(where.size(), 300u);
  EXPECT_EQ(total, 300 * 6);
  for (const auto& [id, n] : where) EXPECT_EQ(n, 6);
}

TEST(LoadBalancingTest, RoutingByServiceKeepsEachServiceOnOneBackend) {
  Backend a, b, c;
  LoadBalancingConfig config = StaticConfig({&a, &b, &c});
  config.routing_key = "service";
  LoadBalancingExporter exporter("loadbalancing", config);
  ASSERT_TRUE(exporter.Start().ok());
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(Traces(100, 2), report).ok());
  // Service -> the backends its spans reached.
  std::map<std::string, std::set<std::string>> where;
  for (Backend* backend : {&a, &b, &c}) {
    for (const core::Batch& batch : backend->sink.batches()) {
      for (const auto& rs : batch.traces().resource_spans()) {
        where[rs.resource().attributes(0).value().string_value()].insert(backend->endpoint);
      }
    }
  }
  ASSERT_EQ(where.size(), 2u);
  for (const auto& [service, backends] : where) EXPECT_EQ(backends.size(), 1u) << service;
}

TEST(LoadBalancingTest, ARetrySendsOnlyTheFailedPartAgainRoutedAnew) {
  Backend a, b, c;
  std::vector<std::string> answer = {a.endpoint, b.endpoint, c.endpoint};
  LoadBalancingConfig config = StaticConfig({&a});
  config.resolver.static_list.reset();
  config.resolver.dns.emplace();
  config.resolver.dns->hostname = "backends.test";
  bool fail = false;
  LoadBalancingExporter exporter(
      "loadbalancing", config, [&]() -> absl::StatusOr<std::vector<std::string>> {
        if (fail) return absl::DeadlineExceededError("no answer from the name server");
        return answer;
      });
  ASSERT_TRUE(exporter.Start().ok());
  EXPECT_EQ(exporter.backends().size(), 3u);
  b.sink.refuse_status = absl::UnavailableError("b is down");
  core::ExportReport report;
  absl::Status s = exporter.Export(Traces(300, 2), report);
  EXPECT_TRUE(core::IsRetryable(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(b.endpoint));
  ASSERT_TRUE(report.retry.has_value());
  const size_t on_a = a.Traces().size(), on_c = c.Traces().size();
  EXPECT_EQ(report.retry->record_count(), 600 - 2 * (on_a + on_c));
  // b leaves the answer: the retry goes to a and c, and only b's traces.
  answer = {a.endpoint, c.endpoint};
  exporter.Resolve();
  EXPECT_EQ(exporter.backends().size(), 2u);
  core::ExportReport retry_report;
  retry_report.attempt = 1;
  ASSERT_TRUE(exporter.Export(*report.retry, retry_report).ok());
  std::map<std::string, int> all;
  for (Backend* backend : {&a, &c}) {
    for (const auto& [id, n] : backend->Traces()) {
      EXPECT_EQ(all.count(id), 0u);
      all[id] = n;
    }
  }
  EXPECT_EQ(all.size(), 300u);
  for (const auto& [id, n] : all) EXPECT_EQ(n, 2) << "a trace sent twice or split";
  // A resolution that fails, or answers nothing, keeps the backends known.
  answer = {};
  exporter.Resolve();
  EXPECT_EQ(exporter.backends().size(), 2u);
  fail = true;
  answer = {a.endpoint};
  exporter.Resolve();
  EXPECT_EQ(exporter.backends().size(), 2u);
  exporter.Shutdown(core::Clock::now());
}

TEST(LoadBalancingTest, APartRefusedForGoodIsHandedBackForTheDeadLetterFile) {
  Backend a, b;
  LoadBalancingExporter exporter("loadbalancing", StaticConfig({&a, &b}));
  ASSERT_TRUE(exporter.Start().ok());
  b.sink.refuse_status = absl::InvalidArgumentError("b takes none of it");
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(Traces(200, 2), report).ok());
  EXPECT_FALSE(report.retry.has_value());
  ASSERT_TRUE(report.rejected.has_value());
  const size_t delivered = 2 * a.Traces().size();
  EXPECT_GT(delivered, 0u);
  EXPECT_EQ(report.rejected->record_count(), 400 - delivered);
  EXPECT_EQ(report.rejected_records, 400 - delivered);
  EXPECT_THAT(report.rejected_reason, HasSubstr(b.endpoint));
  // The rejected part holds whole traces, none of those a received.
  std::map<std::string, int> rejected;
  for (const auto& rs : report.rejected->traces().resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) rejected[span.trace_id()]++;
    }
  }
  const auto on_a = a.Traces();
  for (const auto& [id, n] : rejected) {
    EXPECT_EQ(n, 2);
    EXPECT_EQ(on_a.count(id), 0u);
  }
  EXPECT_EQ(rejected.size() + on_a.size(), 200u);
  exporter.Shutdown(core::Clock::now());
}

TEST(LoadBalancingTest, LogsFollowTheirTraceAndWithoutOneTheirService) {
  Backend a, b, c;
  LoadBalancingExporter exporter("loadbalancing", StaticConfig({&a, &b, &c}));
  ASSERT_TRUE(exporter.Start().ok());
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(Traces(100, 2), report).ok());
  // For each trace, a log record with its id; and 50 records of each
  // service without one.
  core::LogsRequest r;
  for (int service = 0; service < 2; ++service) {
    auto* rl = r.add_resource_logs();
    auto* kv = rl->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value(absl::StrCat("service-", service));
    auto* sl = rl->add_scope_logs();
    for (int t = 0; t < 100; ++t) {
      if (t % 2 != service) continue;
      auto* l = sl->add_log_records();
      l->set_trace_id(TraceId(t));
      l->mutable_body()->set_string_value(absl::StrCat("trace-", t));
    }
    for (int i = 0; i < 50; ++i) {
      sl->add_log_records()->mutable_body()->set_string_value(absl::StrCat("plain-", i));
    }
  }
  ASSERT_TRUE(exporter.Export(core::Batch(std::move(r)), report).ok());
  size_t logs = 0;
  std::map<std::string, std::set<Backend*>> plain_backends;  // service -> backends
  for (Backend* backend : {&a, &b, &c}) {
    const auto traces = backend->Traces();
    for (const std::string& log : backend->Logs()) {
      ++logs;
      const std::string service = log.substr(0, log.find('/'));
      const std::string body = log.substr(log.find('/') + 1);
      if (body.rfind("trace-", 0) == 0) {
        const int t = std::stoi(body.substr(6));
        EXPECT_EQ(traces.count(TraceId(t)), 1u) << body << " is not where its trace's spans are";
      } else {
        plain_backends[service].insert(backend);
      }
    }
  }
  EXPECT_EQ(logs, 200u);
  ASSERT_EQ(plain_backends.size(), 2u);
  for (const auto& [service, backends] : plain_backends) {
    EXPECT_EQ(backends.size(), 1u) << service << "'s records without a trace were split";
  }
  exporter.Shutdown(core::Clock::now());
}

TEST(LoadBalancingTest, MetricsGoByServiceAndLocalhostResolves) {
  Backend a, b;
  LoadBalancingExporter exporter("loadbalancing", StaticConfig({&a, &b}));
  ASSERT_TRUE(exporter.Start().ok());
  core::MetricsRequest r;
  for (int service = 0; service < 20; ++service) {
    auto* rm = r.add_resource_metrics();
    auto* kv = rm->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value(absl::StrCat("s", service));
    auto* m = rm->add_scope_metrics()->add_metrics();
    m->set_name("up");
    m->mutable_gauge()->add_data_points()->set_as_int(1);
  }
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(core::Batch(std::move(r)), report).ok());
  EXPECT_GT(a.sink.records(), 0u);
  EXPECT_GT(b.sink.records(), 0u);
  EXPECT_EQ(a.sink.records() + b.sink.records(), 20u);

  auto local = ResolveHost("localhost", 4317, std::chrono::seconds(5));
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_THAT(*local, ::testing::Contains(::testing::AnyOf("127.0.0.1:4317", "[::1]:4317")));
  EXPECT_FALSE(ResolveHost("no-such-host.invalid", 4317, std::chrono::seconds(5)).ok());
}

TEST(LoadBalancingConfigTest, OneResolverAndAKnownRoutingKey) {
  auto errors = [](const std::string& yaml) {
    core::ConfigErrors e;
    LoadBalancingConfig config;
    core::FieldReader::ReadStruct(YAML::Load(yaml), "c.yaml", "exporters.loadbalancing", &e,
                                  config);
    return e.ToString();
  };
  EXPECT_EQ(errors("resolver: {static: {hostnames: [a:4317, b:4317]}}\n"
                   "protocol: {otlp: {tls: {insecure: true}, timeout: 2s}}\nrouting_key: service"),
            "");
  EXPECT_EQ(
      errors("resolver: {dns: {hostname: collectors, port: 4317, interval: 5s, timeout: 1s}}"), "");
  EXPECT_THAT(errors("resolver: {static: {hostnames: [a:1]}, dns: {hostname: x}}"),
              HasSubstr("exporters.loadbalancing: resolver: give exactly one of static and dns"));
  EXPECT_THAT(errors("resolver: {}"), HasSubstr("give exactly one of static and dns"));
  EXPECT_THAT(errors("routing_key: spanID\nresolver: {static: {hostnames: [a:1]}}"),
              HasSubstr("routing_key must be traceID or service"));
  EXPECT_THAT(errors("resolver: {k8s: {service: x}}"),
              HasSubstr("exporters.loadbalancing.resolver.k8s: unknown key"));
}

}  // namespace
}  // namespace tributary::exporters::loadbalancing
