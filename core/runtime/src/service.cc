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

// A connector in its upstream pipeline's exporter place: counts what it
// takes as sent by it. The downstream pipelines count the same records as
// received, and account for them from there (whatever they later do with
// them), so each process's books balance across connectors.
class ConnectorEntry : public Consumer {
 public:
  ConnectorEntry(const std::string& id, Signal signal, Connector* connector)
      : sent_(Telemetry::Get().ExporterSent(id, signal)), connector_(connector) {}
  absl::Status Consume(Envelope envelope) noexcept override {
    if (envelope.batch == nullptr || envelope.batch->empty()) return absl::OkStatus();
    const double records = static_cast<double>(envelope.batch->record_count());
    absl::Status s = connector_->Consume(std::move(envelope));
    if (s.ok()) sent_.Increment(records);
    return s;
  }

 private:
  prometheus::Counter& sent_;
  Connector* connector_;
};

// The consumer a receiver or connector hands one signal to: the heads of
// the pipelines that list it, through a fan-out when there are several.
Consumer* Join(const std::vector<Consumer*>& heads,
               std::vector<std::unique_ptr<Consumer>>* fanouts) {
  if (heads.size() == 1) return heads.front();
  fanouts->push_back(std::make_unique<FanoutConsumer>(heads));
  return fanouts->back().get();
}

void SetConsumer(ReceiverConsumers* consumers, Signal signal, Consumer* c) {
  if (signal == Signal::kTraces) consumers->traces = c;
  if (signal == Signal::kMetrics) consumers->metrics = c;
  if (signal == Signal::kLogs) consumers->logs = c;
}

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
  for (size_t index : config_.build_order) {
    if (absl::Status s = BuildPipeline(config_.pipelines[index], &receiver_heads); !s.ok())
      return s;
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
      if (exporters_.count(key) || config_.IsConnector(id)) continue;
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

absl::Status Service::BuildPipeline(const PipelineSpec& p, ReceiverHeads* heads) {
  // Built back to front; processors get one instance per pipeline.
  Stage& stage = stages_.emplace_back();
  struct Out {
    std::string name;
    Consumer* consumer;
    bool wire_form;
  };
  std::vector<Out> outs;
  for (const ComponentId& id : p.exporters) {
    const std::string key = id.ToString();
    if (config_.IsConnector(id)) {
      absl::StatusOr<ConnectorInstance*> c = ConnectorFor(id, p.signal, *heads);
      if (!c.ok()) return c.status();
      ++(*c)->feeders;
      stage.feeds.push_back(*c);
      outs.push_back({key, (*c)->entry.get(), (*c)->connector->ReadsWireForm()});
    } else {
      ExporterRunner* runner = exporters_.at(key).get();
      outs.push_back({key, runner, runner->ReadsWireForm()});
    }
  }
  Consumer* next = nullptr;
  if (!config_.settings.buffer.directory.empty()) {
    // The buffer sits between the processors and the exporters, one cursor each.
    BufferOptions options = BufferOptions::From(config_.settings.buffer, p.id, p.signal);
    if (!p.when_full.empty()) options.when_full = ParseWhenFull(p.when_full).value();
    stage.buffer = std::make_unique<WriteAheadBuffer>(options);
    for (const Out& out : outs) stage.buffer->AddCursor(out.name, out.consumer, out.wire_form);
    next = stage.buffer.get();
  } else {
    std::vector<Consumer*> consumers;
    for (const Out& out : outs) consumers.push_back(out.consumer);
    next = Join(consumers, &fanouts_);
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
    stage.processors.insert(stage.processors.begin(), std::move(*processor));
  }
  fanouts_.push_back(std::make_unique<PipelineHead>(p.id, p.signal, next));
  next = fanouts_.back().get();
  for (const ComponentId& id : p.receivers) (*heads)[id.ToString()][p.signal].push_back(next);
  return absl::OkStatus();
}

absl::StatusOr<Service::ConnectorInstance*> Service::ConnectorFor(const ComponentId& id,
                                                                  Signal input,
                                                                  const ReceiverHeads& heads) {
  const std::string key = id.ToString();
  auto [it, inserted] = connectors_.try_emplace({key, input});
  ConnectorInstance& instance = it->second;
  if (!inserted) return &instance;
  // The pipelines it emits into are built: the build order puts them first.
  const ConnectorFactory& f = registry_.connectors().at(id.type);
  ReceiverConsumers outputs;
  if (auto h = heads.find(key); h != heads.end()) {
    for (const auto& [signal, list] : h->second) {
      if (f.outputs.at(input).count(signal)) SetConsumer(&outputs, signal, Join(list, &fanouts_));
    }
  }
  const ComponentSpec& spec = config_.connectors.at(key);
  auto connector = f.create(CreateContext{id, program_}, spec.config.get(), input, outputs);
  if (!connector.ok()) {
    connectors_.erase(it);
    return absl::Status(connector.status().code(),
                        absl::StrCat("connector ", key, ": ", connector.status().message()));
  }
  instance.id = key;
  instance.connector = std::move(*connector);
  instance.entry = std::make_unique<ConnectorEntry>(key, input, instance.connector.get());
  return &instance;
}

absl::Status Service::CreateReceivers(const ReceiverHeads& receiver_heads) {
  for (const auto& [key, heads] : receiver_heads) {
    if (config_.connectors.count(key)) continue;
    ReceiverConsumers consumers;
    for (const auto& [signal, list] : heads) SetConsumer(&consumers, signal, Join(list, &fanouts_));
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
  // Downstream first: a pipeline's connectors, buffer and processors start
  // once everything they hand data to runs.
  for (Stage& stage : stages_) {
    for (ConnectorInstance* c : stage.feeds) {
      if (c->started) continue;
      if (absl::Status s = c->connector->Start(); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("connector ", c->id, ": ", s.message()));
      }
      c->started = true;
    }
    if (stage.buffer) {
      if (absl::Status s = stage.buffer->Start(); !s.ok()) {
        return absl::Status(
            s.code(),
            absl::StrCat("buffer of pipeline ", stage.buffer->options().name, ": ", s.message()));
      }
    }
    for (auto it = stage.processors.rbegin(); it != stage.processors.rend(); ++it) {
      if (absl::Status s = (*it)->Start(); !s.ok()) return s;
    }
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
  // Upstream first: a pipeline's processors flush front to back, its buffer
  // writes what it holds and stops reading; a connector flushes once every
  // pipeline feeding it has, into pipelines that still run. The exporters
  // then finish what they were given; what they could not is left in the
  // buffers.
  for (auto stage = stages_.rbegin(); stage != stages_.rend(); ++stage) {
    for (auto& p : stage->processors) p->Shutdown(deadline);
    if (stage->buffer) stage->buffer->Shutdown(deadline);
    for (ConnectorInstance* c : stage->feeds) {
      if (--c->feeders == 0 && c->started) c->connector->Shutdown(deadline);
    }
  }
  for (auto& [key, runner] : exporters_) runner->Shutdown(deadline);
  for (Stage& stage : stages_) {
    if (stage.buffer) stage.buffer->Close();
  }
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
  if (!config_.settings.buffer.directory.empty()) {
    absl::StrAppend(&out, "\nbuffers (", config_.settings.buffer.directory, "):\n");
    for (const Stage& stage : stages_) {
      const WriteAheadBuffer& b = *stage.buffer;
      absl::StrAppend(&out, "  ", b.options().name, ": ", b.size_bytes(), " of ",
                      b.options().max_bytes, " bytes\n");
    }
  }
  absl::StrAppend(&out, "\nendpoints: /metrics /healthz /readyz\n");
  return out;
}

}  // namespace tributary::core::runtime
