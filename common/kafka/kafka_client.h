#ifndef TRIBUTARY_COMMON_KAFKA_KAFKA_CLIENT_H_
#define TRIBUTARY_COMMON_KAFKA_KAFKA_CLIENT_H_

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/tls/client_config.h"
#include "tributary/core/batch.h"

// What the Kafka exporter and receiver share: how to reach the cluster
// (brokers, SASL, TLS, raw librdkafka properties) and the message encodings.
namespace tributary::common::kafka {

struct SaslConfig {
  std::string mechanism = "PLAIN";
  std::string username;
  std::string password;
  bool allow_plaintext = false;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("mechanism", mechanism, "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
    v.Required("username", username, "SASL user name");
    v.Optional("password", password, "SASL password (use ${env:NAME}); never logged");
    v.Optional("allow_plaintext", allow_plaintext,
               "allow SASL over a connection without TLS (PLAIN then sends the password in "
               "clear); without it, `sasl` needs a `tls` block");
    v.Unsupported("aws_msk", "AWS MSK IAM is not built in");
  }
};

// The OpenTelemetry Collector's `auth` block of its Kafka clients.
struct AuthConfig {
  std::optional<SaslConfig> sasl;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("sasl", sasl, "SASL authentication");
    v.Unsupported("plain_text", "use `sasl` with mechanism PLAIN");
    v.Unsupported("tls", "use the client's `tls` block");
    v.Unsupported("kerberos", "Kerberos (GSSAPI) is not built in");
  }
};

// The Collector's `metadata` block.
struct MetadataConfig {
  bool full = true;
  std::chrono::milliseconds refresh_interval = std::chrono::minutes(10);
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("full", full, "fetch the metadata of every topic, not only those used");
    v.Optional("refresh_interval", refresh_interval,
               "how often metadata is refreshed (topic.metadata.refresh.interval.ms)");
    v.Unsupported("retry", "librdkafka retries metadata requests on its own schedule");
  }
};

// The connection settings of every Kafka client. `properties` are librdkafka
// configuration properties applied last, so that any of them can be set.
struct ClientConfig {
  std::vector<std::string> brokers{"localhost:9092"};
  std::string client_id = "tributary";
  std::optional<AuthConfig> auth;
  std::optional<SaslConfig> sasl;  // the older spelling of auth.sasl
  std::optional<common::tls::TlsClientConfig> tls;
  std::string protocol_version;
  std::optional<MetadataConfig> metadata;
  std::string rack_id;
  std::chrono::milliseconds conn_idle_timeout{0};
  bool use_leader_epoch = true;
  std::map<std::string, std::string> properties;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("brokers", brokers,
               "bootstrap brokers, host:port (an entry may list several, comma-separated)");
    v.Optional("client_id", client_id, "client.id sent to the brokers");
    v.Optional("auth", auth, "authentication");
    v.Deprecated("sasl", sasl, "auth.sasl");
    v.Optional("tls", tls, "TLS to the brokers: on when the block is present, unless `insecure`");
    v.Optional("protocol_version", protocol_version,
               "the brokers' Kafka version (`2.1.0`), for brokers that do not say which API "
               "versions they have (broker.version.fallback); empty asks them");
    v.Optional("metadata", metadata, "cluster metadata");
    v.Optional("rack_id", rack_id, "the client's rack (client.rack)");
    v.Optional("conn_idle_timeout", conn_idle_timeout,
               "idle connections are closed after this long (connections.max.idle.ms); 0 keeps "
               "them");
    v.Optional("use_leader_epoch", use_leader_epoch,
               "must stay true: librdkafka always checks leader epochs");
    v.Optional("properties", properties,
               "librdkafka properties passed through as they are (applied last)");
  }
  absl::Status Validate() const;
  // auth.sasl, else sasl; null without SASL.
  const SaslConfig* Sasl() const {
    if (auth && auth->sasl) return &*auth->sasl;
    return sasl ? &*sasl : nullptr;
  }
};

// The topic and encoding of one signal.
struct TopicConfig {
  std::string topic;
  std::string encoding = "otlp_proto";
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("topic", topic, "topic (default otlp_spans, otlp_metrics, otlp_logs)");
    v.Optional("encoding", encoding, "otlp_proto or otlp_json");
  }
  absl::Status Validate() const;
};

enum class Encoding { kOtlpProto, kOtlpJson };
std::optional<Encoding> ParseEncoding(std::string_view name);

// The OpenTelemetry Collector's default topics: otlp_spans, otlp_metrics,
// otlp_logs.
std::string DefaultTopic(core::Signal signal);

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// A librdkafka configuration: `defaults` first, then what `config` sets. An
// invalid property is an error naming the property; the value is left out
// of the message when the property holds a secret.
absl::StatusOr<ConfPtr> BuildConf(const ClientConfig& config,
                                  const std::vector<std::pair<std::string, std::string>>& defaults);

// Whether a delivery that failed with `err` can succeed when produced again.
bool IsRetryable(rd_kafka_resp_err_t err);

// Decodes a message value in `encoding`: an OTLP protobuf value the wire
// check passes stays serialized, as the OTLP receiver keeps a request.
absl::StatusOr<core::Batch> DecodeMessage(core::Signal signal, Encoding encoding,
                                          std::string_view value);

}  // namespace tributary::common::kafka

#endif  // TRIBUTARY_COMMON_KAFKA_KAFKA_CLIENT_H_
