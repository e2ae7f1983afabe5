// Transport security and authentication of the OTLP receiver: TLS and mutual
// TLS on both transports, certificate reload, bearer tokens.

#include <grpcpp/grpcpp.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "httplib.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "receivers/otlp/otlp_receiver.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::receivers::otlp {
namespace {

using core::testing::MakeSpans;
using core::testing::MetricValue;
using core::testing::RecordingConsumer;
using core::testing::TempDir;
namespace trace = opentelemetry::proto::collector::trace::v1;

// Certificates made by tests/tls/make-certs.sh: two CAs, a server and a
// client certificate from `ca`, and a server certificate from `other`.
class Certificates {
 public:
  Certificates() {
    ok_ = std::system(
              ("bash '" TRIBUTARY_SOURCE_DIR "/tests/tls/make-certs.sh' '" + dir_.path() + "'")
                  .c_str()) == 0;
  }
  bool ok() const { return ok_; }
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }
  std::string pem(const std::string& name) const {
    std::ifstream in(path(name));
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

 private:
  TempDir dir_;
  bool ok_ = false;
};

class ReceiverSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A client whose handshake the server refuses may still write its
    // request: the error must come back as EPIPE, as in the programs.
    signal(SIGPIPE, SIG_IGN);
    ASSERT_TRUE(certs_.ok()) << "the openssl command could not make test certificates";
  }

  // Starts a receiver with TLS on both transports; mutual TLS when `mtls`.
  void Start(bool mtls, std::optional<common::tls::AuthConfig> auth = std::nullopt,
             std::string cert = "server") {
    common::tls::TlsServerConfig tls;
    tls.cert_file = certs_.path(cert + ".crt");
    tls.key_file = certs_.path(cert + ".key");
    if (mtls) tls.client_ca_file = certs_.path("ca.crt");
    tls.reload_interval = std::chrono::seconds(1);
    OtlpReceiverConfig config;
    config.protocols.grpc->endpoint = "127.0.0.1:0";
    config.protocols.grpc->tls = tls;
    config.protocols.http->endpoint = "127.0.0.1:0";
    config.protocols.http->tls = tls;
    config.auth = auth;
    config.ack_timeout = std::chrono::seconds(5);
    core::ReceiverConsumers consumers;
    consumers.traces = &out_;
    receiver_ = std::make_unique<OtlpReceiver>("otlp/secure", config, consumers);
    ASSERT_TRUE(receiver_->Start().ok());
  }

  // POSTs one span over HTTPS; returns the HTTP status, or -1 when there was
  // no response (handshake refused).
  int PostHttps(const std::string& ca, bool client_cert, const std::string& token = "") {
    std::unique_ptr<httplib::SSLClient> client;
    if (client_cert) {
      client = std::make_unique<httplib::SSLClient>("localhost", receiver_->http_port(),
                                                    certs_.path("client.crt"),
                                                    certs_.path("client.key"));
    } else {
      client = std::make_unique<httplib::SSLClient>("localhost", receiver_->http_port());
    }
    client->set_ca_cert_path(certs_.path(ca).c_str());
    client->enable_server_certificate_verification(true);
    client->set_connection_timeout(5);
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto res = client->Post("/v1/traces", headers, MakeSpans(1).SerializeAsString(),
                            "application/x-protobuf");
    return res ? res->status : -1;
  }

  grpc::StatusCode ExportGrpc(std::shared_ptr<grpc::ChannelCredentials> creds,
                              const std::string& token = "") {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(receiver_->grpc_port()),
                                             creds, args);
    auto stub = trace::TraceService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    trace::ExportTraceServiceResponse resp;
    return stub->Export(&ctx, MakeSpans(1), &resp).error_code();
  }

  std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& ca, bool client_cert) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = certs_.pem(ca);
    if (client_cert) {
      o.pem_cert_chain = certs_.pem("client.crt");
      o.pem_private_key = certs_.pem("client.key");
    }
    return grpc::SslCredentials(o);
  }

  Certificates certs_;
  RecordingConsumer out_;
  std::unique_ptr<OtlpReceiver> receiver_;
};

TEST_F(ReceiverSecurityTest, HttpsRefusesPlaintextAndUnknownCertificatesAndDelivers) {
  Start(/*mtls=*/false);
  httplib::Client plain("127.0.0.1", receiver_->http_port());
  plain.set_connection_timeout(5);
  auto res = plain.Post("/v1/traces", MakeSpans(1).SerializeAsString(), "application/x-protobuf");
  EXPECT_TRUE(!res || res->status >= 400);
  EXPECT_EQ(PostHttps("other.crt", false), -1);  // the client does not trust the server
  EXPECT_EQ(PostHttps("ca.crt", false), 200);
  EXPECT_EQ(out_.records(), 1u);
}

TEST_F(ReceiverSecurityTest, MutualTlsOverHttpsRequiresAClientCertificate) {
  Start(/*mtls=*/true);
  EXPECT_EQ(PostHttps("ca.crt", /*client_cert=*/false), -1);
  EXPECT_EQ(PostHttps("ca.crt", /*client_cert=*/true), 200);
  EXPECT_EQ(out_.records(), 1u);
}

TEST_F(ReceiverSecurityTest, GrpcRefusesPlaintextWrongCaAndMissingClientCertificate) {
  Start(/*mtls=*/true);
  EXPECT_NE(ExportGrpc(grpc::InsecureChannelCredentials()), grpc::StatusCode::OK);
  EXPECT_NE(ExportGrpc(Tls("other.crt", true)), grpc::StatusCode::OK);
  EXPECT_NE(ExportGrpc(Tls("ca.crt", false)), grpc::StatusCode::OK);
  EXPECT_EQ(out_.records(), 0u);
  EXPECT_EQ(ExportGrpc(Tls("ca.crt", true)), grpc::StatusCode::OK);
  EXPECT_EQ(out_.records(), 1u);
}

TEST_F(ReceiverSecurityTest, BearerTokenIsRequiredOnBothTransportsAndRefusalsAreCounted) {
  TempDir dir;
  const std::string token_file = dir.path() + "/token";
  std::ofstream(token_file) << "s3cret-token\n";
  common::tls::AuthConfig auth;
  auth.bearer_token_file = token_file;
  Start(/*mtls=*/false, auth);
  const std::map<std::string, std::string> labels = {{"receiver", "otlp/secure"},
                                                     {"reason", "unauthenticated"}};
  const double before = MetricValue("tributary_receiver_failed_requests_total", labels);
  EXPECT_EQ(PostHttps("ca.crt", false), 401);
  EXPECT_EQ(PostHttps("ca.crt", false, "wrong"), 401);
  EXPECT_EQ(PostHttps("ca.crt", false, "s3cret-token"), 200);
  EXPECT_EQ(ExportGrpc(Tls("ca.crt", false)), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ExportGrpc(Tls("ca.crt", false), "s3cret-toke"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ExportGrpc(Tls("ca.crt", false), "s3cret-token"), grpc::StatusCode::OK);
  EXPECT_EQ(MetricValue("tributary_receiver_failed_requests_total", labels) - before, 4);
  EXPECT_EQ(out_.records(), 2u);

  // A rotated token takes over without a restart.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::ofstream(token_file) << "rotated\n";
  bool rotated = false;
  for (int i = 0; i < 40 && !rotated; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    rotated = PostHttps("ca.crt", false, "rotated") == 200;
  }
  EXPECT_TRUE(rotated);
  EXPECT_EQ(PostHttps("ca.crt", false, "s3cret-token"), 401);
}

TEST_F(ReceiverSecurityTest, ServerCertificateFilesAreReloadedWhenTheyChange) {
  TempDir dir;
  const std::string crt = dir.path() + "/live.crt", key = dir.path() + "/live.key";
  std::filesystem::copy_file(certs_.path("server.crt"), crt);
  std::filesystem::copy_file(certs_.path("server.key"), key);
  common::tls::TlsServerConfig tls;
  tls.cert_file = crt;
  tls.key_file = key;
  tls.reload_interval = std::chrono::seconds(1);
  OtlpReceiverConfig config;
  config.protocols.grpc.reset();
  config.protocols.http->endpoint = "127.0.0.1:0";
  config.protocols.http->tls = tls;
  core::ReceiverConsumers consumers;
  consumers.traces = &out_;
  receiver_ = std::make_unique<OtlpReceiver>("otlp/reload", config, consumers);
  ASSERT_TRUE(receiver_->Start().ok());
  EXPECT_EQ(PostHttps("ca.crt", false), 200);
  EXPECT_EQ(PostHttps("other.crt", false), -1);
  std::filesystem::copy_file(certs_.path("other-server.crt"), crt,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(certs_.path("other-server.key"), key,
                             std::filesystem::copy_options::overwrite_existing);
  bool reloaded = false;
  for (int i = 0; i < 40 && !reloaded; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    reloaded = PostHttps("other.crt", false) == 200;
  }
  EXPECT_TRUE(reloaded);
  EXPECT_EQ(PostHttps("ca.crt", false), -1);
}

TEST(ReceiverSecurityConfig, BadFilesFailAtStartAndTokensNeedOneSource) {
  common::tls::TlsServerConfig tls;
  tls.cert_file = "/nonexistent.crt";
  tls.key_file = "/nonexistent.key";
  OtlpReceiverConfig config;
  config.protocols.grpc.reset();
  config.protocols.http->endpoint = "127.0.0.1:0";
  config.protocols.http->tls = tls;
  OtlpReceiver receiver("otlp/bad", config, core::ReceiverConsumers{});
  EXPECT_FALSE(receiver.Start().ok());
  common::tls::AuthConfig auth;
  EXPECT_FALSE(auth.Validate().ok());
  auth.bearer_token = "x";
  auth.bearer_token_file = "/y";
  EXPECT_FALSE(auth.Validate().ok());
}

}  // namespace
}  // namespace tributary::receivers::otlp
