#ifndef TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_CONFIG_H_
#define TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_CONFIG_H_

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "tributary/core/config.h"
#include "tributary/core/dead_letter.h"
#include "tributary/core/exporter_runner.h"

namespace tributary::exporters::otlp {

struct TlsClientConfig {
  bool insecure = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name_override;
  std::chrono::milliseconds reload_interval{60000};
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("insecure", insecure, "plaintext connection (no TLS)");
    v.Optional("ca_file", ca_file,
               "CA certificates to verify the server (PEM); system roots if empty");
    v.Optional("cert_file", cert_file, "client certificate for mutual TLS (PEM)");
    v.Optional("key_file", key_file, "client private key for mutual TLS (PEM)");
    v.Optional("server_name_override", server_name_override, "name to verify the server as");
    v.Optional("reload_interval", reload_interval,
               "how often the certificate files are checked for changes");
  }
  absl::Status Validate() const {
    if (cert_file.empty() != key_file.empty()) {
      return absl::InvalidArgumentError("cert_file and key_file go together");
    }
    if (reload_interval.count() < 1000) {
      return absl::InvalidArgumentError("reload_interval must be at least 1s");
    }
    return absl::OkStatus();
  }
};

struct OtlpExporterConfig {
  std::string endpoint;
  std::string compression = "gzip";
  std::chrono::milliseconds timeout{10000};
  std::map<std::string, std::string> headers;
  TlsClientConfig tls;
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
  absl::Status Validate() const {
    if (compression != "gzip" && compression != "none" && !compression.empty()) {
      return absl::InvalidArgumentError("compression must be gzip or none (gRPC has no zstd)");
    }
    if (timeout.count() <= 0) return absl::InvalidArgumentError("timeout must be > 0");
    return absl::OkStatus();
  }
};

}  // namespace tributary::exporters::otlp

#endif  // TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_CONFIG_H_
