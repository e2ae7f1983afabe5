#include "common/tls/client_config.h"

#include "absl/strings/str_cat.h"

namespace tributary::common::tls {

absl::Status TlsClientConfig::Validate() const {
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError("cert_file and key_file go together");
  }
  if (!min_version.empty() && min_version != "1.2" && min_version != "1.3") {
    return absl::InvalidArgumentError(
        absl::StrCat("min_version '", min_version, "' is not 1.2 or 1.3"));
  }
  if (reload_interval.count() < 1000) {
    return absl::InvalidArgumentError("reload_interval must be at least 1s");
  }
  return absl::OkStatus();
}

absl::Status ValidateFor(const TlsClientConfig& config, const TlsSupport& support) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  if (!config.server_name_override.empty() && !support.server_name_override) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.server_name_override is not supported by ", support.client));
  }
  if (config.insecure_skip_verify && !support.insecure_skip_verify) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.insecure_skip_verify is not supported by ", support.client));
  }
  if (!config.enabled && !support.legacy_enabled) {
    return absl::InvalidArgumentError(absl::StrCat("tls.enabled is not read by ", support.client,
                                                   "; `insecure: true` turns TLS off"));
  }
  if (config.min_version == "1.3" && !support.min_version_1_3) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.min_version 1.3 is not supported by ", support.client));
  }
  return absl::OkStatus();
}

}  // namespace tributary::common::tls
