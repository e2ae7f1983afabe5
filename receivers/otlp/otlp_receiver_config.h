#ifndef TRIBUTARY_RECEIVERS_OTLP_OTLP_RECEIVER_CONFIG_H_
#define TRIBUTARY_RECEIVERS_OTLP_OTLP_RECEIVER_CONFIG_H_

#include <chrono>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/http/server.h"
#include "common/otlp/limits.h"
#include "common/tls/tls.h"
#include "tributary/core/config.h"

namespace tributary::receivers::otlp {

struct GrpcConfig {
  std::string endpoint = "localhost:4317";
  int64_t max_recv_msg_size_mib = 4;
  int64_t max_concurrent_streams = 0;
  int64_t max_concurrent_requests = 1024;
  std::optional<common::tls::TlsServerConfig> tls;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("endpoint", endpoint,
               "host:port to listen on (port 0 picks a free port); loopback by default, "
               "`0.0.0.0:PORT` for every interface");
    v.Optional("tls", tls, "serve TLS (and require client certificates with client_ca_file)");
    v.Optional("max_recv_msg_size_mib", max_recv_msg_size_mib,
               "largest request accepted, after decompression, in MiB");
    v.Optional("max_concurrent_streams", max_concurrent_streams,
               "streams per HTTP/2 connection; 0 leaves gRPC's default");
    v.Optional("max_concurrent_requests", max_concurrent_requests,
               "calls decoded or waiting for their acknowledgement at once (none holds a "
               "thread); beyond it callers get RESOURCE_EXHAUSTED");
  }
  absl::Status Validate() const {
    if (max_recv_msg_size_mib < 1 || max_recv_msg_size_mib > 2047) {
      return absl::InvalidArgumentError("max_recv_msg_size_mib must be in [1, 2047]");
    }
    if (max_concurrent_requests < 2) {
      return absl::InvalidArgumentError("max_concurrent_requests must be >= 2");
    }
    return absl::OkStatus();
  }
};

struct HttpConfig {
  std::string endpoint = "localhost:4318";
  core::ByteSize max_request_body_size{20 << 20};
  core::ByteSize max_decompressed_body_size{64 << 20};
  int64_t max_concurrent_requests = 1024;
  common::http::ServerLimits limits;
  std::string traces_url_path = "/v1/traces";
  std::string metrics_url_path = "/v1/metrics";
  std::string logs_url_path = "/v1/logs";
  std::optional<common::tls::TlsServerConfig> tls;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("endpoint", endpoint,
               "host:port to listen on (port 0 picks a free port); loopback by default, "
               "`0.0.0.0:PORT` for every interface");
    v.Optional("tls", tls, "serve HTTPS (and require client certificates with client_ca_file)");
    v.Optional("max_request_body_size", max_request_body_size,
               "largest request body on the wire; larger ones get 413");
    v.Optional("max_decompressed_body_size", max_decompressed_body_size,
               "largest body after gzip decompression; larger ones get 413");
    v.Optional("max_concurrent_requests", max_concurrent_requests,
               "requests decoded or waiting for their acknowledgement at once; beyond it 503 "
               "with Retry-After");
    limits.VisitFields(v);
    v.Optional("traces_url_path", traces_url_path, "path for traces");
    v.Optional("metrics_url_path", metrics_url_path, "path for metrics");
    v.Optional("logs_url_path", logs_url_path, "path for logs");
  }
  absl::Status Validate() const {
    if (max_concurrent_requests < 1) {
      return absl::InvalidArgumentError("max_concurrent_requests must be >= 1");
    }
    if (max_request_body_size.bytes == 0 || max_decompressed_body_size.bytes == 0) {
      return absl::InvalidArgumentError("body size limits must be > 0");
    }
    return limits.Validate();
  }
};

struct ProtocolsConfig {
  std::optional<GrpcConfig> grpc = GrpcConfig{};
  std::optional<HttpConfig> http = HttpConfig{};
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("grpc", grpc, "OTLP/gRPC server; present (even empty) turns it on");
    v.Optional("http", http, "OTLP/HTTP server; present (even empty) turns it on");
  }
  absl::Status Validate() const {
    if (!grpc && !http) return absl::InvalidArgumentError("enable at least one of grpc, http");
    return absl::OkStatus();
  }
};

struct OtlpReceiverConfig {
  ProtocolsConfig protocols;
  std::chrono::milliseconds ack_timeout{30000};
  std::optional<common::tls::AuthConfig> auth;
  common::otlp::RecordLimits limits;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("protocols", protocols, "transports to serve (both by default)");
    v.Optional("auth", auth,
               "require a bearer token on every request (gRPC UNAUTHENTICATED / HTTP 401 "
               "otherwise)");
    v.Optional("limits", limits, "bounds on attributes per record and value length");
    v.Optional("ack_timeout", ack_timeout,
               "how long a request waits for the pipeline to acknowledge its data before it is "
               "answered with a retryable error");
  }
  absl::Status Validate() const {
    if (ack_timeout.count() <= 0) return absl::InvalidArgumentError("ack_timeout must be > 0");
    return absl::OkStatus();
  }
};

}  // namespace tributary::receivers::otlp

#endif  // TRIBUTARY_RECEIVERS_OTLP_OTLP_RECEIVER_CONFIG_H_
