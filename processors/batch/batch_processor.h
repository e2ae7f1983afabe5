#ifndef TRIBUTARY_PROCESSORS_BATCH_BATCH_PROCESSOR_H_
#define TRIBUTARY_PROCESSORS_BATCH_BATCH_PROCESSOR_H_

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tributary/core/component.h"
#include "tributary/core/config.h"

namespace tributary::processors::batch {

struct BatchProcessorConfig {
  int64_t send_batch_size = 8192;
  int64_t send_batch_max_size = 0;
  std::chrono::milliseconds timeout{200};
  std::vector<std::string> metadata_keys;
  int64_t metadata_cardinality_limit = 1000;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("send_batch_size", send_batch_size, "records that make a batch be sent at once");
    v.Optional("send_batch_max_size", send_batch_max_size,
               "largest batch sent; larger ones are split (0: no limit)");
    v.Optional("timeout", timeout, "longest a record waits before its batch is sent");
    v.Optional("metadata_keys", metadata_keys,
               "must stay empty: request metadata does not travel with the data, so there is "
               "one batch per pipeline");
    v.Optional("metadata_cardinality_limit", metadata_cardinality_limit,
               "batches by metadata at most; with no metadata_keys there is one");
  }
  absl::Status Validate() const {
    if (!metadata_keys.empty()) {
      return absl::InvalidArgumentError(
          "metadata_keys is not supported: request metadata does not travel with the data");
    }
    if (send_batch_size < 1) return absl::InvalidArgumentError("send_batch_size must be >= 1");
    if (timeout.count() <= 0) return absl::InvalidArgumentError("timeout must be > 0");
    if (send_batch_max_size != 0 && send_batch_max_size < send_batch_size) {
      return absl::InvalidArgumentError("send_batch_max_size must be 0 or >= send_batch_size");
    }
    return absl::OkStatus();
  }
};

// Merges envelopes into one batch until it holds send_batch_size records or
// its oldest record has waited `timeout`, then hands it on with all their
// acks; if the next stage refuses it, every ack fails with that status so the
// senders retry. An envelope that is a full batch by itself, with nothing
// waiting, goes on unchanged.
class BatchProcessor : public core::Processor {
 public:
  BatchProcessor(std::string id, BatchProcessorConfig config, core::Signal signal,
                 core::Consumer* next);
  ~BatchProcessor() override;
  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Consume(core::Envelope envelope) noexcept override;

 private:
  void Run();
  // Hands `batch` on, cut to send_batch_max_size; called with `lock` held on
  // mu_, releases it.
  void Send(std::shared_ptr<const core::Batch> batch, std::vector<core::AckRef> acks,
            const char* trigger, std::unique_lock<std::mutex>& lock);

  const std::string id_;
  const BatchProcessorConfig config_;
  const core::Signal signal_;
  core::Consumer* const next_;
  std::mutex mu_;
  std::mutex send_mu_;  // taken before mu_ is released, held while sending
  std::condition_variable cv_;
  std::optional<core::Batch> pending_;
  std::vector<core::AckRef> pending_acks_;
  core::Clock::time_point pending_since_;
  bool stopping_ = false;
  std::thread timer_;
};

}  // namespace tributary::processors::batch

#endif  // TRIBUTARY_PROCESSORS_BATCH_BATCH_PROCESSOR_H_
