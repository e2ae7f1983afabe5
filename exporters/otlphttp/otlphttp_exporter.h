#ifndef TRIBUTARY_EXPORTERS_OTLPHTTP_OTLPHTTP_EXPORTER_H_
#define TRIBUTARY_EXPORTERS_OTLPHTTP_OTLPHTTP_EXPORTER_H_

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/http/client_config.h"
#include "common/http/http_client.h"
#include "common/tls/client_config.h"
#include "prometheus/counter.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/exporter_config.h"

namespace tributary::exporters::otlphttp {

struct CompressionParams {
  int64_t level = 0;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("level", level,
               "gzip 1 (fastest) to 9 (smallest), zstd 1 to 22; 0 takes gzip 1 and zstd 3");
  }
};

// The OpenTelemetry Collector's `otlphttp` exporter keys.
struct OtlpHttpExporterConfig {
  std::string endpoint;
  std::string traces_endpoint;
  std::string metrics_endpoint;
  std::string logs_endpoint;
  std::string encoding = "proto";
  std::string compression = "gzip";
  CompressionParams compression_params;
  std::chrono::milliseconds timeout{30000};
  std::map<std::string, std::string> headers;
  common::tls::TlsClientConfig tls;
  common::http::ClientTuning http;
  core::QueueConfig sending_queue;
  core::RetryConfig retry_on_failure;
  std::optional<core::DeadLetterConfig> dead_letter;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("endpoint", endpoint,
               "base URL (http:// or https://); each signal goes to it with `/v1/traces`, "
               "`/v1/metrics` or `/v1/logs` appended");
    v.Optional("traces_endpoint", traces_endpoint, "full URL for traces, instead of the base's");
    v.Optional("metrics_endpoint", metrics_endpoint, "full URL for metrics, instead of the base's");
    v.Optional("logs_endpoint", logs_endpoint, "full URL for logs, instead of the base's");
    v.Unsupported("profiles_endpoint", "Tributary carries no profiles");
    v.Optional("encoding", encoding, "`proto` (application/x-protobuf) or `json` (OTLP/JSON)");
    v.Optional("compression", compression, "`gzip`, `zstd` or `none`");
    v.Optional("compression_params", compression_params, "compression level");
    v.Optional("timeout", timeout, "deadline of one request");
    v.Optional("headers", headers, "HTTP headers sent with every request");
    v.Optional("tls", tls, "transport security for https:// endpoints");
    http.VisitFields(v);
    v.Optional("sending_queue", sending_queue, "in-memory queue in front of the exporter");
    v.Optional("retry_on_failure", retry_on_failure, "retry of retryable failures");
    v.Optional("dead_letter", dead_letter,
               "where records the destination refuses for good are kept");
  }
  absl::Status Validate() const;
  // The URL a signal is sent to; empty when neither its own endpoint nor the
  // base is set.
  std::string SignalUrl(core::Signal signal) const;
};

// OTLP/HTTP to one endpoint per signal. A batch read back from the
// write-ahead buffer is sent as its bytes (protobuf) or written as OTLP/JSON
// straight from them, never parsed into objects. 429, 502, 503 and 504 are
// retried (after the server's Retry-After when it gives one), as is a
// request that got no answer; any other status is a permanent refusal. A
// partial success in the response is counted as rejected records.
class OtlpHttpExporter : public core::Exporter {
 public:
  OtlpHttpExporter(std::string id, OtlpHttpExporterConfig config);
  ~OtlpHttpExporter() override;
  absl::Status Start() override;
  void Shutdown(core::Deadline) noexcept override {}
  absl::Status Export(const core::Batch& batch, core::ExportReport& report) noexcept override;
  int MaxConcurrency() const override { return 64; }
  bool ReadsWireForm() const override { return true; }

 private:
  // The body to send for `batch`: encoded as configured, then compressed.
  std::string Body(const core::Batch& batch) const;

  const std::string id_;
  const OtlpHttpExporterConfig config_;
  std::array<std::string, 3> urls_;  // by core::Signal
  std::unique_ptr<common::http::Client> client_;
  ::prometheus::Counter* sent_bytes_ = nullptr;
  ::prometheus::Counter* wire_bytes_ = nullptr;
};

}  // namespace tributary::exporters::otlphttp

#endif  // TRIBUTARY_EXPORTERS_OTLPHTTP_OTLPHTTP_EXPORTER_H_
