#ifndef TRIBUTARY_EXPORTERS_KAFKA_KAFKA_CLIENT_H_
#define TRIBUTARY_EXPORTERS_KAFKA_KAFKA_CLIENT_H_

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tributary/core/batch.h"

// What the Kafka exporter and receiver share: how to reach the cluster
// (brokers, SASL, TLS, raw librdkafka properties) and the message encodings.
namespace tributary::kafka {

struct SaslConfig {
  std::string mechanism = "PLAIN";
  std::string username;
  std::string password;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("mechanism", mechanism, "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
    v.Required("username", username, "SASL user name");
    v.Optional("password", password, "SASL password (use ${env:NAME}); never logged");
  }
};

struct KafkaTlsConfig {
  bool enabled = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool insecure_skip_verify = false;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("enabled", enabled, "connect with TLS (also implied by any file below)");
    v.Optional("ca_file", ca_file, "CA certificates to verify the brokers (PEM)");
    v.Optional("cert_file", cert_file, "client certificate for mutual TLS (PEM)");
    v.Optional("key_file", key_file, "client private key for mutual TLS (PEM)");
    v.Optional("insecure_skip_verify", insecure_skip_verify,
               "do not verify the brokers' certificates (testing only)");
  }
};

// The connection settings of every Kafka client. `properties` are librdkafka
// configuration properties applied last, so that any of them can be set.
struct ClientConfig {
  std::vector<std::string> brokers{"localhost:9092"};
  std::string client_id = "tributary";
  std::optional<SaslConfig> sasl;
  KafkaTlsConfig tls;
  std::map<std::string, std::string> properties;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("brokers", brokers,
               "bootstrap brokers, host:port (an entry may list several, comma-separated)");
    v.Optional("client_id", client_id, "client.id sent to the brokers");
    v.Optional("sasl", sasl, "SASL authentication");
    v.Optional("tls", tls, "TLS to the brokers");
    v.Optional("properties", properties,
               "librdkafka properties passed through as they are (applied last)");
  }
  absl::Status Validate() const;
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

// Decodes a message value in `encoding`.
absl::StatusOr<core::Batch> DecodeMessage(core::Signal signal, Encoding encoding,
                                          std::string_view value);

}  // namespace tributary::kafka

#endif  // TRIBUTARY_EXPORTERS_KAFKA_KAFKA_CLIENT_H_
