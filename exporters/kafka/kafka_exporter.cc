#include "exporters/kafka/kafka_exporter.h"

#include <condition_variable>
#include <thread>

#include "absl/strings/str_cat.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/registry.h"
#include "tributary/core/telemetry.h"

namespace tributary::exporters::kafka {

using common::kafka::BuildConf;
using common::kafka::DecodeMessage;
using common::kafka::DefaultTopic;
using common::kafka::Encoding;
using common::kafka::IsRetryable;
using common::kafka::ParseEncoding;
using common::kafka::TopicConfig;

namespace {

// The client's local queue holds this many messages at most.
constexpr int kQueueMessages = 100000;

// This component's self-metric families.
const struct {
  core::MetricFamily<::prometheus::Counter> produced{"tributary_kafka_messages_produced_total",
                                                     "Messages the brokers acknowledged"};
  core::MetricFamily<::prometheus::Counter> produced_bytes{
      "tributary_kafka_produced_bytes_total",
      "Bytes of message values the brokers acknowledged (before compression)"};
  core::MetricFamily<::prometheus::Counter> errors{
      "tributary_kafka_delivery_errors_total",
      "Messages whose delivery failed, by librdkafka error code"};
  core::MetricFamily<::prometheus::Counter> oversized{
      "tributary_kafka_oversized_records_total",
      "Records larger than max_message_bytes on their own"};
  core::MetricFamily<::prometheus::Gauge> inflight{
      "tributary_kafka_inflight_messages",
      "Messages produced and waiting for their delivery report"};
  core::MetricFamily<::prometheus::Gauge> queue_fill{"tributary_kafka_queue_fill_ratio",
                                                     "Fill of the client's local queue, 0 to 1"};
  core::MetricFamily<::prometheus::Histogram> latency{
      "tributary_kafka_produce_latency_seconds",
      "Time from produce to delivery report of one message"};
} kFamilies;

const char* CompressionCodec(const std::string& name) {
  if (name == "none" || name == "gzip" || name == "snappy" || name == "lz4" || name == "zstd") {
    return name.c_str();
  }
  return nullptr;
}

}  // namespace

absl::Status KafkaExporterConfig::Validate() const {
  if (absl::Status s = client.Validate(); !s.ok()) return s;
  for (const TopicConfig* t : {&traces, &metrics, &logs}) {
    if (absl::Status s = t->Validate(); !s.ok()) return s;
  }
  const ProducerConfig& p = producer;
  if (p.max_message_bytes.bytes < 1024 || p.max_message_bytes.bytes > 1000000000) {
    return absl::InvalidArgumentError("max_message_bytes must be between 1KiB and 1GB");
  }
  if (CompressionCodec(p.compression) == nullptr) {
    return absl::InvalidArgumentError("compression must be none, gzip, snappy, lz4 or zstd");
  }
  if (p.required_acks != "all" && p.required_acks != "-1" && p.required_acks != "1" &&
      p.required_acks != "0") {
    return absl::InvalidArgumentError("required_acks must be all (or -1), 1 or 0");
  }
  if (p.flush_max_messages < 0) {
    return absl::InvalidArgumentError("flush_max_messages must be >= 0");
  }
  if (p.max_broker_write_bytes.bytes != 0 &&
      p.max_broker_write_bytes.bytes < p.max_message_bytes.bytes) {
    return absl::InvalidArgumentError("max_broker_write_bytes must be >= max_message_bytes");
  }
  if (idempotent && p.required_acks != "all" && p.required_acks != "-1") {
    return absl::InvalidArgumentError("idempotent needs required_acks: all");
  }
  if (timeout.count() < 1000) return absl::InvalidArgumentError("timeout must be at least 1s");
  if (queue_max_bytes.bytes < (1u << 20)) {
    return absl::InvalidArgumentError("queue_max_bytes must be at least 1MiB");
  }
  return absl::OkStatus();
}

// The messages of one Export in flight. Each carries a pointer to its slot
// as the librdkafka opaque; the delivery report fills the slot in.
struct KafkaExporter::Delivery {
  struct Slot {
    Delivery* owner;
    Message* message;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  };
  explicit Delivery(std::vector<Message>& messages) : slots(messages.size()) {
    for (size_t i = 0; i < slots.size(); ++i) {
      slots[i].owner = this;
      slots[i].message = &messages[i];
    }
  }
  void Done(Slot& slot, rd_kafka_resp_err_t err) {
    // A delivered value is not needed again: its memory goes now rather
    // than when the whole batch is done.
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) std::string().swap(slot.message->value);
    std::lock_guard lock(mu);
    slot.err = err;
    if (--outstanding == 0) cv.notify_all();
  }

  std::vector<Slot> slots;
  std::mutex mu;
  std::condition_variable cv;
  size_t outstanding = 0;  // guarded by mu
};

// One librdkafka producer and the thread that serves its delivery reports.
class KafkaExporter::Producer {
 public:
  Producer(KafkaExporter* owner, rd_kafka_t* rk) : owner_(owner), rk_(rk) {
    poller_ = std::thread([this] { Poll(); });
  }
  ~Producer() {
    // Every Export that used this producer has returned, so nothing is in
    // flight; purge what might be left and serve its reports.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    stop_ = true;
    poller_.join();
    rd_kafka_poll(rk_, 0);
    rd_kafka_destroy(rk_);
  }
  rd_kafka_t* rk() const { return rk_; }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    KafkaExporter& e = *static_cast<KafkaExporter*>(opaque);
    auto* slot = static_cast<Delivery::Slot*>(m->_private);
    e.inflight_->Decrement();
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      e.produced_->Increment();
      e.produced_bytes_->Increment(static_cast<double>(m->len));
      const int64_t us = rd_kafka_message_latency(m);
      if (us >= 0) e.latency_->Observe(static_cast<double>(us) / 1e6);
    } else {
      kFamilies.errors.Add({{"exporter", e.id_}, {"code", rd_kafka_err2name(m->err)}}).Increment();
    }
    if (slot != nullptr) slot->owner->Done(*slot, m->err);
  }

  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    KafkaExporter& e = *static_cast<KafkaExporter*>(opaque);
    uint64_t suppressed = 0;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char detail[512];
      rd_kafka_fatal_error(rk, detail, sizeof detail);
      core::Log(core::LogLevel::kError, e.id_, "fatal producer error; the producer is replaced",
                absl::StrCat("reason=\"", detail, "\""));
    } else if (e.log_limiter_.Allow(&suppressed)) {
      core::Log(core::LogLevel::kWarn, e.id_, "kafka client error",
                absl::StrCat("code=", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)),
                             " reason=\"", reason, "\" suppressed=", suppressed));
    }
  }

 private:
  void Poll() {
    auto next_gauge = core::Clock::now();
    while (!stop_) {
      rd_kafka_poll(rk_, 100);
      if (core::Clock::now() >= next_gauge) {
        owner_->queue_fill_->Set(rd_kafka_outq_len(rk_) / static_cast<double>(kQueueMessages));
        next_gauge = core::Clock::now() + std::chrono::seconds(1);
      }
    }
  }

  KafkaExporter* owner_;
  rd_kafka_t* rk_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

KafkaExporter::KafkaExporter(std::string id, KafkaExporterConfig config)
    : id_(std::move(id)), config_(std::move(config)) {
  for (core::Signal s : core::kAllSignals) {
    const TopicConfig& t = s == core::Signal::kTraces    ? config_.traces
                           : s == core::Signal::kMetrics ? config_.metrics
                                                         : config_.logs;
    MessageOptions& o = options_[static_cast<size_t>(s)];
    o.encoding = ParseEncoding(t.encoding).value_or(Encoding::kOtlpProto);
    o.topic = t.topic.empty() ? DefaultTopic(s) : t.topic;
    o.topic_from_attribute = config_.topic_from_attribute;
    o.key_by_trace_id = config_.partition_traces_by_id;
    o.key_by_resource = s == core::Signal::kMetrics
                            ? config_.partition_metrics_by_resource_attributes
                            : config_.partition_logs_by_resource_attributes;
    o.max_message_bytes = config_.producer.max_message_bytes.bytes;
  }
  const auto& f = kFamilies;
  const ::prometheus::Labels labels{{"exporter", id_}};
  produced_ = &f.produced.Add(labels);
  produced_bytes_ = &f.produced_bytes.Add(labels);
  oversized_ = &f.oversized.Add(labels);
  inflight_ = &f.inflight.Add(labels);
  queue_fill_ = &f.queue_fill.Add(labels);
  latency_ = &f.latency.Add(
      labels, ::prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                        0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
}

KafkaExporter::~KafkaExporter() { Shutdown(core::Clock::now()); }

absl::StatusOr<std::shared_ptr<KafkaExporter::Producer>> KafkaExporter::CurrentProducer() {
  std::lock_guard lock(mu_);
  if (shut_down_) return absl::UnavailableError("exporter is shut down");
  if (producer_) return producer_;
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"enable.idempotence", config_.idempotent ? "true" : "false"},
      {"acks", config_.producer.required_acks == "all" ? "-1" : config_.producer.required_acks},
      {"compression.level", std::to_string(config_.producer.compression_params.level)},
      {"compression.codec", config_.producer.compression},
      {"message.timeout.ms", std::to_string(config_.timeout.count())},
      {"linger.ms", std::to_string(config_.producer.linger.count())},
      {"queue.buffering.max.messages", std::to_string(kQueueMessages)},
      {"queue.buffering.max.kbytes", std::to_string(config_.queue_max_bytes.bytes / 1024)},
      // Room for a value of max_message_bytes plus its key and headers.
      {"message.max.bytes", std::to_string(config_.producer.max_broker_write_bytes.bytes != 0
                                               ? config_.producer.max_broker_write_bytes.bytes
                                               : config_.producer.max_message_bytes.bytes + 65536)},
      // The Java client's partitioner, so that keys land where Java
      // producers put them.
      {"partitioner", "murmur2_random"},
      {"batch.size",
       std::to_string(std::max<uint64_t>(config_.producer.max_message_bytes.bytes, 1 << 20))},
      {"retry.backoff.ms", "100"},
  };
  std::vector<std::pair<std::string, std::string>> all = defaults;
  if (config_.producer.flush_max_messages > 0) {
    all.emplace_back("batch.num.messages", std::to_string(config_.producer.flush_max_messages));
  }
  auto conf = BuildConf(config_.client, all);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &Producer::OnDelivery);
  rd_kafka_conf_set_error_cb(conf->get(), &Producer::OnError);
  rd_kafka_conf_set_opaque(conf->get(), this);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), err, sizeof err);
  if (rk == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", err));
  static_cast<void>(conf->release());  // rk owns it now
  producer_ = std::make_shared<Producer>(this, rk);
  return producer_;
}

void KafkaExporter::Replace(const std::shared_ptr<Producer>& failed) {
  std::lock_guard lock(mu_);
  if (producer_ == failed) producer_.reset();
}

rd_kafka_t* KafkaExporter::handle() {
  auto p = CurrentProducer();
  return p.ok() ? (*p)->rk() : nullptr;
}

absl::Status KafkaExporter::Start() {
  auto p = CurrentProducer();
  return p.ok() ? absl::OkStatus() : p.status();
}

void KafkaExporter::Shutdown(core::Deadline deadline) noexcept {
  std::shared_ptr<Producer> p;
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    p = std::move(producer_);
  }
  if (!p) return;
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - core::Clock::now());
  rd_kafka_flush(p->rk(), static_cast<int>(std::max<int64_t>(0, left.count())));
  // What is still queued fails its Export with a retryable error, so that a
  // write-ahead buffer keeps it.
  rd_kafka_purge(p->rk(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
}

void KafkaExporter::Reject(core::Batch records, const std::string& reason,
                           core::ExportReport& report) {
  report.rejected_records += records.record_count();
  if (report.rejected_reason.empty()) report.rejected_reason = reason;
  if (report.rejected) {
    report.rejected->Append(records);
  } else {
    report.rejected = std::move(records);
  }
}

bool KafkaExporter::ProduceAll(rd_kafka_t* rk, std::vector<Message>& messages, Delivery& delivery) {
  const core::Deadline queue_deadline = core::Clock::now() + config_.timeout;
  for (size_t i = 0; i < messages.size(); ++i) {
    Message& m = messages[i];
    Delivery::Slot& slot = delivery.slots[i];
    {
      std::lock_guard lock(delivery.mu);
      ++delivery.outstanding;
    }
    inflight_->Increment();
    rd_kafka_resp_err_t err;
    while (true) {
      err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(m.topic.c_str()),
                              RD_KAFKA_V_KEY(m.key.empty() ? nullptr : m.key.data(), m.key.size()),
                              RD_KAFKA_V_VALUE(m.value.data(), m.value.size()),
                              RD_KAFKA_V_OPAQUE(&slot), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || core::Clock::now() >= queue_deadline) break;
      // The local queue is full: wait for deliveries to make room.
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      inflight_->Decrement();
      kFamilies.errors.Add({{"exporter", id_}, {"code", rd_kafka_err2name(err)}}).Increment();
      delivery.Done(slot, err);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        // The rest waits for the retry too.
        for (size_t j = i + 1; j < messages.size(); ++j) {
          delivery.slots[j].err = RD_KAFKA_RESP_ERR__QUEUE_FULL;
        }
        return false;
      }
      continue;
    }
  }
  return true;
}

absl::Status KafkaExporter::Export(const core::Batch& batch, core::ExportReport& report) noexcept {
  const MessageOptions& options = options_[static_cast<size_t>(batch.signal())];
  std::vector<Message> messages;
  std::vector<core::Batch> oversized;
  if (!BuildMessages(batch, options, &messages, &oversized)) {
    return absl::DataLossError("the batch's serialized records do not parse");
  }
  for (core::Batch& b : oversized) {
    oversized_->Increment(static_cast<double>(b.record_count()));
    Reject(std::move(b),
           absl::StrCat("record larger than max_message_bytes (", options.max_message_bytes, ")"),
           report);
  }

  auto producer = CurrentProducer();
  if (!producer.ok()) return producer.status();
  rd_kafka_t* rk = (*producer)->rk();

  Delivery delivery(messages);
  const bool queue_full = !ProduceAll(rk, messages, delivery);
  {
    std::unique_lock lock(delivery.mu);
    delivery.cv.wait(lock, [&] { return delivery.outstanding == 0; });
  }

  std::optional<core::Batch> retry;
  size_t retry_messages = 0;
  rd_kafka_resp_err_t first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
  bool fatal = false;
  for (size_t i = 0; i < messages.size(); ++i) {
    const rd_kafka_resp_err_t err = delivery.slots[i].err;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    if (err == RD_KAFKA_RESP_ERR__FATAL) fatal = true;
    // The records of the message, to hand back for a retry or refuse.
    auto records = DecodeMessage(batch.signal(), options.encoding, messages[i].value);
    if (!records.ok()) continue;  // our own encoding: cannot happen
    if (IsRetryable(err)) {
      if (first_error == RD_KAFKA_RESP_ERR_NO_ERROR) first_error = err;
      ++retry_messages;
      if (retry) {
        retry->Append(*records);
      } else {
        retry = std::move(*records);
      }
      continue;
    }
    Reject(std::move(*records), absl::StrCat("kafka: ", rd_kafka_err2str(err)), report);
  }
  if (fatal || rd_kafka_fatal_error(rk, nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Replace(*producer);
  }
  if (retry) {
    const std::string why =
        absl::StrCat(retry_messages, " of ", messages.size(),
                     " messages not delivered: ", rd_kafka_err2name(first_error));
    report.retry = std::move(retry);
    return queue_full ? absl::ResourceExhaustedError(why) : absl::UnavailableError(why);
  }
  return absl::OkStatus();
}

}  // namespace tributary::exporters::kafka

namespace tributary {
void RegisterExporterKafka(core::Registry& registry) {
  using exporters::kafka::KafkaExporterConfig;
  registry.Add(core::MakeFactory<core::Exporter, KafkaExporterConfig>(
      "kafka", {core::Signal::kTraces, core::Signal::kMetrics, core::Signal::kLogs},
      "Produces OTLP requests to Kafka topics (librdkafka); acknowledges a batch once every "
      "message of it is delivered.",
      [](const core::CreateContext& ctx,
         const KafkaExporterConfig& config) -> absl::StatusOr<std::unique_ptr<core::Exporter>> {
        return std::make_unique<exporters::kafka::KafkaExporter>(ctx.id.ToString(), config);
      }));
}
}  // namespace tributary
