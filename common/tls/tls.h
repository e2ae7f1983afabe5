#ifndef TRIBUTARY_COMMON_TLS_TLS_H_
#define TRIBUTARY_COMMON_TLS_TLS_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tributary/core/config.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace tributary::common::tls {

// A server's `tls` block: certificate and key from files, reloaded when the
// files change; with `client_ca_file`, clients must present a certificate
// it signed (mutual TLS).
struct TlsServerConfig {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  std::chrono::milliseconds reload_interval{60000};
  template <class V>
  void VisitFields(V&& v) {
    v.Required("cert_file", cert_file, "server certificate chain (PEM)");
    v.Required("key_file", key_file, "server private key (PEM)");
    v.Optional("client_ca_file", client_ca_file,
               "CA certificates (PEM) that sign client certificates; set, it requires them");
    v.Optional("reload_interval", reload_interval, "how often the files are checked for changes");
  }
  absl::Status Validate() const;
};

// A receiver's `auth` block: every request must carry
// `Authorization: Bearer <token>`.
struct AuthConfig {
  std::string bearer_token;
  std::string bearer_token_file;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("bearer_token", bearer_token,
               "the token, usually `${env:NAME}`; never logged or printed");
    v.Optional("bearer_token_file", bearer_token_file,
               "file holding the token (surrounding whitespace ignored), re-read when it changes");
  }
  absl::Status Validate() const;
};

// Checks bearer tokens in constant time; re-reads a token file at most once
// a second when it has changed. Thread-safe.
class BearerAuthenticator {
 public:
  static absl::StatusOr<std::unique_ptr<BearerAuthenticator>> Create(const AuthConfig& config);
  // `authorization` is the header's (or gRPC metadata's) value.
  bool Check(std::string_view authorization);

 private:
  explicit BearerAuthenticator(const AuthConfig& config) : config_(config) {}
  absl::Status Reload();

  const AuthConfig config_;
  std::mutex mu_;
  std::string token_;
  int64_t mtime_ns_ = 0;
  std::chrono::steady_clock::time_point next_check_{};
};

// Serves the current certificate of a TlsServerConfig to each new OpenSSL
// connection, loading the files again when they change. Thread-safe.
class ServerCertificates {
 public:
  static absl::StatusOr<std::shared_ptr<ServerCertificates>> Load(const TlsServerConfig& config);
  ~ServerCertificates();
  // Sets up an SSL_CTX (as cpp-httplib's SSLServer callback): protocol
  // floor, client verification, the per-connection certificate callback.
  bool Configure(SSL_CTX& ctx);

 private:
  struct Material;
  explicit ServerCertificates(const TlsServerConfig& config) : config_(config) {}
  static absl::StatusOr<std::shared_ptr<Material>> Read(const TlsServerConfig& config);
  static int OnCertificate(SSL* ssl, void* self);
  std::shared_ptr<Material> Current();

  const TlsServerConfig config_;
  std::mutex mu_;
  std::shared_ptr<Material> material_;
  int64_t mtime_ns_ = 0;
  std::chrono::steady_clock::time_point next_check_{};
};

// Newest modification time of the files, in nanoseconds; 0 if none exists.
int64_t NewestModification(std::initializer_list<std::string_view> paths);

// The whole content of a (certificate or key) file.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace tributary::common::tls

#endif  // TRIBUTARY_COMMON_TLS_TLS_H_
