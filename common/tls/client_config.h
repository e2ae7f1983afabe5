#ifndef TRIBUTARY_COMMON_TLS_CLIENT_CONFIG_H_
#define TRIBUTARY_COMMON_TLS_CLIENT_CONFIG_H_

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "tributary/core/config.h"

namespace tributary::common::tls {

// The `tls` block of every client: the OTLP exporter (gRPC), the HTTP
// exporters (Elasticsearch, remote write) and Kafka. The keys are the
// OpenTelemetry Collector's (`configtls.ClientConfig`). Each client applies
// what its transport supports and refuses the rest at load time
// (`ValidateFor`).
struct TlsClientConfig {
  bool insecure = false;
  bool insecure_skip_verify = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name_override;
  std::string min_version;
  std::chrono::milliseconds reload_interval{60000};
  // Kafka's old switch: TLS is now on wherever the block is present, and
  // `enabled: false` reads as `insecure: true`.
  bool enabled = true;

  template <class V>
  void VisitFields(V&& v) {
    v.Optional("insecure", insecure,
               "plaintext, no TLS (OTLP/gRPC and Kafka; for HTTP the endpoint's scheme decides)");
    v.Optional("insecure_skip_verify", insecure_skip_verify,
               "do not verify the server's certificate (testing only)");
    v.Optional("ca_file", ca_file,
               "CA certificates to verify the server with (PEM); system roots if empty");
    v.Optional("cert_file", cert_file, "client certificate for mutual TLS (PEM)");
    v.Optional("key_file", key_file, "client private key for mutual TLS (PEM)");
    v.Optional("server_name_override", server_name_override,
               "name to verify the server's certificate as (OTLP/gRPC)");
    v.Optional("min_version", min_version,
               "lowest TLS version accepted: `1.2` or `1.3` (HTTP clients); empty is 1.2");
    v.Optional("reload_interval", reload_interval,
               "how often the certificate files are checked for changes (OTLP/gRPC)");
    v.Deprecated("enabled", enabled, "insecure");
    v.Unsupported("ca_pem", "give the CA certificates as a file (ca_file)");
    v.Unsupported("cert_pem", "give the certificate as a file (cert_file)");
    v.Unsupported("key_pem", "give the key as a file (key_file)");
    v.Unsupported("max_version", "the highest version both sides have is used");
    v.Unsupported("cipher_suites", "OpenSSL's default TLS 1.2 suites are used");
    v.Unsupported("curve_preferences", "OpenSSL's default curves are used");
    v.Unsupported("include_insecure_cipher_suites", "insecure suites are never offered");
    v.Unsupported("include_system_ca_certs_pool",
                  "ca_file replaces the system roots; without it they are used");
    v.Unsupported("tpm", "keys are read from files");
  }
  absl::Status Validate() const;
};

// What a client's transport can honour of a TlsClientConfig.
struct TlsSupport {
  const char* client;  // named in errors: "the kafka client"
  bool server_name_override = false;
  bool insecure_skip_verify = true;
  bool min_version_1_3 = false;
  bool legacy_enabled = false;  // reads the old `enabled` key
};

// Validate(), plus a refusal of each setting `support` cannot honour.
absl::Status ValidateFor(const TlsClientConfig& config, const TlsSupport& support);

}  // namespace tributary::common::tls

#endif  // TRIBUTARY_COMMON_TLS_CLIENT_CONFIG_H_
