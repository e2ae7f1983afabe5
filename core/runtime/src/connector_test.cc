// Connectors in the pipeline graph: how the configuration names them, and
// how data, acknowledgements and accounting pass through them.
#include <atomic>
#include <mutex>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tributary/core/registry.h"
#include "tributary/core/runtime/service.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::core::runtime {
namespace {

using ::testing::HasSubstr;
using testing::MetricValue;

struct NoConfig {
  template <class V>
  void VisitFields(V&&) {}
};

// What the test components of each id were given, per process.
struct Probes {
  std::mutex mu;
  std::map<std::string, ReceiverConsumers> receivers;
  std::map<std::string, std::shared_ptr<testing::RecordingConsumer>> exporters;

  static Probes& Get() {
    static Probes probes;
    return probes;
  }
  Consumer* Receiver(const std::string& id, Signal signal) {
    std::lock_guard<std::mutex> lock(mu);
    return receivers.at(id).For(signal);
  }
  std::shared_ptr<testing::RecordingConsumer> Exporter(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu);
    auto& e = exporters[id];
    if (!e) e = std::make_shared<testing::RecordingConsumer>();
    return e;
  }
};

// A receiver the test pushes envelopes through.
class ProbeReceiver : public Receiver {
 public:
  absl::Status Start() override { return absl::OkStatus(); }
  void Shutdown(Deadline) noexcept override {}
};

// An exporter that hands each batch to its id's RecordingConsumer, whose
// ack status it returns.
class CaptureExporter : public Exporter {
 public:
  explicit CaptureExporter(std::shared_ptr<testing::RecordingConsumer> sink)
      : sink_(std::move(sink)) {}
  absl::Status Start() override { return absl::OkStatus(); }
  void Shutdown(Deadline) noexcept override {}
  absl::Status Export(const Batch& batch, ExportReport&) noexcept override {
    absl::Status status;
    Envelope e{std::make_shared<const Batch>(batch),
               {std::make_shared<Ack>([&](const auto& s) { status = s; })}};
    if (absl::Status s = sink_->Consume(std::move(e)); !s.ok()) return s;
    return status;
  }

 private:
  std::shared_ptr<testing::RecordingConsumer> sink_;
};

void RegisterTestComponents(Registry& registry) {
  RegisterAllComponents(registry);
  const std::set<Signal> all = {Signal::kTraces, Signal::kMetrics, Signal::kLogs};
  registry.Add(MakeFactory<Receiver, NoConfig, const ReceiverConsumers&>(
      "probe", all, "test input",
      [](const CreateContext& ctx, const NoConfig&,
         const ReceiverConsumers& consumers) -> absl::StatusOr<std::unique_ptr<Receiver>> {
        std::lock_guard<std::mutex> lock(Probes::Get().mu);
        Probes::Get().receivers[ctx.id.ToString()] = consumers;
        return std::make_unique<ProbeReceiver>();
      }));
  registry.Add(MakeFactory<Exporter, NoConfig>(
      "capture", all, "test output",
      [](const CreateContext& ctx, const NoConfig&) -> absl::StatusOr<std::unique_ptr<Exporter>> {
        return std::make_unique<CaptureExporter>(Probes::Get().Exporter(ctx.id.ToString()));
      }));
}

class ConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override { RegisterTestComponents(registry_); }
  absl::StatusOr<ServiceConfig> Load(const std::string& text) {
    return LoadConfigText(registry_, text, "c.yaml");
  }
  std::string Errors(const std::string& text) {
    auto config = Load(text);
    return config.ok() ? "valid" : std::string(config.status().message());
  }
  // Sends `n` spans into receiver `id` and waits for their ack.
  absl::Status Send(const std::string& id, int n) {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<absl::Status> result;
    auto ack = std::make_shared<Ack>([&](const absl::Status& s) {
      std::lock_guard<std::mutex> lock(mu);
      result = s;
      cv.notify_all();
    });
    Envelope e{std::make_shared<const Batch>(testing::MakeSpans(n)), {std::move(ack)}};
    absl::Status s = Probes::Get().Receiver(id, Signal::kTraces)->Consume(std::move(e));
    if (!s.ok()) return s;
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(30), [&] { return result.has_value(); })) {
      return absl::DeadlineExceededError("no acknowledgement");
    }
    return *result;
  }
  Registry registry_;
};

constexpr char kComponents[] = R"(receivers:
  probe/a:
  probe/b:
exporters:
  capture/a:
  capture/b:
connectors:
  forward:
  forward/2:
)";

TEST_F(ConnectorTest, ConnectorsSectionIsReadAndBuildOrderPutsDownstreamFirst) {
  auto config = Load(std::string(kComponents) + R"(service:
  pipelines:
    traces/in:
      receivers: [probe/a]
      exporters: [forward]
    traces/middle:
      receivers: [forward]
      exporters: [forward/2, capture/a]
    traces/out:
      receivers: [forward/2, probe/b]
      exporters: [capture/b]
)");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->build_order.size(), 3u);
  std::vector<std::string> order;
  for (size_t i : config->build_order) order.push_back(config->pipelines[i].id);
  EXPECT_THAT(order, ::testing::ElementsAre("traces/out", "traces/middle", "traces/in"));
  EXPECT_TRUE(config->IsConnector(config->pipelines[1].receivers[0]));
  EXPECT_FALSE(config->IsConnector(config->pipelines[2].receivers[1]));
}

TEST_F(ConnectorTest, UnusedOneSidedAndMismatchedConnectorsAreRefusedWithTheirLine) {
  std::string errors = Errors(std::string(kComponents) + R"(service:
  pipelines:
    traces:
      receivers: [probe/a]
      exporters: [forward]
    logs:
      receivers: [forward, probe/b]
      exporters: [capture/a]
)");
  EXPECT_THAT(errors, HasSubstr("c.yaml:9:3: connectors.forward/2: connector is not used by any "
                                "pipeline"));
  EXPECT_THAT(errors, HasSubstr("c.yaml:14:19: service.pipelines.traces.exporters: connector "
                                "'forward' takes traces here, but no traces pipeline lists it "
                                "under receivers"));
  EXPECT_THAT(errors, HasSubstr("c.yaml:16:19: service.pipelines.logs.receivers: connector "
                                "'forward' emits logs here, but no logs pipeline lists it under "
                                "exporters"));
}

TEST_F(ConnectorTest, CyclesAreRefusedWithThePipelinesTheyRunThrough) {
  std::string errors = Errors(std::string(kComponents) + R"(service:
  pipelines:
    traces/a:
      receivers: [probe/a, forward/2]
      exporters: [forward]
    traces/b:
      receivers: [forward]
      exporters: [forward/2, capture/a]
)");
  EXPECT_THAT(errors, HasSubstr("service.pipelines.traces/"));
  EXPECT_THAT(errors, HasSubstr("closes a cycle of pipelines: traces/"));
  EXPECT_THAT(Errors(std::string(kComponents) + R"(service:
  pipelines:
    traces:
      receivers: [probe/a, forward]
      exporters: [forward, capture/a]
    logs: {receivers: [forward/2], exporters: [forward/2]}
)"),
              HasSubstr("c.yaml:14:19: service.pipelines.traces.exporters: connector 'forward' "
                        "closes a cycle of pipelines: traces -> traces"));
}

TEST_F(ConnectorTest, NamesAreCheckedAgainstReceiversExportersAndConnectors) {
  std::string errors = Errors(R"(receivers: {probe: , forward: {}}
exporters: {capture: }
connectors: {forward: , forwarder: , nope: }
service:
  pipelines:
    traces: {receivers: [forward], exporters: [capture, forwad]}
    logs: {receivers: [probe], processors: [forward], exporters: [capture]}
)");
  // A receiver type is not a connector type; forward/forwarder then go unused.
  EXPECT_THAT(errors, HasSubstr("receivers.forward: unknown type 'forward'"));
  EXPECT_THAT(errors, HasSubstr("connectors.forwarder: unknown type 'forwarder'"));
  EXPECT_THAT(errors, HasSubstr("connectors.nope: unknown type 'nope'"));
  EXPECT_THAT(errors, HasSubstr("references exporter 'forwad', which is not defined (did you "
                                "mean 'forward'?)"));
  EXPECT_THAT(errors, HasSubstr("references processor 'forward', which is not defined"));
}

TEST_F(ConnectorTest, ForwardPassesDataAndAcknowledgementsThroughAndCountsThem) {
  auto config = Load(R"(receivers: {probe/a: , probe/b: }
exporters: {capture/a: , capture/b: }
connectors: {forward: }
service:
  admin: {endpoint: ""}
  pipelines:
    traces/in:
      receivers: [probe/a]
      exporters: [forward]
    traces/x:
      receivers: [forward]
      exporters: [capture/a]
    traces/y:
      receivers: [forward, probe/b]
      exporters: [capture/b]
)");
  ASSERT_TRUE(config.ok()) << config.status();
  const double sent_before = MetricValue("tributary_exporter_sent_records_total",
                                         {{"exporter", "forward"}, {"signal", "spans"}});
  const double received_x =
      MetricValue("tributary_pipeline_received_records_total", {{"pipeline", "traces/x"}});
  auto a = Probes::Get().Exporter("capture/a");
  auto b = Probes::Get().Exporter("capture/b");
  const size_t a_before = a->records(), b_before = b->records();
  Service service(registry_, std::move(*config), "tributary-test");
  ASSERT_TRUE(service.Start().ok());
  EXPECT_TRUE(Send("probe/a", 5).ok());
  EXPECT_EQ(a->records(), a_before + 5);
  EXPECT_EQ(b->records(), b_before + 5);
  EXPECT_TRUE(Send("probe/b", 2).ok());
  EXPECT_EQ(b->records(), b_before + 7);
  EXPECT_EQ(MetricValue("tributary_exporter_sent_records_total",
                        {{"exporter", "forward"}, {"signal", "spans"}}),
            sent_before + 5);
  EXPECT_EQ(MetricValue("tributary_pipeline_received_records_total", {{"pipeline", "traces/x"}}),
            received_x + 5);
  // A downstream failure reaches the upstream sender.
  a->ack_status = absl::InvalidArgumentError("refused by the peer");
  EXPECT_EQ(Send("probe/a", 1).code(), absl::StatusCode::kInvalidArgument);
  a->ack_status = absl::OkStatus();
  EXPECT_THAT(service.StatusText(), HasSubstr("traces/y: receivers [forward, probe/b]"));
  service.Shutdown();
}

TEST_F(ConnectorTest, AtShutdownAnAggregatingConnectorEmitsIntoPipelinesStillRunning) {
  // Drain goes upstream first: the traces pipeline stops, the connectors
  // then emit what they folded, and only then do the metrics pipeline and
  // its exporter stop, so the last points still reach it.
  auto config = Load(R"(receivers: {probe/a: }
exporters: {capture/a: }
connectors:
  spanmetrics: {metrics_flush_interval: 1h}
  servicegraph: {metrics_flush_interval: 1h}
service:
  admin: {endpoint: ""}
  pipelines:
    traces:
      receivers: [probe/a]
      exporters: [spanmetrics, servicegraph]
    metrics:
      receivers: [spanmetrics, servicegraph]
      exporters: [capture/a]
)");
  ASSERT_TRUE(config.ok()) << config.status();
  auto a = Probes::Get().Exporter("capture/a");
  const size_t before = a->batches().size();
  Service service(registry_, std::move(*config), "tributary-test");
  ASSERT_TRUE(service.Start().ok());
  EXPECT_TRUE(Send("probe/a", 5).ok());
  EXPECT_EQ(a->batches().size(), before);  // nothing emitted before the hour
  service.Shutdown();
  std::vector<Batch> batches = a->batches();
  std::set<std::string> names;
  for (size_t i = before; i < batches.size(); ++i) {
    for (const auto& rm : batches[i].metrics().resource_metrics()) {
      for (const auto& sm : rm.scope_metrics()) {
        for (const auto& m : sm.metrics()) names.insert(m.name());
      }
    }
  }
  EXPECT_TRUE(names.count("traces.span.metrics.calls")) << ::testing::PrintToString(names);
}

TEST_F(ConnectorTest, WithBuffersTheUpstreamSettlesWhenDownstreamHasWrittenIt) {
  testing::TempDir dir;
  auto config = Load(R"(receivers: {probe/buffered: }
exporters: {capture/buffered: }
connectors: {forward/buffered: }
service:
  admin: {endpoint: ""}
  buffer: {directory: )" +
                     dir.path() + R"(, fsync: never}
  pipelines:
    traces/in: {receivers: [probe/buffered], exporters: [forward/buffered]}
    traces/out: {receivers: [forward/buffered], exporters: [capture/buffered]}
)");
  ASSERT_TRUE(config.ok()) << config.status();
  auto out = Probes::Get().Exporter("capture/buffered");
  Service service(registry_, std::move(*config), "tributary-test");
  ASSERT_TRUE(service.Start().ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Send("probe/buffered", 10).ok());
  EXPECT_TRUE(out->WaitForRecords(200, std::chrono::seconds(30)));
  service.Shutdown();
  EXPECT_EQ(out->records(), 200u);
  EXPECT_EQ(MetricValue("tributary_exporter_sent_records_total",
                        {{"exporter", "forward/buffered"}, {"signal", "spans"}}),
            200);
  EXPECT_EQ(MetricValue("tributary_pipeline_received_records_total", {{"pipeline", "traces/out"}}),
            200);
  // Each pipeline wrote its own buffer.
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() + "/traces_in"));
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() + "/traces_out"));
}

}  // namespace
}  // namespace tributary::core::runtime
