#include "processors/batch/batch_processor.h"

#include "tributary/core/registry.h"
#include "tributary/core/telemetry.h"

namespace tributary::processors::batch {

BatchProcessor::BatchProcessor(std::string id, BatchProcessorConfig config, core::Signal signal,
                               core::Consumer* next)
    : id_(std::move(id)), config_(config), signal_(signal), next_(next) {}

BatchProcessor::~BatchProcessor() { Shutdown(core::Clock::now()); }

absl::Status BatchProcessor::Start() {
  timer_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

absl::Status BatchProcessor::Consume(core::Envelope envelope) noexcept {
  if (!envelope.batch || envelope.batch->empty()) return absl::OkStatus();
  const size_t batch_size = static_cast<size_t>(config_.send_batch_size);
  std::shared_ptr<const core::Batch> full;
  std::vector<core::AckRef> acks;
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return absl::UnavailableError("batch processor is shutting down");
  if (!pending_ && envelope.batch->record_count() >= batch_size) {
    // Already a batch of its own: handed on as it is, without a copy.
    full = std::move(envelope.batch);
    acks = std::move(envelope.acks);
  } else {
    if (!pending_) {
      pending_ = core::TakeBatch(std::move(envelope.batch));
      pending_since_ = core::Clock::now();
      cv_.notify_one();
    } else {
      pending_->Append(*envelope.batch);
    }
    for (auto& ack : envelope.acks) pending_acks_.push_back(std::move(ack));
    if (pending_->record_count() < batch_size) return absl::OkStatus();
    full = std::make_shared<const core::Batch>(std::move(*pending_));
    pending_.reset();
    acks.swap(pending_acks_);
  }
  Send(std::move(full), std::move(acks), "size", lock);
  return absl::OkStatus();
}

void BatchProcessor::Send(std::shared_ptr<const core::Batch> batch, std::vector<core::AckRef> acks,
                          const char* trigger, std::unique_lock<std::mutex>& lock) {
  // Batches leave in the order they were taken: the next stage sees each
  // sender's records in the order they came.
  std::lock_guard<std::mutex> send_lock(send_mu_);
  lock.unlock();
  core::Telemetry& t = core::Telemetry::Get();
  const size_t max = static_cast<size_t>(config_.send_batch_max_size);
  std::vector<std::shared_ptr<const core::Batch>> parts;
  if (max == 0 || batch->record_count() <= max) {
    parts.push_back(std::move(batch));
  } else {
    for (core::Batch& part : core::TakeBatch(std::move(batch)).Split(max)) {
      parts.push_back(std::make_shared<const core::Batch>(std::move(part)));
    }
  }
  // Every part carries all the acks: each sender hears of the outcome of the
  // parts its records went into.
  for (auto& part : parts) {
    t.BatchSize(id_, signal_).Observe(static_cast<double>(part->record_count()));
    t.ProcessorFlushes(id_, trigger).Increment();
    core::Envelope out;
    out.batch = std::move(part);
    out.acks = acks;
    const double records = static_cast<double>(out.batch->record_count());
    absl::Status s = next_->Consume(std::move(out));
    if (!s.ok()) {
      t.ProcessorReturned(id_, signal_).Increment(records);
      for (const auto& ack : acks) ack->Fail(s);
    }
  }
}

void BatchProcessor::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (stopping_) break;
    if (!pending_) {
      cv_.wait(lock, [&] { return stopping_ || pending_.has_value(); });
      continue;
    }
    const auto due = pending_since_ + config_.timeout;
    if (core::Clock::now() < due) {
      cv_.wait_until(lock, due, [&] { return stopping_ || !pending_.has_value(); });
      continue;
    }
    auto batch = std::make_shared<const core::Batch>(std::move(*pending_));
    pending_.reset();
    std::vector<core::AckRef> acks;
    acks.swap(pending_acks_);
    Send(std::move(batch), std::move(acks), "timeout", lock);
    lock.lock();
  }
}

void BatchProcessor::Shutdown(core::Deadline) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (timer_.joinable()) timer_.join();
  std::unique_lock<std::mutex> lock(mu_);
  if (!pending_) return;
  auto batch = std::make_shared<const core::Batch>(std::move(*pending_));
  pending_.reset();
  std::vector<core::AckRef> acks;
  acks.swap(pending_acks_);
  Send(std::move(batch), std::move(acks), "shutdown", lock);
}

}  // namespace tributary::processors::batch

namespace tributary {
void RegisterProcessorBatch(core::Registry& registry) {
  using processors::batch::BatchProcessorConfig;
  registry.Add(
      core::MakeFactory<core::Processor, BatchProcessorConfig, core::Signal, core::Consumer*>(
          "batch", {core::Signal::kTraces, core::Signal::kMetrics, core::Signal::kLogs},
          "Groups records into larger batches by size and time.",
          [](const core::CreateContext& ctx, const BatchProcessorConfig& config,
             core::Signal signal,
             core::Consumer* next) -> absl::StatusOr<std::unique_ptr<core::Processor>> {
            return std::make_unique<processors::batch::BatchProcessor>(ctx.id.ToString(), config,
                                                                       signal, next);
          }));
}
}  // namespace tributary
