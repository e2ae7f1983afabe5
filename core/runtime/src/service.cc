#include "tributary/core/runtime/service.h"

#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tributary/core/log.h"
#include "tributary/core/memory_budget.h"
#include "tributary/core/runtime/admin_server.h"
#include "tributary/core/runtime/exporter_runner.h"
#include "tributary/core/telemetry.h"

#ifndef TRIBUTARY_VERSION
#define TRIBUTARY_VERSION "0.0.0"
#endif

namespace tributary::core::runtime {

namespace {

// Hands each envelope to several consumers; refused if any refuses.
class FanoutConsumer : public Consumer {
 public:
  explicit FanoutConsumer(std::vector<Consumer*> next) : next_(std::move(next)) {}
  absl::Status Consume(Envelope envelope) noexcept override {
    absl::Status result;
    for (Consumer* c : next_) {
      absl::Status s = c->Consume(envelope);
      if (!s.ok() && result.ok()) result = s;
    }
    return result;
  }

 private:
  std::vector<Consumer*> next_;
};

// Counts what a pipeline accepts, for the accounting of self-metrics.
class PipelineHead : public Consumer {
 public:
  PipelineHead(const std::string& pipeline, Signal signal, Consumer* next)
      : received_(Telemetry::Get().PipelineReceived(pipeline, signal)), next_(next) {}
  absl::Status Consume(Envelope envelope) noexcept override {
    const double records = envelope.batch ? static_cast<double>(envelope.batch->record_count()) : 0;
    absl::Status s = next_->Consume(std::move(envelope));
    if (s.ok()) received_.Increment(records);
    return s;
  }

 private:
  prometheus::Counter& received_;
  Consumer* next_;
};

}  // namespace

Service::Service(const Registry& registry, ServiceConfig config, std::string program)
    : registry_(registry), config_(std::move(config)), program_(std::move(program)) {}

Service::~Service() { Shutdown(); }

int Service::admin_port() const { return admin_ ? admin_->port() : 0; }

absl::Status Service::Start() {
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(config_.settings.log_level, &level);
  SetLogLevel(level);
  Telemetry::Get().SetBuildInfo(program_, TRIBUTARY_VERSION);
  MemoryBudget::Process().SetLimit(config_.settings.memory_budget.bytes);
  if (!config_.settings.admin.endpoint.empty()) {
    admin_ = std::make_unique<AdminServer>(
        config_.settings.admin.endpoint, config_.settings.admin.limits,
        [this] { return ready_.load(); }, [this] { return StatusText(); });
    if (absl::Status s = admin_->Start(); !s.ok()) return s;
  }
  if (absl::Status s = CreateExporters(); !s.ok()) return s;
  ReceiverHeads receiver_heads;
  for (const PipelineSpec& p : config_.pipelines) {
    if (absl::Status s = BuildPipeline(p, &receiver_heads); !s.ok()) return s;
  }
  if (absl::Status s = CreateReceivers(receiver_heads); !s.ok()) return s;
  if (absl::Status s = StartComponents(); !s.ok()) return s;
  if (config_.settings.memory_trim_interval.count() > 0) StartTrimmer();
  ready_ = true;
  Log(LogLevel::kInfo, program_, "started",
      absl::StrCat("pipelines=", config_.pipelines.size(), " version=", TRIBUTARY_VERSION));
  return absl::OkStatus();
}

absl::Status Service::CreateExporters() {
  // Exporters, one instance each, shared by the pipelines naming them.
  for (const PipelineSpec& p : config_.pipelines) {
    for (const ComponentId& id : p.exporters) {
      const std::string key = id.ToString();
      if (exporters_.count(key)) continue;
      const ComponentSpec& spec = config_.exporters.at(key);
      const ExporterFactory& f = registry_.exporters().at(id.type);
      auto exporter = f.create(CreateContext{id, program_}, spec.config.get());
      if (!exporter.ok()) {
        return absl::Status(exporter.status().code(),
                            absl::StrCat("exporter ", key, ": ", exporter.status().message()));
      }
      exporters_[key] = std::make_unique<ExporterRunner>(
          key, std::move(*exporter), f.queue(spec.config.get()), f.retry(spec.config.get()),
          f.dead_letter(spec.config.get()));
    }
  }
  return absl::OkStatus();
}

absl::Status Service::BuildPipeline(const PipelineSpec& p, ReceiverHeads* receiver_heads) {
  // Built back to front; processors get one instance per pipeline.
  Consumer* next = nullptr;
  if (!config_.settings.buffer.directory.empty()) {
    // The buffer sits between the processors and the exporters, one cursor each.
    BufferOptions options = BufferOptions::From(config_.settings.buffer, p.id, p.signal);
    if (!p.when_full.empty()) options.when_full = ParseWhenFull(p.when_full).value();
    auto buffer = std::make_unique<WriteAheadBuffer>(options);
    for (const ComponentId& id : p.exporters) {
      ExporterRunner* runner = exporters_.at(id.ToString()).get();
      buffer->AddCursor(id.ToString(), runner, runner->ReadsWireForm());
    }
    next = buffer.get();
    buffers_.push_back(std::move(buffer));
  } else {
    std::vector<Consumer*> outs;
    for (const ComponentId& id : p.exporters) outs.push_back(exporters_.at(id.ToString()).get());
    next = outs.front();
    if (outs.size() > 1) {
      fanouts_.push_back(std::make_unique<FanoutConsumer>(outs));
      next = fanouts_.back().get();
    }
  }
  for (auto it = p.processors.rbegin(); it != p.processors.rend(); ++it) {
    const std::string key = it->ToString();
    const ComponentSpec& spec = config_.processors.at(key);
    ComponentId instance_id = *it;
    auto processor = registry_.processors().at(it->type).create(
        CreateContext{instance_id, program_}, spec.config.get(), p.signal, next);
    if (!processor.ok()) {
      return absl::Status(processor.status().code(),
                          absl::StrCat("processor ", key, " in pipeline ", p.id, ": ",
                                       processor.status().message()));
    }
    next = processor->get();
    processors_.push_back(std::move(*processor));
  }
  fanouts_.push_back(std::make_unique<PipelineHead>(p.id, p.signal, next));
  next = fanouts_.back().get();
  for (const ComponentId& id : p.receivers)
    (*receiver_heads)[id.ToString()][p.signal].push_back(next);
  return absl::OkStatus();
}

absl::Status Service::CreateReceivers(const ReceiverHeads& receiver_heads) {
  for (const auto& [key, heads] : receiver_heads) {
    ReceiverConsumers consumers;
    for (const auto& [signal, list] : heads) {
      Consumer* c = list.front();
      if (list.size() > 1) {
        fanouts_.push_back(std::make_unique<FanoutConsumer>(list));
        c = fanouts_.back().get();
      }
      if (signal == Signal::kTraces) consumers.traces = c;
      if (signal == Signal::kMetrics) consumers.metrics = c;
      if (signal == Signal::kLogs) consumers.logs = c;
    }
    const ComponentSpec& spec = config_.receivers.at(key);
    auto receiver = registry_.receivers()
                        .at(spec.id.type)
                        .create(CreateContext{spec.id, program_}, spec.config.get(), consumers);
    if (!receiver.ok()) {
      return absl::Status(receiver.status().code(),
                          absl::StrCat("receiver ", key, ": ", receiver.status().message()));
    }
    receivers_[key] = std::move(*receiver);
  }
  return absl::OkStatus();
}

absl::Status Service::StartComponents() {
  for (auto& [key, runner] : exporters_) {
    if (absl::Status s = runner->Start(); !s.ok()) return s;
  }
  for (auto& b : buffers_) {
    if (absl::Status s = b->Start(); !s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("buffer of pipeline ", b->options().name, ": ", s.message()));
    }
  }
  for (auto& p : processors_) {
    if (absl::Status s = p->Start(); !s.ok()) return s;
  }
  for (auto& [key, r] : receivers_) {
    if (absl::Status s = r->Start(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("receiver ", key, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

void Service::StartTrimmer() {
  // glibc keeps freed memory in its arenas; after a burst (a backlog sent,
  // a spike of large batches) that shows as resident memory far above what
  // is in use. It goes back once the free part outgrows three times what is
  // in use: the ordinary churn of batches (a batch of 8192 spans read back
  // from the buffer, exported and freed swings the heap by tens of MiB) is
  // reused where it lies, so resident memory is flat in steady state instead
  // of being handed back and faulted in again every interval.
  trimmer_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(trim_mu_);
    while (!trim_cv_.wait_for(lock, config_.settings.memory_trim_interval,
                              [&] { return trim_stop_; })) {
      lock.unlock();
      const struct mallinfo2 info = mallinfo2();
      if (info.fordblks > std::max<size_t>(32u << 20, 3 * info.uordblks)) malloc_trim(0);
      lock.lock();
    }
  });
}

void Service::Shutdown() noexcept {
  if (shut_down_) return;
  shut_down_ = true;
  ready_ = false;
  const Deadline deadline = Clock::now() + config_.settings.shutdown_timeout;
  for (auto& [key, r] : receivers_) r->Shutdown(deadline);
  // Processors were created back to front; flush them front to back.
  for (auto it = processors_.rbegin(); it != processors_.rend(); ++it) (*it)->Shutdown(deadline);
  // Buffers write what they hold and stop reading; the exporters then finish
  // what they were given; what they could not is left in the buffer.
  for (auto& b : buffers_) b->Shutdown(deadline);
  for (auto& [key, runner] : exporters_) runner->Shutdown(deadline);
  for (auto& b : buffers_) b->Close();
  {
    std::lock_guard<std::mutex> lock(trim_mu_);
    trim_stop_ = true;
  }
  trim_cv_.notify_all();
  if (trimmer_.joinable()) trimmer_.join();
  if (admin_) admin_->Stop();
  Log(LogLevel::kInfo, program_, "stopped");
}

std::string Service::StatusText() const {
  std::string out = absl::StrCat(program_, " ", TRIBUTARY_VERSION, "\nconfig: ", config_.file,
                                 "\nready: ", ready_ ? "yes" : "no", "\n\npipelines:\n");
  auto join = [](const std::vector<ComponentId>& ids) {
    std::vector<std::string> names;
    for (const auto& id : ids) names.push_back(id.ToString());
    return absl::StrJoin(names, ", ");
  };
  for (const PipelineSpec& p : config_.pipelines) {
    absl::StrAppend(&out, "  ", p.id, ": receivers [", join(p.receivers), "] processors [",
                    join(p.processors), "] exporters [", join(p.exporters), "]\n");
  }
  absl::StrAppend(&out, "\nexporter queues:\n");
  for (const auto& [key, runner] : exporters_) {
    absl::StrAppend(&out, "  ", key, ": ", runner->queue_depth(), " batches\n");
  }
  if (!buffers_.empty()) {
    absl::StrAppend(&out, "\nbuffers (", config_.settings.buffer.directory, "):\n");
    for (const auto& b : buffers_) {
      absl::StrAppend(&out, "  ", b->options().name, ": ", b->size_bytes(), " of ",
                      b->options().max_bytes, " bytes\n");
    }
  }
  absl::StrAppend(&out, "\nendpoints: /metrics /healthz /readyz\n");
  return out;
}

}  // namespace tributary::core::runtime
