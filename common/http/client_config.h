#ifndef TRIBUTARY_COMMON_HTTP_CLIENT_CONFIG_H_
#define TRIBUTARY_COMMON_HTTP_CLIENT_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "tributary/core/config.h"

namespace tributary::common::http {

struct ClientOptions;

// The `keepalive` block of the OpenTelemetry Collector's HTTP clients.
struct KeepaliveConfig {
  bool enabled = true;
  std::chrono::milliseconds idle_conn_timeout{90000};
  int64_t max_idle_conns = 100;
  int64_t max_idle_conns_per_host = 0;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("enabled", enabled, "keep connections open between requests");
    v.Optional("idle_conn_timeout", idle_conn_timeout,
               "an idle connection older than this is not reused");
    v.Optional("max_idle_conns", max_idle_conns, "idle connections kept at most (0: no limit)");
    v.Optional("max_idle_conns_per_host", max_idle_conns_per_host,
               "the same per host; the exporters here talk to one host (0: max_idle_conns)");
  }
};

// The connection keys of the OpenTelemetry Collector's HTTP client
// (`confighttp.ClientConfig`) that HTTP exporters share besides `endpoint`,
// `timeout`, `headers`, `tls` and `compression`, which each exporter reads
// with its own defaults. Visited inline: the keys sit beside the exporter's
// own, as in the Collector.
struct ClientTuning {
  std::string proxy_url;
  int64_t read_buffer_size = 0;
  int64_t write_buffer_size = 0;
  std::optional<KeepaliveConfig> keepalive;
  // The Collector's older spellings of `keepalive`'s keys.
  KeepaliveConfig flat;
  bool disable_keep_alives = false;

  template <class V>
  void VisitFields(V&& v) {
    v.Optional("proxy_url", proxy_url,
               "HTTP proxy for every request (http://host:port); empty takes the https_proxy "
               "and http_proxy environment variables, as libcurl does");
    v.Optional("read_buffer_size", read_buffer_size,
               "receive buffer of a request, bytes (0: libcurl's 16 KiB)");
    v.Optional("write_buffer_size", write_buffer_size,
               "send buffer of a request, bytes (0: libcurl's 64 KiB)");
    v.Optional("keepalive", keepalive, "connection reuse");
    v.Deprecated("idle_conn_timeout", flat.idle_conn_timeout, "keepalive.idle_conn_timeout");
    v.Deprecated("max_idle_conns", flat.max_idle_conns, "keepalive.max_idle_conns");
    v.Deprecated("max_idle_conns_per_host", flat.max_idle_conns_per_host,
                 "keepalive.max_idle_conns_per_host");
    v.Deprecated("disable_keep_alives", disable_keep_alives, "keepalive.enabled");
    v.Unsupported("max_conns_per_host",
                  "concurrent requests are bounded by sending_queue.num_consumers");
    v.Unsupported("auth",
                  "authenticator extensions do not exist here; send credentials in "
                  "`headers` (Authorization)");
    v.Unsupported("cookies", "the client keeps no cookies");
    v.Unsupported("middlewares", "middleware extensions do not exist here");
    v.Unsupported("http2_read_idle_timeout", "requests go over HTTP/1.1");
    v.Unsupported("http2_ping_timeout", "requests go over HTTP/1.1");
    v.Unsupported("force_attempt_http2", "requests go over HTTP/1.1");
  }
  absl::Status Validate() const;
  // Sets the connection options of `options` from these keys.
  void ApplyTo(ClientOptions& options) const;
};

}  // namespace tributary::common::http

#endif  // TRIBUTARY_COMMON_HTTP_CLIENT_CONFIG_H_
