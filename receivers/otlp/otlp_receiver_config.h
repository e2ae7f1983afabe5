#ifndef TRIBUTARY_RECEIVERS_OTLP_OTLP_RECEIVER_CONFIG_H_
#define TRIBUTARY_RECEIVERS_OTLP_OTLP_RECEIVER_CONFIG_H_

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/http/server.h"
#include "common/otlp/limits.h"
#include "common/tls/tls.h"
#include "tributary/core/config.h"

namespace tributary::receivers::otlp {

// The Collector's gRPC server `keepalive` block, as gRPC's channel
// arguments of the same meaning; 0 leaves gRPC's default.
struct ServerKeepaliveConfig {
  struct ServerParameters {
    std::chrono::milliseconds max_connection_idle{0};
    std::chrono::milliseconds max_connection_age{0};
    std::chrono::milliseconds max_connection_age_grace{0};
    std::chrono::milliseconds time{0};
    std::chrono::milliseconds timeout{0};
    template <class V>
    void VisitFields(V&& v) {
      v.Optional("max_connection_idle", max_connection_idle,
                 "a connection idle this long is closed");
      v.Optional("max_connection_age", max_connection_age, "a connection this old is closed");
      v.Optional("max_connection_age_grace", max_connection_age_grace,
                 "time calls get to finish after max_connection_age");
      v.Optional("time", time, "a ping after this long without activity");
      v.Optional("timeout", timeout, "a ping unanswered this long closes the connection");
    }
  };
  struct EnforcementPolicy {
    std::chrono::milliseconds min_time{0};
    bool permit_without_stream = false;
    template <class V>
    void VisitFields(V&& v) {
      v.Optional("min_time", min_time, "clients pinging more often are disconnected");
      v.Optional("permit_without_stream", permit_without_stream,
                 "allow client pings while no call is open");
    }
  };
  ServerParameters server_parameters;
  EnforcementPolicy enforcement_policy;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("server_parameters", server_parameters, "the server's side of keepalive");
    v.Optional("enforcement_policy", enforcement_policy, "what the server allows clients");
  }
};

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
    v.Optional("transport", transport, "must stay `tcp`");
    v.Optional("keepalive", keepalive, "connection keepalive (gRPC channel arguments)");
    v.Optional("include_metadata", include_metadata,
               "must stay false: request metadata does not travel with the data");
    v.Unsupported("read_buffer_size", "gRPC sizes its own buffers");
    v.Unsupported("write_buffer_size", "gRPC sizes its own buffers");
    v.Unsupported("auth", "set the receiver's own `auth` (a bearer token for both protocols)");
    v.Unsupported("middlewares", "middleware extensions do not exist here");
  }
  std::string transport = "tcp";
  std::optional<ServerKeepaliveConfig> keepalive;
  bool include_metadata = false;
  absl::Status Validate() const {
    if (transport != "tcp") return absl::InvalidArgumentError("transport must be tcp");
    if (include_metadata) {
      return absl::InvalidArgumentError("include_metadata: true is not supported");
    }
    if (max_recv_msg_size_mib < 1 || max_recv_msg_size_mib > 2047) {
      return absl::InvalidArgumentError("max_recv_msg_size_mib must be in [1, 2047]");
    }
    if (max_concurrent_requests < 2) {
      return absl::InvalidArgumentError("max_concurrent_requests must be >= 2");
    }
    return absl::OkStatus();
  }
};

// The Collector's `cors` block: browsers on these origins may send.
struct CorsConfig {
  std::vector<std::string> allowed_origins;
  std::vector<std::string> allowed_headers;
  std::vector<std::string> exposed_headers;
  int64_t max_age = 0;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("allowed_origins", allowed_origins,
               "origins allowed to send (`https://app.example.com`, `https://*.example.com`, "
               "`*`); none allows no browser");
    v.Optional("allowed_headers", allowed_headers,
               "request headers allowed besides Accept, Content-Type, Content-Encoding, "
               "X-Requested-With and the CORS-safelisted ones (`*`: any)");
    v.Optional("exposed_headers", exposed_headers, "response headers a page may read");
    v.Optional("max_age", max_age, "seconds a browser may keep a preflight answer (0: not sent)");
  }
  // Whether `origin` is one of allowed_origins (one `*` in an entry matches
  // any text).
  bool AllowsOrigin(std::string_view origin) const;
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
  std::optional<CorsConfig> cors;
  std::map<std::string, std::string> response_headers;
  std::vector<std::string> compression_algorithms{"", "gzip", "zstd"};
  bool keep_alives_enabled = true;
  bool include_metadata = false;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("endpoint", endpoint,
               "host:port to listen on (port 0 picks a free port); loopback by default, "
               "`0.0.0.0:PORT` for every interface");
    v.Optional("tls", tls, "serve HTTPS (and require client certificates with client_ca_file)");
    v.Optional("cors", cors, "cross-origin requests from browsers");
    v.Optional("response_headers", response_headers, "headers added to every response");
    v.Optional("compression_algorithms", compression_algorithms,
               "Content-Encodings accepted, of `gzip`, `zstd` and `\"\"` (none); others get "
               "415");
    v.Optional("keep_alives_enabled", keep_alives_enabled,
               "must stay true: connections are kept open between requests");
    v.Optional("include_metadata", include_metadata,
               "must stay false: request metadata does not travel with the data");
    v.Unsupported("auth", "set the receiver's own `auth` (a bearer token for both protocols)");
    v.Unsupported("middlewares", "middleware extensions do not exist here");
    v.Unsupported("read_timeout",
                  "bounded by read_header_timeout, read_body_timeout and "
                  "min_body_rate");
    v.Unsupported("write_timeout", "a response is bounded by read_body_timeout");
    v.Unsupported("keepalive", "set idle_timeout");
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
    for (const std::string& a : compression_algorithms) {
      if (a != "" && a != "gzip" && a != "zstd" && a != "identity") {
        return absl::InvalidArgumentError(
            absl::StrCat("compression_algorithms: ", a, " is not supported (gzip, zstd or \"\")"));
      }
    }
    if (include_metadata) {
      return absl::InvalidArgumentError("include_metadata: true is not supported");
    }
    if (!keep_alives_enabled) {
      return absl::InvalidArgumentError("keep_alives_enabled: false is not supported");
    }
    if (cors && cors->max_age < 0) return absl::InvalidArgumentError("cors.max_age must be >= 0");
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
