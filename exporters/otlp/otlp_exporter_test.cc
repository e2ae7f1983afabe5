#include "exporters/otlp/otlp_exporter.h"

#include "gtest/gtest.h"
#include "receivers/otlp/otlp_receiver.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::exporters::otlp {
namespace {

TEST(FromGrpcStatusTest, RetryableCodesStayRetryable) {
  EXPECT_TRUE(core::IsRetryable(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, ""))));
  EXPECT_TRUE(
      core::IsRetryable(FromGrpcStatus(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, ""))));
  EXPECT_TRUE(
      core::IsRetryable(FromGrpcStatus(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, ""))));
  EXPECT_FALSE(
      core::IsRetryable(FromGrpcStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, ""))));
  EXPECT_FALSE(
      core::IsRetryable(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, ""))));
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

// The exporter against our own receiver over a real gRPC connection.
TEST(OtlpExporterTest, DeliversEverySignalIntact) {
  core::testing::RecordingConsumer traces, logs;
  receivers::otlp::OtlpReceiverConfig rc;
  rc.protocols.grpc->endpoint = "127.0.0.1:0";
  rc.protocols.http.reset();
  core::ReceiverConsumers consumers;
  consumers.traces = &traces;
  consumers.logs = &logs;
  receivers::otlp::OtlpReceiver receiver("otlp", rc, consumers);
  ASSERT_TRUE(receiver.Start().ok());

  OtlpExporterConfig config;
  config.endpoint = absl::StrCat("127.0.0.1:", receiver.grpc_port());
  config.tls.insecure = true;
  OtlpExporter exporter(config);
  ASSERT_TRUE(exporter.Start().ok());
  core::Batch spans(core::testing::MakeSpans(10));
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(spans, report).ok());
  ASSERT_EQ(traces.batches().size(), 1u);
  EXPECT_EQ(traces.batches()[0].traces().SerializeAsString(), spans.traces().SerializeAsString());

  // Partial success travels back in the report.
  core::TracesRequest r = core::testing::MakeSpans(4);
  r.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->set_trace_id("x");
  ASSERT_TRUE(exporter.Export(core::Batch(r), report).ok());
  EXPECT_EQ(report.rejected_records, 1u);

  // A batch in wire form goes out as its bytes, never parsed here, and the
  // peer's partial success comes back the same way.
  const std::string wire = spans.traces().SerializeAsString() + r.SerializeAsString();
  core::Batch bytes(core::Signal::kTraces, wire, 14);
  core::ExportReport wire_report;
  ASSERT_TRUE(exporter.Export(bytes, wire_report).ok());
  ASSERT_EQ(traces.batches().size(), 3u);
  EXPECT_EQ(traces.batches()[2].record_count(), 13u);  // the receiver dropped the bad span
  EXPECT_EQ(wire_report.rejected_records, 1u);
  EXPECT_NE(wire_report.rejected_reason, "");
  EXPECT_NE(bytes.wire(), nullptr);
  core::LogsRequest one_log;
  one_log.add_resource_logs()
      ->add_scope_logs()
      ->add_log_records()
      ->mutable_body()
      ->set_string_value("wire");
  ASSERT_TRUE(
      exporter.Export(core::Batch(core::Signal::kLogs, one_log.SerializeAsString(), 1), report)
          .ok());
  ASSERT_EQ(logs.batches().size(), 1u);
  EXPECT_EQ(logs.batches()[0].logs().SerializeAsString(), one_log.SerializeAsString());

  // A refusing pipeline is a retryable error for the exporter.
  traces.refuse_status = absl::ResourceExhaustedError("full");
  absl::Status s = exporter.Export(spans, report);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  receiver.Shutdown(core::Clock::now() + std::chrono::seconds(1));

  // Nobody listening: unavailable, retryable.
  s = exporter.Export(spans, report);
  EXPECT_TRUE(core::IsRetryable(s)) << s;
}

}  // namespace
}  // namespace tributary::exporters::otlp
