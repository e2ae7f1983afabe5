#include "receivers/kafka/kafka_receiver.h"

#include <condition_variable>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "tributary/core/ordered_acks.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/telemetry.h"

namespace tributary::receivers::kafka {

using common::kafka::BuildConf;
using common::kafka::DecodeMessage;
using common::kafka::DefaultTopic;
using common::kafka::Encoding;
using common::kafka::ParseEncoding;

namespace {

// This component's self-metric families.
const struct {
  core::MetricFamily<::prometheus::Counter> consumed{"tributary_kafka_messages_consumed_total",
                                                     "Messages read from Kafka, by topic"};
  core::MetricFamily<::prometheus::Counter> invalid{
      "tributary_kafka_invalid_messages_total",
      "Messages that did not decode as their topic's encoding, skipped"};
  core::MetricFamily<::prometheus::Counter> rewinds{
      "tributary_kafka_rewinds_total",
      "Partitions read again from an unacknowledged offset after a retryable "
      "failure downstream"};
  core::MetricFamily<::prometheus::Counter> rebalances{
      "tributary_kafka_rebalances_total",
      "Partition assignments and revocations of the consumer group, by kind"};
  core::MetricFamily<::prometheus::Counter> commit_errors{
      "tributary_kafka_commit_errors_total",
      "Offset commits that failed (retried with the next commit)"};
  core::MetricFamily<::prometheus::Gauge> lag{
      "tributary_kafka_consumer_lag", "Messages in a partition not yet read by this consumer"};
} kFamilies;

// The batches of consecutive messages as one batch, resources moved, not
// copied.
core::Batch Merge(std::vector<core::Batch>& parts) {
  core::Batch merged = std::move(parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) merged.Append(std::move(parts[i]));
  return merged;
}

}  // namespace

// What the consumer knows of one assigned partition. The offsets handed on
// and their acknowledgement are guarded by Shared::mu, since acks arrive on
// pipeline threads.
struct KafkaReceiver::PartitionState {
  std::string topic;
  int32_t partition = 0;
  core::OrderedAcks<int64_t> outstanding;  // offsets handed on
  int64_t next_commit = -1;                // the offset to commit: all before it are acknowledged
  int64_t committed = -1;
  uint64_t epoch = 0;  // bumped on rewind and revocation: older acks no longer count
  ::prometheus::Gauge* lag = nullptr;

  void Acknowledge(int64_t offset) {
    outstanding.Acknowledge(offset, [this](int64_t done, bool) { next_commit = done + 1; });
  }
};

// State the acks of envelopes still reach after the receiver is gone.
struct KafkaReceiver::Shared {
  std::mutex mu;
  std::condition_variable cv;
  struct Failure {
    std::shared_ptr<PartitionState> partition;
    int64_t offset;
    uint64_t epoch;
  };
  std::vector<Failure> failures;  // guarded by mu
  std::atomic<int64_t> inflight_bytes{0};
  std::atomic<int64_t> inflight_envelopes{0};
  std::string id;
  std::array<::prometheus::Counter*, 3> accepted{};
  std::array<::prometheus::Counter*, 3> refused{};
  std::array<::prometheus::Counter*, 3> failed{};
};

// Messages of one signal read and not yet handed on.
struct KafkaReceiver::Pending {
  struct Item {
    std::shared_ptr<PartitionState> partition;
    int64_t offset;
    uint64_t epoch;
    size_t records;
    int64_t bytes;
  };
  std::vector<core::Batch> parts;  // parts[i] came in items[i]
  std::vector<Item> items;
  size_t records = 0;
  int64_t bytes = 0;
  core::Clock::time_point first;
};

KafkaReceiver::KafkaReceiver(std::string id, KafkaReceiverConfig config,
                             core::ReceiverConsumers consumers)
    : id_(std::move(id)),
      config_(std::move(config)),
      consumers_(consumers),
      shared_(std::make_shared<Shared>()) {
  shared_->id = id_;
  for (core::Signal s : core::kAllSignals) {
    const size_t i = static_cast<size_t>(s);
    pending_[i] = std::make_unique<Pending>();
    if (consumers_.For(s) == nullptr) continue;
    const ConsumerTopicConfig& t = s == core::Signal::kTraces    ? config_.traces
                                   : s == core::Signal::kMetrics ? config_.metrics
                                                                 : config_.logs;
    for (const std::string& name : t.Names(DefaultTopic(s))) {
      topics_[name] = TopicInfo{s, ParseEncoding(t.encoding).value_or(Encoding::kOtlpProto)};
    }
    auto& telemetry = core::Telemetry::Get();
    shared_->accepted[i] = &telemetry.ReceiverAccepted(id_, s, "kafka");
    shared_->refused[i] = &telemetry.ReceiverRefused(id_, s, "kafka", "refused");
    shared_->failed[i] = &telemetry.ReceiverRefused(id_, s, "kafka", "failed");
  }
}

KafkaReceiver::~KafkaReceiver() { Shutdown(core::Clock::now()); }

void KafkaReceiver::RebalanceCallback(rd_kafka_t*, rd_kafka_resp_err_t err,
                                      rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<KafkaReceiver*>(opaque)->OnRebalance(err, partitions);
}

absl::Status KafkaReceiver::Start() {
  if (topics_.empty()) return absl::InvalidArgumentError("the receiver is in no pipeline");
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"group.id", config_.group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", config_.initial_offset},
      {"session.timeout.ms", std::to_string(config_.session_timeout.count())},
      {"heartbeat.interval.ms", std::to_string(config_.heartbeat_interval.count())},
      {"enable.partition.eof", "false"},
      // A bounded prefetch: the local queue holds this much per partition.
      {"queued.max.messages.kbytes", "16384"},
      {"fetch.min.bytes", std::to_string(config_.min_fetch_size.bytes)},
      {"fetch.max.bytes", std::to_string(config_.max_fetch_size.bytes)},
      {"fetch.wait.max.ms", std::to_string(config_.max_fetch_wait.count())},
      {"max.partition.fetch.bytes", std::to_string(config_.max_partition_fetch_size.bytes)},
  };
  std::vector<std::pair<std::string, std::string>> all = defaults;
  if (!config_.group_rebalance_strategies.empty()) {
    all.emplace_back("partition.assignment.strategy",
                     absl::StrJoin(config_.group_rebalance_strategies, ","));
  }
  if (!config_.group_instance_id.empty()) {
    all.emplace_back("group.instance.id", config_.group_instance_id);
  }
  auto conf = BuildConf(config_.client, all);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_rebalance_cb(conf->get(), &KafkaReceiver::RebalanceCallback);
  rd_kafka_conf_set_offset_commit_cb(
      conf->get(), [](rd_kafka_t*, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t* offsets, void* opaque) {
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
        auto* self = static_cast<KafkaReceiver*>(opaque);
        // Called from the consumer's poll, on the thread that owns assigned_.
        if (offsets != nullptr) self->Uncommitted(err, offsets);
        kFamilies.commit_errors.Add({{"receiver", self->id_}}).Increment();
        uint64_t held = 0;
        if (self->log_limiter_.Allow(&held)) {
          core::Log(core::LogLevel::kWarn, self->id_, "offset commit failed",
                    absl::StrCat("error=", rd_kafka_err2name(err), " suppressed=", held));
        }
      });
  rd_kafka_conf_set_opaque(conf->get(), this);
  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), err, sizeof err);
  if (rk_ == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", err));
  static_cast<void>(conf->release());  // rk_ owns it now
  rd_kafka_poll_set_consumer(rk_);
  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(static_cast<int>(topics_.size()));
  for (const auto& [name, info] : topics_) {
    rd_kafka_topic_partition_list_add(topics, name.c_str(), RD_KAFKA_PARTITION_UA);
  }
  const rd_kafka_resp_err_t sub = rd_kafka_subscribe(rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (sub != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
    return absl::InvalidArgumentError(absl::StrCat("kafka subscribe: ", rd_kafka_err2str(sub)));
  }
  next_commit_ = core::Clock::now() + config_.CommitInterval();
  next_lag_ = core::Clock::now();
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void KafkaReceiver::Shutdown(core::Deadline deadline) noexcept {
  if (rk_ == nullptr) return;
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  // What was handed on is acknowledged now or never: wait for it until the
  // deadline, commit it, and leave the group.
  {
    std::unique_lock lock(shared_->mu);
    shared_->cv.wait_until(lock, deadline, [&] { return shared_->inflight_envelopes == 0; });
  }
  Commit(true);
  for (auto& [key, p] : assigned_) {
    std::lock_guard lock(shared_->mu);
    ++p->epoch;
  }
  rd_kafka_consumer_close(rk_);
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
}

std::shared_ptr<KafkaReceiver::PartitionState> KafkaReceiver::FindPartition(const char* topic,
                                                                            int32_t partition) {
  auto it = assigned_.find({topic, partition});
  return it == assigned_.end() ? nullptr : it->second;
}

void KafkaReceiver::Run() {
  while (!stop_) {
    Rewind();
    const int64_t inflight = shared_->inflight_bytes;
    const int64_t limit = static_cast<int64_t>(config_.max_inflight_bytes.bytes);
    if (!paused_ && inflight > limit) {
      rd_kafka_topic_partition_list_t* parts = nullptr;
      if (rd_kafka_assignment(rk_, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_pause_partitions(rk_, parts);
        rd_kafka_topic_partition_list_destroy(parts);
      }
      paused_ = true;
    } else if (paused_ && inflight <= limit / 2) {
      rd_kafka_topic_partition_list_t* parts = nullptr;
      if (rd_kafka_assignment(rk_, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_resume_partitions(rk_, parts);
        rd_kafka_topic_partition_list_destroy(parts);
      }
      paused_ = false;
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 50);
    if (m != nullptr) {
      Handle(m);
      rd_kafka_message_destroy(m);
    }
    const auto now = core::Clock::now();
    for (core::Signal s : core::kAllSignals) {
      Pending& p = *pending_[static_cast<size_t>(s)];
      if (p.items.empty()) continue;
      // Hand on what has gathered once the flow pauses, the batch is full,
      // or it has waited long enough.
      if (m == nullptr || p.records >= static_cast<size_t>(config_.max_batch_records) ||
          now - p.first > std::chrono::milliseconds(200)) {
        Flush(s);
      }
    }
    if (now >= next_commit_) {
      Commit(false);
      next_commit_ = now + config_.CommitInterval();
    }
    if (now >= next_lag_) {
      UpdateLag();
      next_lag_ = now + std::chrono::seconds(2);
    }
  }
  FlushAll();
}

void KafkaReceiver::Handle(rd_kafka_message_t* m) {
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    uint64_t held = 0;
    if (log_limiter_.Allow(&held)) {
      core::Log(core::LogLevel::kWarn, id_, "kafka consumer error",
                absl::StrCat("error=", rd_kafka_err2name(m->err), " reason=\"",
                             rd_kafka_message_errstr(m), "\" suppressed=", held));
    }
    return;
  }
  const char* topic = rd_kafka_topic_name(m->rkt);
  auto info = topics_.find(topic);
  std::shared_ptr<PartitionState> partition = FindPartition(topic, m->partition);
  if (info == topics_.end() || partition == nullptr) return;
  kFamilies.consumed.Add({{"receiver", id_}, {"topic", topic}}).Increment();
  const core::Signal signal = info->second.signal;
  auto batch = DecodeMessage(
      signal, info->second.encoding,
      std::string_view(static_cast<const char*>(m->payload), m->payload != nullptr ? m->len : 0));
  std::lock_guard lock(shared_->mu);
  if (!batch.ok() || batch->empty()) {
    if (!batch.ok()) {
      kFamilies.invalid.Add({{"receiver", id_}, {"topic", topic}}).Increment();
      core::Telemetry::Get().ReceiverFailedRequests(id_, "kafka", "invalid_message").Increment();
      uint64_t held = 0;
      if (log_limiter_.Allow(&held)) {
        core::Log(core::LogLevel::kWarn, id_, "skipping a message that does not decode",
                  absl::StrCat("topic=", topic, " partition=", m->partition, " offset=", m->offset,
                               " error=\"", batch.status().message(), "\" suppressed=", held));
      }
    }
    // Nothing to hand on: the offset counts as done.
    partition->outstanding.Add(m->offset);
    partition->Acknowledge(m->offset);
    return;
  }
  // A message kept serialized passed the wire check, which holds no invalid
  // record; one that was parsed is checked here.
  const core::ValidationResult invalid =
      batch->wire() != nullptr ? core::ValidationResult{} : core::RemoveInvalidRecords(*batch);
  if (invalid.rejected > 0) {
    core::Telemetry::Get()
        .ReceiverRefused(id_, signal, "kafka", "invalid")
        .Increment(static_cast<double>(invalid.rejected));
  }
  partition->outstanding.Add(m->offset);
  Pending& p = *pending_[static_cast<size_t>(signal)];
  if (p.items.empty()) p.first = core::Clock::now();
  p.records += batch->record_count();
  p.bytes += static_cast<int64_t>(m->len);
  const uint64_t epoch = partition->epoch;
  p.items.push_back(Pending::Item{std::move(partition), m->offset, epoch, batch->record_count(),
                                  static_cast<int64_t>(m->len)});
  p.parts.push_back(*std::move(batch));
}

void KafkaReceiver::FlushAll() {
  for (core::Signal s : core::kAllSignals) Flush(s);
}

void KafkaReceiver::Flush(core::Signal signal) {
  Pending& p = *pending_[static_cast<size_t>(signal)];
  if (p.items.empty()) return;
  const size_t i = static_cast<size_t>(signal);
  const size_t records = p.records;
  const int64_t bytes = p.bytes;
  core::Envelope envelope;
  envelope.batch = p.parts.empty() ? std::make_shared<const core::Batch>(core::LogsRequest())
                                   : std::make_shared<const core::Batch>(Merge(p.parts));
  shared_->inflight_bytes += bytes;
  ++shared_->inflight_envelopes;
  envelope.acks.push_back(
      std::make_shared<core::Ack>([shared = shared_, items = std::move(p.items), records, bytes,
                                   i](const absl::Status& status) {
        shared->inflight_bytes -= bytes;
        {
          std::lock_guard lock(shared->mu);
          if (status.ok() || !core::IsRetryable(status)) {
            // Acknowledged, or failed for good (counted where it failed):
            // either way the offsets are done.
            for (const Pending::Item& item : items) {
              PartitionState& ps = *item.partition;
              if (ps.epoch != item.epoch) continue;
              ps.Acknowledge(item.offset);
            }
          } else {
            for (const Pending::Item& item : items) {
              shared->failures.push_back(Shared::Failure{item.partition, item.offset, item.epoch});
            }
          }
          --shared->inflight_envelopes;
        }
        shared->cv.notify_all();
        if (status.ok()) {
          shared->accepted[i]->Increment(static_cast<double>(records));
        } else if (core::IsRetryable(status)) {
          shared->refused[i]->Increment(static_cast<double>(records));
        } else {
          shared->failed[i]->Increment(static_cast<double>(records));
        }
      }));
  p.parts.clear();
  p.items.clear();
  p.records = 0;
  p.bytes = 0;
  std::vector<core::AckRef> acks = envelope.acks;
  const absl::Status status = consumers_.For(signal)->Consume(std::move(envelope));
  if (!status.ok()) {
    for (const core::AckRef& ack : acks) ack->Fail(status);
  }
}

void KafkaReceiver::Rewind() {
  std::vector<Shared::Failure> failures;
  {
    std::lock_guard lock(shared_->mu);
    failures.swap(shared_->failures);
  }
  if (failures.empty()) return;
  // The first failed offset of each partition, of the current epoch.
  std::map<PartitionState*, int64_t> from;
  std::map<PartitionState*, std::shared_ptr<PartitionState>> keep;
  {
    std::lock_guard lock(shared_->mu);
    for (const Shared::Failure& f : failures) {
      if (f.partition->epoch != f.epoch) continue;
      auto [it, inserted] = from.emplace(f.partition.get(), f.offset);
      if (!inserted) it->second = std::min(it->second, f.offset);
      keep[f.partition.get()] = f.partition;
    }
    for (auto& [p, offset] : from) {
      ++p->epoch;
      p->outstanding.ForgetFrom(offset);
    }
  }
  if (from.empty()) return;
  // Messages of those partitions read but not yet handed on are read again.
  for (auto& pending : pending_) {
    size_t kept = 0;
    for (size_t i = 0; i < pending->items.size(); ++i) {
      Pending::Item& item = pending->items[i];
      if (from.count(item.partition.get()) > 0) {
        pending->records -= item.records;
        pending->bytes -= item.bytes;
        continue;
      }
      if (kept != i) {
        pending->items[kept] = std::move(item);
        pending->parts[kept] = std::move(pending->parts[i]);
      }
      ++kept;
    }
    pending->items.erase(pending->items.begin() + static_cast<ptrdiff_t>(kept),
                         pending->items.end());
    pending->parts.erase(pending->parts.begin() + static_cast<ptrdiff_t>(kept),
                         pending->parts.end());
  }
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(from.size()));
  for (auto& [p, offset] : from) {
    rd_kafka_topic_partition_list_add(list, p->topic.c_str(), p->partition)->offset = offset;
    kFamilies.rewinds.Add({{"receiver", id_}, {"topic", p->topic}}).Increment();
  }
  rd_kafka_error_t* error = rd_kafka_seek_partitions(rk_, list, 5000);
  if (error != nullptr) {
    core::Log(core::LogLevel::kWarn, id_, "seek failed", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  }
  rd_kafka_topic_partition_list_destroy(list);
  // The pipeline refused: give it a moment before reading again.
  for (int i = 0; i < 4 && !stop_; ++i) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 50);
    if (m != nullptr) {
      Handle(m);
      rd_kafka_message_destroy(m);
    }
  }
}

void KafkaReceiver::Commit(bool sync, const std::vector<std::shared_ptr<PartitionState>>* only) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(8);
  {
    std::lock_guard lock(shared_->mu);
    auto add = [&](PartitionState& p) {
      if (p.next_commit > p.committed) {
        rd_kafka_topic_partition_list_add(list, p.topic.c_str(), p.partition)->offset =
            p.next_commit;
        p.committed = p.next_commit;
      }
    };
    if (only != nullptr) {
      for (const auto& p : *only) add(*p);
    } else {
      for (auto& [key, p] : assigned_) add(*p);
    }
  }
  if (list->cnt > 0) {
    const rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list, sync ? 0 : 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) Uncommitted(err, list);
  }
  rd_kafka_topic_partition_list_destroy(list);
}

void KafkaReceiver::Uncommitted(rd_kafka_resp_err_t err,
                                const rd_kafka_topic_partition_list_t* offsets) {
  // The next commit sends these offsets again (for the partitions still
  // assigned).
  std::lock_guard lock(shared_->mu);
  for (int i = 0; i < offsets->cnt; ++i) {
    const rd_kafka_topic_partition_t& o = offsets->elems[i];
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && o.err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    auto it = assigned_.find({o.topic, o.partition});
    if (it != assigned_.end() && it->second->committed >= o.offset) {
      it->second->committed = o.offset - 1;
    }
  }
}

void KafkaReceiver::UpdateLag() {
  for (auto& [key, p] : assigned_) {
    int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(rk_, p->topic.c_str(), p->partition, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, p->topic.c_str(), p->partition);
    int64_t position = -1;
    if (rd_kafka_position(rk_, list) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      position = list->elems[0].offset;
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (position < 0) {
      std::lock_guard lock(shared_->mu);
      position = p->next_commit;
    }
    if (position >= 0) p->lag->Set(static_cast<double>(std::max<int64_t>(0, high - position)));
  }
}

void KafkaReceiver::OnRebalance(rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* partitions) {
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk_)) == "COOPERATIVE";
  const auto& f = kFamilies;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    f.rebalances.Add({{"receiver", id_}, {"kind", "assign"}}).Increment();
    for (int i = 0; i < partitions->cnt; ++i) {
      auto p = std::make_shared<PartitionState>();
      p->topic = partitions->elems[i].topic;
      p->partition = partitions->elems[i].partition;
      p->lag = &f.lag.Add(
          {{"receiver", id_}, {"topic", p->topic}, {"partition", std::to_string(p->partition)}});
      assigned_[{p->topic, p->partition}] = std::move(p);
    }
    core::Log(core::LogLevel::kInfo, id_, "partitions assigned",
              absl::StrCat("count=", partitions->cnt));
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_, partitions)) {
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk_, partitions);
    }
    return;
  }
  // Revoked: hand on what was read, give the pipeline a moment to
  // acknowledge it, and commit, so that the next owner starts where this
  // one's acknowledged data ends.
  f.rebalances.Add({{"receiver", id_}, {"kind", "revoke"}}).Increment();
  FlushAll();
  std::vector<std::shared_ptr<PartitionState>> revoked;
  for (int i = 0; i < partitions->cnt; ++i) {
    auto it = assigned_.find({partitions->elems[i].topic, partitions->elems[i].partition});
    if (it != assigned_.end()) revoked.push_back(it->second);
  }
  {
    std::unique_lock lock(shared_->mu);
    // On shutdown the wait for acknowledgements has already been made.
    const auto wait = stop_ ? core::Clock::duration::zero()
                            : std::min<core::Clock::duration>(config_.session_timeout / 2,
                                                              std::chrono::seconds(5));
    shared_->cv.wait_for(lock, wait, [&] {
      for (const auto& p : revoked) {
        if (!p->outstanding.empty()) return false;
      }
      return true;
    });
  }
  Commit(true, &revoked);
  for (const auto& p : revoked) {
    {
      std::lock_guard lock(shared_->mu);
      ++p->epoch;
    }
    f.lag.Get().Remove(p->lag);
    assigned_.erase({p->topic, p->partition});
  }
  for (auto& pending : pending_) {
    pending->parts.clear();
    pending->items.clear();
    pending->records = 0;
    pending->bytes = 0;
  }
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk_, partitions)) {
      rd_kafka_error_destroy(e);
    }
  } else {
    rd_kafka_assign(rk_, nullptr);
  }
}

}  // namespace tributary::receivers::kafka
