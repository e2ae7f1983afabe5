#ifndef TRIBUTARY_EXPORTERS_KAFKA_KAFKA_EXPORTER_H_
#define TRIBUTARY_EXPORTERS_KAFKA_KAFKA_EXPORTER_H_

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/kafka/kafka_client.h"
#include "exporters/kafka/message_builder.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/exporter_config.h"
#include "tributary/core/log.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace tributary::exporters::kafka {

struct CompressionParams {
  int64_t level = -1;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("level", level, "codec level (compression.level); -1 is the codec's default");
  }
};

// The Collector's `producer` block.
struct ProducerConfig {
  core::ByteSize max_message_bytes{1000000};
  std::string required_acks = "all";
  std::string compression = "none";
  CompressionParams compression_params;
  std::chrono::milliseconds linger = std::chrono::milliseconds(5);
  int64_t flush_max_messages = 0;
  core::ByteSize max_broker_write_bytes{0};
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("max_message_bytes", max_message_bytes,
               "largest message value; batches are cut to fit (the broker's message.max.bytes "
               "must allow it)");
    v.Optional("required_acks", required_acks,
               "all (or -1), 1 or 0 (idempotence needs all); a batch is acknowledged upstream "
               "only once every message of it has a successful delivery report");
    v.Optional("compression", compression, "none, gzip, snappy, lz4 or zstd");
    v.Optional("compression_params", compression_params, "compression level");
    v.Optional("linger", linger, "time the client waits to fill a produce request (linger.ms)");
    v.Optional("flush_max_messages", flush_max_messages,
               "messages in one produce request at most (batch.num.messages); 0 is librdkafka's "
               "10000");
    v.Optional("max_broker_write_bytes", max_broker_write_bytes,
               "largest produce request (message.max.bytes); 0 is max_message_bytes plus room "
               "for keys and headers");
    v.Unsupported("allow_auto_topic_creation",
                  "topics are created by the broker (auto.create.topics.enable) or beforehand");
  }
};

struct KafkaExporterConfig {
  common::kafka::ClientConfig client;
  common::kafka::TopicConfig traces;
  common::kafka::TopicConfig metrics;
  common::kafka::TopicConfig logs;
  std::string topic_from_attribute;
  bool partition_traces_by_id = true;
  bool partition_metrics_by_resource_attributes = true;
  bool partition_logs_by_resource_attributes = true;
  ProducerConfig producer;
  bool idempotent = true;
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  core::ByteSize queue_max_bytes{64ull << 20};
  core::QueueConfig sending_queue;
  core::RetryConfig retry_on_failure;
  std::optional<core::DeadLetterConfig> dead_letter;
  template <class V>
  void VisitFields(V&& v) {
    client.VisitFields(v);
    v.Optional("traces", traces, "topic and encoding of spans");
    v.Optional("metrics", metrics, "topic and encoding of metrics");
    v.Optional("logs", logs, "topic and encoding of logs");
    v.Optional("topic_from_attribute", topic_from_attribute,
               "resource attribute whose value, when set, is the topic instead");
    v.Optional("partition_traces_by_id", partition_traces_by_id,
               "key span messages by trace id: one trace per message, all its spans in one "
               "partition");
    v.Optional("partition_metrics_by_resource_attributes", partition_metrics_by_resource_attributes,
               "key metric messages by a hash of the resource attributes");
    v.Optional("partition_logs_by_resource_attributes", partition_logs_by_resource_attributes,
               "key log messages by a hash of the resource attributes");
    v.Optional("producer", producer, "how messages are produced");
    v.Deprecated("max_message_bytes", producer.max_message_bytes, "producer.max_message_bytes");
    v.Deprecated("compression", producer.compression, "producer.compression");
    v.Deprecated("required_acks", producer.required_acks, "producer.required_acks");
    v.Optional("idempotent", idempotent,
               "idempotent producer: retries inside the client never duplicate or reorder");
    v.Optional("timeout", timeout,
               "time a message may take to be delivered (message.timeout.ms) and a full local "
               "queue may block a batch before it is retried later");
    v.Deprecated("linger", producer.linger, "producer.linger");
    v.Optional("queue_max_bytes", queue_max_bytes,
               "memory of the client's local queue; when full, batches wait (backpressure)");
    v.Optional("sending_queue", sending_queue, "in-memory queue in front of the exporter");
    v.Optional("retry_on_failure", retry_on_failure,
               "retry of messages whose delivery failed with a retryable error");
    v.Optional("dead_letter", dead_letter,
               "where records Kafka refuses for good are kept (too large, not authorised)");
    v.Unsupported("profiles", "Tributary carries no profiles");
    v.Unsupported("include_metadata_keys", "client metadata does not travel with the data");
    v.Unsupported("record_headers", "messages carry no configured headers");
    v.Unsupported("signal_header", "messages carry no configured headers");
    v.Unsupported("record_partitioner",
                  "messages are keyed (partition_*); the partitioner is murmur2, as Java's");
    v.Unsupported(
        "partition_logs_by_trace_id",
        "log messages are keyed by their resource (partition_logs_by_resource_attributes)");
  }
  absl::Status Validate() const;
};

// Produces batches to Kafka with librdkafka. A batch becomes messages
// (message_builder.h), each produced without copying; Export returns once
// every message has its delivery report. Messages that failed with a
// retryable error are kept and only they are produced again on the retry of
// the same batch; those refused for good go back as rejected records.
class KafkaExporter : public core::Exporter {
 public:
  KafkaExporter(std::string id, KafkaExporterConfig config);
  ~KafkaExporter() override;
  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Export(const core::Batch& batch, core::ExportReport& report) noexcept override;
  int MaxConcurrency() const override { return 16; }
  // Messages are composed from the serialized request.
  bool ReadsWireForm() const override { return true; }

  // For tests: the librdkafka handle in use.
  rd_kafka_t* handle();

 private:
  class Producer;
  struct Delivery;
  absl::StatusOr<std::shared_ptr<Producer>> CurrentProducer();
  // Replaces a producer that hit a fatal error with a new one.
  void Replace(const std::shared_ptr<Producer>& failed);
  // Produces each message with its delivery slot; false if the client's
  // queue stayed full until the timeout (the messages not produced are
  // marked for the retry).
  bool ProduceAll(rd_kafka_t* rk, std::vector<Message>& messages, Delivery& delivery);
  // Adds refused records to the report for the dead-letter file.
  void Reject(core::Batch records, const std::string& reason, core::ExportReport& report);

  const std::string id_;
  const KafkaExporterConfig config_;
  std::array<MessageOptions, 3> options_;  // by Signal
  std::mutex mu_;
  std::shared_ptr<Producer> producer_;
  bool shut_down_ = false;
  core::LogLimiter log_limiter_;

  ::prometheus::Counter* produced_;
  ::prometheus::Counter* produced_bytes_;
  ::prometheus::Counter* oversized_;
  ::prometheus::Gauge* inflight_;
  ::prometheus::Gauge* queue_fill_;
  ::prometheus::Histogram* latency_;
};

}  // namespace tributary::exporters::kafka

#endif  // TRIBUTARY_EXPORTERS_KAFKA_KAFKA_EXPORTER_H_
