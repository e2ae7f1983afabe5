#ifndef TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_CONFIG_H_
#define TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_CONFIG_H_

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/otlp/grpc_client.h"
#include "common/tls/client_config.h"
#include "tributary/core/config.h"
#include "tributary/core/exporter_config.h"

namespace tributary::exporters::otlp {

// The Collector's gRPC client `keepalive` block.
struct ClientKeepaliveConfig {
  std::chrono::milliseconds time{30000};
  std::chrono::milliseconds timeout{0};
  bool permit_without_stream = false;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("time", time, "a ping after this long without activity");
    v.Optional("timeout", timeout,
               "a ping unanswered this long closes the connection (0: gRPC's 20s)");
    v.Optional("permit_without_stream", permit_without_stream, "ping while no call is open");
  }
};

struct OtlpExporterConfig {
  std::string endpoint;
  std::string compression = "gzip";
  std::chrono::milliseconds timeout{10000};
  std::map<std::string, std::string> headers;
  common::tls::TlsClientConfig tls;
  core::QueueConfig sending_queue;
  core::RetryConfig retry_on_failure;
  std::optional<core::DeadLetterConfig> dead_letter;
  ClientKeepaliveConfig keepalive;
  bool wait_for_ready = false;
  std::string user_agent;
  std::string balancer_name;
  std::string authority;
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
    v.Optional("keepalive", keepalive, "connection keepalive");
    v.Optional("wait_for_ready", wait_for_ready,
               "a call waits (within `timeout`) for the connection instead of failing at once");
    v.Optional("user_agent", user_agent, "User-Agent prefix");
    v.Optional("balancer_name", balancer_name,
               "gRPC load-balancing policy over the endpoint's addresses: pick_first or "
               "round_robin");
    v.Optional("authority", authority, "the :authority of the calls");
    v.Unsupported("read_buffer_size", "gRPC sizes its own buffers");
    v.Unsupported("write_buffer_size", "gRPC sizes its own buffers");
    v.Unsupported("auth",
                  "authenticator extensions do not exist here; send credentials in "
                  "`headers`");
    v.Unsupported("middlewares", "middleware extensions do not exist here");
  }
  common::otlp::GrpcClientSettings client() const {
    common::otlp::GrpcClientSettings s;
    s.endpoint = endpoint;
    s.compression = compression;
    s.timeout = timeout;
    s.headers = headers;
    s.tls = tls;
    s.keepalive_time = keepalive.time;
    s.keepalive_timeout = keepalive.timeout;
    s.keepalive_permit_without_calls = keepalive.permit_without_stream;
    s.wait_for_ready = wait_for_ready;
    s.user_agent = user_agent;
    s.balancer_name = balancer_name;
    s.authority = authority;
    return s;
  }
  absl::Status Validate() const {
    if (compression != "gzip" && compression != "none" && !compression.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "compression ", compression,
          " is not supported over gRPC here (gzip or none); the otlphttp exporter has zstd"));
    }
    if (timeout.count() <= 0) return absl::InvalidArgumentError("timeout must be > 0");
    if (!balancer_name.empty() && balancer_name != "pick_first" && balancer_name != "round_robin") {
      return absl::InvalidArgumentError("balancer_name must be pick_first or round_robin");
    }
    // gRPC 1.51 verifies every certificate and has no TLS floor above 1.2.
    return common::tls::ValidateFor(tls, {.client = "the OTLP/gRPC exporter",
                                          .server_name_override = true,
                                          .insecure_skip_verify = false});
  }
};

}  // namespace tributary::exporters::otlp

#endif  // TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_CONFIG_H_
