#include "common/tls/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "tributary/core/log.h"

namespace tributary::common::tls {

using core::Log;
using core::LogLevel;

absl::Status TlsServerConfig::Validate() const {
  if (cert_file.empty() || key_file.empty()) {
    return absl::InvalidArgumentError("cert_file and key_file are both required");
  }
  if (reload_interval.count() < 1000) {
    return absl::InvalidArgumentError("reload_interval must be at least 1s");
  }
  return absl::OkStatus();
}

absl::Status AuthConfig::Validate() const {
  if (bearer_token.empty() == bearer_token_file.empty()) {
    return absl::InvalidArgumentError("set exactly one of bearer_token and bearer_token_file");
  }
  return absl::OkStatus();
}

int64_t NewestModification(std::initializer_list<std::string_view> paths) {
  int64_t newest = 0;
  for (std::string_view p : paths) {
    if (p.empty()) continue;
    struct stat st;
    if (stat(std::string(p).c_str(), &st) != 0) continue;
    newest = std::max<int64_t>(newest, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
  }
  return newest;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

}  // namespace

// --- bearer tokens

absl::StatusOr<std::unique_ptr<BearerAuthenticator>> BearerAuthenticator::Create(
    const AuthConfig& config) {
  std::unique_ptr<BearerAuthenticator> auth(new BearerAuthenticator(config));
  if (!config.bearer_token_file.empty()) {
    if (absl::Status s = auth->Reload(); !s.ok()) return s;
  } else {
    auth->token_ = config.bearer_token;
  }
  if (auth->token_.empty()) return absl::InvalidArgumentError("the bearer token is empty");
  return auth;
}

absl::Status BearerAuthenticator::Reload() {
  auto text = ReadFile(config_.bearer_token_file);
  if (!text.ok()) return text.status();
  std::string token(absl::StripAsciiWhitespace(*text));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bearer_token_file ", config_.bearer_token_file, " is empty"));
  }
  token_ = std::move(token);
  mtime_ns_ = NewestModification({config_.bearer_token_file});
  return absl::OkStatus();
}

bool BearerAuthenticator::Check(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return false;
    }
  }
  std::string given(authorization.substr(kScheme.size()));
  absl::StripAsciiWhitespace(&given);
  std::string expected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (!config_.bearer_token_file.empty() && now >= next_check_) {
      next_check_ = now + std::chrono::seconds(1);
      if (NewestModification({config_.bearer_token_file}) != mtime_ns_) {
        if (absl::Status s = Reload(); !s.ok()) {
          Log(LogLevel::kError, "auth", "cannot reload the bearer token; keeping the old one",
              absl::StrCat("error=\"", s.message(), "\""));
        }
      }
    }
    expected = token_;
  }
  // Compare every byte whatever differs, so timing tells nothing of the token.
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i] ^ expected[i % expected.size()]);
  }
  return diff == 0;
}

// --- server certificates

struct ServerCertificates::Material {
  X509* leaf = nullptr;
  STACK_OF(X509) * chain = nullptr;
  EVP_PKEY* key = nullptr;
  X509_STORE* client_ca = nullptr;
  ~Material() {
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    X509_STORE_free(client_ca);
  }
};

absl::StatusOr<std::shared_ptr<ServerCertificates::Material>> ServerCertificates::Read(
    const TlsServerConfig& config) {
  auto m = std::make_shared<Material>();
  BIO* bio = BIO_new_file(config.cert_file.c_str(), "r");
  if (bio == nullptr) return absl::NotFoundError(absl::StrCat("cannot read ", config.cert_file));
  m->leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  m->chain = sk_X509_new_null();
  while (X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    sk_X509_push(m->chain, extra);
  }
  BIO_free(bio);
  ERR_clear_error();
  if (m->leaf == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(config.cert_file, ": no PEM certificate"));
  }
  bio = BIO_new_file(config.key_file.c_str(), "r");
  if (bio == nullptr) return absl::NotFoundError(absl::StrCat("cannot read ", config.key_file));
  m->key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (m->key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.key_file, ": no PEM private key (", OpenSslError(), ")"));
  }
  if (X509_check_private_key(m->leaf, m->key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(config.key_file, " is not the key of ", config.cert_file));
  }
  if (!config.client_ca_file.empty()) {
    m->client_ca = X509_STORE_new();
    if (X509_STORE_load_locations(m->client_ca, config.client_ca_file.c_str(), nullptr) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.client_ca_file, ": no PEM CA certificates (", OpenSslError(), ")"));
    }
  }
  return m;
}

absl::StatusOr<std::shared_ptr<ServerCertificates>> ServerCertificates::Load(
    const TlsServerConfig& config) {
  std::shared_ptr<ServerCertificates> out(new ServerCertificates(config));
  out->mtime_ns_ = NewestModification({config.cert_file, config.key_file, config.client_ca_file});
  auto material = Read(config);
  if (!material.ok()) return material.status();
  out->material_ = *material;
  out->next_check_ = std::chrono::steady_clock::now() + config.reload_interval;
  return out;
}

ServerCertificates::~ServerCertificates() = default;

std::shared_ptr<ServerCertificates::Material> ServerCertificates::Current() {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now >= next_check_) {
    next_check_ = now + config_.reload_interval;
    int64_t mtime =
        NewestModification({config_.cert_file, config_.key_file, config_.client_ca_file});
    if (mtime != mtime_ns_) {
      auto material = Read(config_);
      if (material.ok()) {
        material_ = *material;
        mtime_ns_ = mtime;
        Log(LogLevel::kInfo, "tls", "server certificate reloaded",
            absl::StrCat("cert_file=", config_.cert_file));
      } else {
        Log(LogLevel::kError, "tls", "cannot reload the server certificate; keeping the old one",
            absl::StrCat("error=\"", material.status().message(), "\""));
      }
    }
  }
  return material_;
}

int ServerCertificates::OnCertificate(SSL* ssl, void* self) {
  std::shared_ptr<Material> m = static_cast<ServerCertificates*>(self)->Current();
  if (SSL_use_cert_and_key(ssl, m->leaf, m->key, m->chain, 1) != 1) return 0;
  if (m->client_ca != nullptr && SSL_set1_verify_cert_store(ssl, m->client_ca) != 1) return 0;
  return 1;
}

bool ServerCertificates::Configure(SSL_CTX& ctx) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (!config_.client_ca_file.empty()) {
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  SSL_CTX_set_cert_cb(&ctx, &ServerCertificates::OnCertificate, this);
  return true;
}

}  // namespace tributary::common::tls
