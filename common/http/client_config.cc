#include "common/http/client_config.h"

#include "common/http/http_client.h"

namespace tributary::common::http {

absl::Status ClientTuning::Validate() const {
  if (!proxy_url.empty() && proxy_url.rfind("http://", 0) != 0 &&
      proxy_url.rfind("https://", 0) != 0 && proxy_url.rfind("socks5://", 0) != 0) {
    return absl::InvalidArgumentError("proxy_url must be an http://, https:// or socks5:// URL");
  }
  // libcurl's bounds for its buffers.
  if (read_buffer_size != 0 && (read_buffer_size < 1024 || read_buffer_size > 10 << 20)) {
    return absl::InvalidArgumentError("read_buffer_size must be 0 or 1024 to 10485760 bytes");
  }
  if (write_buffer_size != 0 && (write_buffer_size < 16384 || write_buffer_size > 2 << 20)) {
    return absl::InvalidArgumentError("write_buffer_size must be 0 or 16384 to 2097152 bytes");
  }
  const KeepaliveConfig& k = keepalive ? *keepalive : flat;
  if (k.max_idle_conns < 0 || k.max_idle_conns_per_host < 0) {
    return absl::InvalidArgumentError("max_idle_conns must be >= 0");
  }
  if (k.idle_conn_timeout.count() < 0) {
    return absl::InvalidArgumentError("idle_conn_timeout must be >= 0");
  }
  return absl::OkStatus();
}

void ClientTuning::ApplyTo(ClientOptions& options) const {
  const KeepaliveConfig& k = keepalive ? *keepalive : flat;
  options.proxy_url = proxy_url;
  options.read_buffer_size = static_cast<long>(read_buffer_size);
  options.write_buffer_size = static_cast<long>(write_buffer_size);
  options.keep_alive = k.enabled && !disable_keep_alives;
  options.idle_conn_timeout = k.idle_conn_timeout;
  // One host: the smaller of the two limits that are set.
  int64_t idle = k.max_idle_conns;
  if (k.max_idle_conns_per_host > 0 && (idle == 0 || k.max_idle_conns_per_host < idle)) {
    idle = k.max_idle_conns_per_host;
  }
  options.max_idle_conns = static_cast<size_t>(idle);
}

}  // namespace tributary::common::http
