#ifndef TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_CONFIG_H_
#define TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_CONFIG_H_

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/otlp/grpc_client.h"
#include "common/tls/client_config.h"
#include "tributary/core/config.h"
#include "tributary/core/exporter_config.h"

namespace tributary::exporters::otlp {

struct OtlpExporterConfig {
  std::string endpoint;
  std::string compression = "gzip";
  std::chrono::milliseconds timeout{10000};
  std::map<std::string, std::string> headers;
  common::tls::TlsClientConfig tls;
  core::QueueConfig sending_queue;
  core::RetryConfig retry_on_failure;
  std::optional<core::DeadLetterConfig> dead_letter;
  template <class V>
  void VisitFields(V&& v) {
    v.Required("endpoint", endpoint, "host:port of the OTLP/gRPC server");
    v.Optional("compression", compression, "gzip or none");
    v.Optional("timeout", timeout, "deadline of one export call");
    v.Optional("headers", headers, "gRPC metadata sent with every call");
    v.Optional("tls", tls, "transport security");
    v.Optional("sending_queue", sending_queue, "in-memory queue in front of the exporter");
    v.Optional("retry_on_failure", retry_on_failure, "retry of retryable failures");
    v.Optional("dead_letter", dead_letter,
               "where records the destination refuses for good are kept");
  }
  common::otlp::GrpcClientSettings client() const {
    return {endpoint, compression, timeout, headers, tls};
  }
  absl::Status Validate() const {
    if (compression != "gzip" && compression != "none" && !compression.empty()) {
      return absl::InvalidArgumentError("compression must be gzip or none (gRPC has no zstd)");
    }
    if (timeout.count() <= 0) return absl::InvalidArgumentError("timeout must be > 0");
    // gRPC 1.51 verifies every certificate and has no TLS floor above 1.2.
    return common::tls::ValidateFor(tls, {.client = "the OTLP/gRPC exporter",
                                          .server_name_override = true,
                                          .insecure_skip_verify = false});
  }
};

}  // namespace tributary::exporters::otlp

#endif  // TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_CONFIG_H_
