#include "common/kafka/kafka_client.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/otlp/wire_check.h"
#include "tributary/core/otlp_codec.h"

namespace tributary::common::kafka {

namespace {

bool IsSecret(const std::string& name) {
  return absl::StrContains(name, "password") || absl::StrContains(name, "secret") ||
         absl::StrContains(name, "key.pem") || absl::StrContains(name, "jaas") ||
         absl::StrContains(name, "token");
}

}  // namespace

absl::Status ClientConfig::Validate() const {
  if (brokers.empty()) return absl::InvalidArgumentError("brokers must not be empty");
  for (const std::string& b : brokers) {
    if (b.empty()) return absl::InvalidArgumentError("a broker address is empty");
  }
  const SaslConfig* sasl = Sasl();
  if (auth && auth->sasl && this->sasl) {
    return absl::InvalidArgumentError("auth.sasl and sasl exclude each other");
  }
  if (sasl && sasl->mechanism != "PLAIN" && sasl->mechanism != "SCRAM-SHA-256" &&
      sasl->mechanism != "SCRAM-SHA-512") {
    return absl::InvalidArgumentError(
        "sasl.mechanism must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
  }
  if (!use_leader_epoch) {
    return absl::InvalidArgumentError(
        "use_leader_epoch: false is not supported: librdkafka always checks leader epochs");
  }
  if (conn_idle_timeout.count() < 0) {
    return absl::InvalidArgumentError("conn_idle_timeout must be >= 0");
  }
  const bool encrypted = (tls && tls->enabled && !tls->insecure) ||
                         (properties.count("security.protocol") > 0 &&
                          absl::AsciiStrToLower(properties.at("security.protocol")) == "sasl_ssl");
  if (sasl && !encrypted && !sasl->allow_plaintext) {
    return absl::InvalidArgumentError(
        "sasl without tls sends the credentials unencrypted: add a tls block, or set "
        "sasl.allow_plaintext: true to accept that");
  }
  if (tls) {
    // librdkafka has no TLS version floor of its own; OpenSSL's is 1.2.
    return common::tls::ValidateFor(*tls, {.client = "the Kafka client", .legacy_enabled = true});
  }
  return absl::OkStatus();
}

absl::Status TopicConfig::Validate() const {
  if (!ParseEncoding(encoding)) {
    return absl::InvalidArgumentError(
        absl::StrCat("encoding \"", encoding, "\": use otlp_proto or otlp_json"));
  }
  return absl::OkStatus();
}

std::optional<Encoding> ParseEncoding(std::string_view name) {
  if (name == "otlp_proto") return Encoding::kOtlpProto;
  if (name == "otlp_json") return Encoding::kOtlpJson;
  return std::nullopt;
}

std::string DefaultTopic(core::Signal signal) {
  switch (signal) {
    case core::Signal::kTraces:
      return "otlp_spans";
    case core::Signal::kMetrics:
      return "otlp_metrics";
    case core::Signal::kLogs:
      return "otlp_logs";
  }
  return "otlp_logs";
}

absl::StatusOr<ConfPtr> BuildConf(
    const ClientConfig& config, const std::vector<std::pair<std::string, std::string>>& defaults) {
  std::vector<std::pair<std::string, std::string>> props = defaults;
  props.emplace_back("bootstrap.servers", absl::StrJoin(config.brokers, ","));
  props.emplace_back("client.id", config.client_id);
  const bool tls = config.tls && config.tls->enabled && !config.tls->insecure;
  if (const SaslConfig* sasl = config.Sasl()) {
    props.emplace_back("security.protocol", tls ? "sasl_ssl" : "sasl_plaintext");
    props.emplace_back("sasl.mechanisms", sasl->mechanism);
    props.emplace_back("sasl.username", sasl->username);
    props.emplace_back("sasl.password", sasl->password);
  } else if (tls) {
    props.emplace_back("security.protocol", "ssl");
  }
  if (tls && !config.tls->ca_file.empty()) {
    props.emplace_back("ssl.ca.location", config.tls->ca_file);
  }
  if (tls && !config.tls->cert_file.empty()) {
    props.emplace_back("ssl.certificate.location", config.tls->cert_file);
    props.emplace_back("ssl.key.location", config.tls->key_file);
  }
  if (tls && config.tls->insecure_skip_verify) {
    props.emplace_back("enable.ssl.certificate.verification", "false");
  }
  if (!config.protocol_version.empty()) {
    props.emplace_back("broker.version.fallback", config.protocol_version);
  }
  if (config.metadata) {
    props.emplace_back("topic.metadata.refresh.sparse", config.metadata->full ? "false" : "true");
    props.emplace_back("topic.metadata.refresh.interval.ms",
                       std::to_string(config.metadata->refresh_interval.count()));
  }
  if (!config.rack_id.empty()) props.emplace_back("client.rack", config.rack_id);
  if (config.conn_idle_timeout.count() > 0) {
    props.emplace_back("connections.max.idle.ms", std::to_string(config.conn_idle_timeout.count()));
  }
  for (const auto& [k, v] : config.properties) props.emplace_back(k, v);

  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [name, value] : props) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
      if (IsSecret(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("librdkafka property ", name, ": invalid value"));
      }
      return absl::InvalidArgumentError(absl::StrCat("librdkafka property ", name, ": ", err));
    }
  }
  return conf;
}

bool IsRetryable(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
      return false;
    default:
      return true;
  }
}

absl::StatusOr<core::Batch> DecodeMessage(core::Signal signal, Encoding encoding,
                                          std::string_view value) {
  if (encoding == Encoding::kOtlpJson) return core::DecodeOtlpJson(signal, value);
  // A valid request is kept as its bytes (consecutive messages then join by
  // concatenation); only one the wire check cannot vouch for is parsed.
  static const otlp::RecordLimits kUnlimited{0, core::ByteSize{0}};
  if (std::optional<size_t> records = otlp::PassesUnchanged(signal, value, kUnlimited)) {
    return core::Batch(signal, std::string(value), *records);
  }
  return core::DecodeOtlpProto(signal, value);
}

}  // namespace tributary::common::kafka
