#include "tributary/core/runtime/service.h"

#include <malloc.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "status_board.h"
#include "tributary/core/log.h"
#include "tributary/core/memory_budget.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/runtime/admin_server.h"
#include "tributary/core/runtime/buffer.h"
#include "tributary/core/runtime/exporter_runner.h"
#include "tributary/core/runtime/tap.h"
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

// Whether two buffer settings make the same buffers.
bool SameBuffers(const BufferConfig& a, const BufferConfig& b) {
  return a.directory == b.directory && a.max_size.bytes == b.max_size.bytes &&
         a.segment_size.bytes == b.segment_size.bytes && a.fsync == b.fsync &&
         a.fsync_interval == b.fsync_interval && a.when_full == b.when_full &&
         a.replay_rate == b.replay_rate;
}

const PipelineSpec* FindPipeline(const ServiceConfig& config, const std::string& id) {
  for (const PipelineSpec& p : config.pipelines) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

bool Lists(const std::vector<ComponentId>& ids, const std::string& key) {
  return std::any_of(ids.begin(), ids.end(),
                     [&](const ComponentId& id) { return id.ToString() == key; });
}

// The pipelines of `signal` that list `id` (a receiver or a connector) among
// their receivers, in build order: those whose heads its output joins.
std::vector<std::string> FedPipelines(const ServiceConfig& config, const std::string& id,
                                      Signal signal) {
  std::vector<std::string> out;
  for (size_t index : config.build_order) {
    const PipelineSpec& p = config.pipelines[index];
    if (p.signal == signal && Lists(p.receivers, id)) out.push_back(p.id);
  }
  return out;
}

// The pipelines of `signal` that list connector `id` among their exporters.
std::vector<std::string> FeedingPipelines(const ServiceConfig& config, const std::string& id,
                                          Signal signal) {
  std::vector<std::string> out;
  for (const PipelineSpec& p : config.pipelines) {
    if (p.signal == signal && Lists(p.exporters, id)) out.push_back(p.id);
  }
  return out;
}

}  // namespace

// The exporters, pipelines and connectors of one configuration. A reload
// builds the next graph beside the one in force and takes over from it what
// the new configuration leaves unchanged, running as it is: an exporter
// whose settings are the same; a pipeline whose processors (and their
// settings), exporters and buffer settings are the same; a connector whose
// settings, feeding pipelines and receiving pipelines are all kept; a
// receiver's fan-out over the same kept pipelines.
class PipelineGraph {
 public:
  // The consumer each receiver hands one signal to, by receiver.
  using Inputs = std::map<std::string, std::map<Signal, Consumer*>>;

  // `reloading`: built by a reload. `taps`: where tap points register (none
  // when null). `previous`: the graph in force, to take over from.
  PipelineGraph(const Registry& registry, ServiceConfig config, const std::string& program,
                bool reloading, TapHub* taps, PipelineGraph* previous = nullptr)
      : registry_(registry),
        config_(std::move(config)),
        program_(program),
        reloading_(reloading),
        taps_(taps),
        previous_(previous) {}
  ~PipelineGraph() { Shutdown(Clock::now(), nullptr); }

  const ServiceConfig& config() const { return config_; }
  const Inputs& inputs() const { return entries_; }
  const std::map<std::string, std::shared_ptr<ExporterRunner>>& exporters() const {
    return exporters_;
  }
  // Whether pipeline `id` / exporter `key` is taken over from the previous graph.
  bool Keeps(const std::string& id) const { return kept_stages_.count(id) > 0; }
  bool KeepsExporter(const std::string& key) const { return kept_exporters_.count(key) > 0; }
  // Bytes held and allowed, of each pipeline's buffer.
  std::map<std::string, std::pair<uint64_t, uint64_t>> buffers() const {
    std::map<std::string, std::pair<uint64_t, uint64_t>> out;
    for (const auto& stage : stages_) {
      if (stage && stage->buffer) {
        out[stage->pipeline] = {stage->buffer->size_bytes(), stage->buffer->options().max_bytes};
      }
    }
    return out;
  }

  // Creates every component that is not taken over; nothing runs yet, and
  // the previous graph is not changed.
  absl::Status Build() {
    Plan();
    if (absl::Status s = CreateExporters(); !s.ok()) return s;
    ReceiverHeads heads;
    for (size_t index : config_.build_order) {
      const PipelineSpec& p = config_.pipelines[index];
      if (kept_stages_.count(p.id)) {
        // Its connectors come with it.
        const Stage* kept = previous_->FindStage(p.id);
        adopted_stages_.emplace_back(stages_.size(), p.id);
        stages_.push_back(nullptr);
        for (const ComponentId& id : p.receivers)
          heads[id.ToString()][p.signal].push_back(kept->head);
        continue;
      }
      if (absl::Status s = BuildPipeline(p, &heads); !s.ok()) return s;
    }
    for (const auto& [key, by_signal] : heads) {
      if (config_.connectors.count(key)) continue;
      for (const auto& [signal, list] : by_signal) {
        if (const Input* before = previous_ ? previous_->FindInput(key, signal) : nullptr;
            before != nullptr && before->heads == list) {
          entries_[key][signal] = before->entry;
          kept_inputs_.insert({key, signal});
          continue;
        }
        auto input = std::make_unique<Input>();
        input->heads = list;
        input->entry =
            Point(&input->owned, key, TapPoint::Side::kOutput, signal, Join(list, &input->owned));
        entries_[key][signal] = input->entry;
        inputs_[{key, signal}] = std::move(input);
      }
    }
    return absl::OkStatus();
  }

  // Takes over what Build planned to keep from the previous graph, which
  // keeps the rest; both keep running as they were.
  void Adopt() {
    if (previous_ == nullptr) return;
    for (const auto& [index, pipeline] : adopted_stages_) {
      for (auto& before : previous_->stages_) {
        if (before && before->pipeline == pipeline) {
          stages_[index] = std::move(before);
          break;
        }
      }
    }
    for (const auto& key : kept_connectors_) {
      connectors_[key] = std::move(previous_->connectors_.at(key));
      previous_->connectors_.erase(key);
    }
    for (const auto& key : kept_inputs_) {
      inputs_[key] = std::move(previous_->inputs_.at(key));
      previous_->inputs_.erase(key);
    }
    for (const std::string& key : kept_exporters_) previous_->exporters_.erase(key);
    previous_ = nullptr;
  }

  // Exporters first, so data has somewhere to go; then each pipeline's
  // connectors, buffer and processors, downstream first. What was taken
  // over runs already.
  absl::Status Start() {
    started_ = true;
    for (auto& [key, runner] : exporters_) {
      if (kept_exporters_.count(key)) continue;
      if (absl::Status s = runner->Start(); !s.ok()) return s;
    }
    for (auto& stage : stages_) {
      if (!stage || stage->started) continue;
      stage->started = true;
      for (ConnectorInstance* c : stage->feeds) {
        if (c->started) continue;
        if (absl::Status s = c->connector->Start(); !s.ok()) {
          return absl::Status(s.code(), absl::StrCat("connector ", c->id, ": ", s.message()));
        }
        c->started = true;
      }
      if (stage->buffer) {
        if (absl::Status s = stage->buffer->Start(); !s.ok()) {
          return absl::Status(
              s.code(), absl::StrCat("buffer of pipeline ", stage->pipeline, ": ", s.message()));
        }
      }
      for (auto it = stage->processors.rbegin(); it != stage->processors.rend(); ++it) {
        if (absl::Status s = (*it)->Start(); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  // Upstream first: a pipeline's processors flush front to back, its buffer
  // writes what it holds and stops reading; a connector flushes once every
  // pipeline feeding it has, into pipelines that still run. The exporters
  // then finish what they were given; what they could not is left in the
  // buffers. With `successor` (a reload), what a buffer holds for an
  // exporter that the successor's pipeline no longer lists is counted as
  // dropped, and the buffers of pipelines it no longer has are removed.
  void Shutdown(Deadline deadline, const ServiceConfig* successor) noexcept {
    if (!started_ || shut_down_) return;
    shut_down_ = true;
    for (auto stage = stages_.rbegin(); stage != stages_.rend(); ++stage) {
      if (!*stage) continue;
      for (auto& p : (*stage)->processors) p->Shutdown(deadline);
      if ((*stage)->buffer) (*stage)->buffer->Shutdown(deadline);
      for (ConnectorInstance* c : (*stage)->feeds) {
        if (--c->feeders == 0 && c->started) c->connector->Shutdown(deadline);
      }
    }
    for (auto& [key, runner] : exporters_) runner->Shutdown(deadline);
    for (auto& stage : stages_) {
      if (!stage || !stage->buffer) continue;
      const PipelineSpec* next = successor ? FindPipeline(*successor, stage->pipeline) : nullptr;
      if (successor != nullptr) {
        for (const std::string& cursor : stage->cursors) {
          if (next != nullptr && Lists(next->exporters, cursor)) continue;
          if (const uint64_t left = stage->buffer->backlog_records(cursor); left > 0) {
            Telemetry::Get()
                .Dropped(cursor, stage->signal, "removed_by_reload")
                .Increment(static_cast<double>(left));
          }
        }
      }
      stage->buffer->Close();
      if (successor != nullptr && next == nullptr) {
        std::error_code ignored;
        std::filesystem::remove_all(stage->buffer->options().directory, ignored);
      }
    }
  }

  std::string Describe() const {
    std::string out;
    auto join = [](const std::vector<ComponentId>& ids) {
      std::vector<std::string> names;
      for (const auto& id : ids) names.push_back(id.ToString());
      return absl::StrJoin(names, ", ");
    };
    absl::StrAppend(&out, "\npipelines:\n");
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
      for (const auto& stage : stages_) {
        if (!stage || !stage->buffer) continue;
        const WriteAheadBuffer& b = *stage->buffer;
        absl::StrAppend(&out, "  ", b.options().name, ": ", b.size_bytes(), " of ",
                        b.options().max_bytes, " bytes\n");
      }
    }
    return out;
  }

 private:
  using ReceiverHeads = std::map<std::string, std::map<Signal, std::vector<Consumer*>>>;
  using Owned = std::vector<std::unique_ptr<Consumer>>;  // tap points, fan-outs, heads
  // A connector's instance for one input signal, in the exporter place of
  // the pipelines of that signal that list it.
  struct ConnectorInstance {
    Owned owned;  // its outputs' fan-outs and tap points
    std::string id;
    std::unique_ptr<Connector> connector;
    std::unique_ptr<Consumer> entry;  // what upstream pipelines hand data to
    int feeders = 0;                  // pipelines exporting into it, not yet shut down
    bool started = false;
  };
  // One built pipeline.
  struct Stage {
    Owned owned;
    std::string pipeline;
    Signal signal = Signal::kTraces;
    std::vector<std::unique_ptr<Processor>> processors;  // front to back
    std::unique_ptr<WriteAheadBuffer> buffer;            // when configured
    std::vector<std::string> cursors;                    // the buffer's, one per exporter
    std::vector<ConnectorInstance*> feeds;               // connectors among its exporters
    Consumer* head = nullptr;                            // what its receivers hand data to
    bool started = false;
  };
  // What one receiver hands one signal to: the heads of its pipelines.
  struct Input {
    Owned owned;
    std::vector<Consumer*> heads;
    Consumer* entry = nullptr;
  };

  const Stage* FindStage(const std::string& pipeline) const {
    for (const auto& stage : stages_) {
      if (stage && stage->pipeline == pipeline) return stage.get();
    }
    return nullptr;
  }
  const Input* FindInput(const std::string& receiver, Signal signal) const {
    auto it = inputs_.find({receiver, signal});
    return it == inputs_.end() ? nullptr : it->second.get();
  }

  // What can be taken over from the previous graph (see the class comment).
  void Plan() {
    if (previous_ == nullptr) return;
    const ServiceConfig& before = previous_->config_;
    auto same = [](const std::map<std::string, ComponentSpec>& a,
                   const std::map<std::string, ComponentSpec>& b, const std::string& key) {
      auto x = a.find(key);
      auto y = b.find(key);
      return x != a.end() && y != b.end() && x->second.source == y->second.source;
    };
    for (const PipelineSpec& p : config_.pipelines) {
      for (const ComponentId& id : p.exporters) {
        const std::string key = id.ToString();
        if (previous_->exporters_.count(key) && same(config_.exporters, before.exporters, key)) {
          kept_exporters_.insert(key);
        }
      }
    }
    for (const auto& [key, instance] : previous_->connectors_) {
      if (same(config_.connectors, before.connectors, key.first)) kept_connectors_.insert(key);
    }
    const bool same_buffers = SameBuffers(config_.settings.buffer, before.settings.buffer);
    for (const PipelineSpec& p : config_.pipelines) {
      const PipelineSpec* was = FindPipeline(before, p.id);
      if (!same_buffers || was == nullptr || previous_->FindStage(p.id) == nullptr ||
          was->signal != p.signal || was->processors != p.processors ||
          was->exporters != p.exporters || was->when_full != p.when_full) {
        continue;
      }
      bool keep = true;
      for (const ComponentId& id : p.processors) {
        keep = keep && same(config_.processors, before.processors, id.ToString());
      }
      for (const ComponentId& id : p.exporters) {
        keep = keep && (config_.IsConnector(id) ? before.IsConnector(id)
                                                : kept_exporters_.count(id.ToString()) > 0);
      }
      if (keep) kept_stages_.insert(p.id);
    }
    // A connector is kept with all the pipelines around it, and they with it.
    for (bool changed = true; changed;) {
      changed = false;
      for (auto it = kept_connectors_.begin(); it != kept_connectors_.end();) {
        const auto& [key, input] = *it;
        const std::vector<std::string> feeders = FeedingPipelines(config_, key, input);
        bool keep = feeders == FeedingPipelines(before, key, input);
        for (const std::string& p : feeders) keep = keep && kept_stages_.count(p) > 0;
        const ConnectorFactory& f = registry_.connectors().at(config_.connectors.at(key).id.type);
        for (Signal output : f.outputs.at(input)) {
          const std::vector<std::string> fed = FedPipelines(config_, key, output);
          keep = keep && fed == FedPipelines(before, key, output);
          for (const std::string& p : fed) keep = keep && kept_stages_.count(p) > 0;
        }
        if (keep) {
          ++it;
        } else {
          it = kept_connectors_.erase(it);
          changed = true;
        }
      }
      for (auto it = kept_stages_.begin(); it != kept_stages_.end();) {
        const PipelineSpec* p = FindPipeline(config_, *it);
        bool keep = true;
        for (const ComponentId& id : p->exporters) {
          if (config_.IsConnector(id)) {
            keep = keep && kept_connectors_.count({id.ToString(), p->signal}) > 0;
          }
        }
        if (keep) {
          ++it;
        } else {
          it = kept_stages_.erase(it);
          changed = true;
        }
      }
    }
  }

  // Exporters, one instance each, shared by the pipelines naming them.
  absl::Status CreateExporters() {
    for (const PipelineSpec& p : config_.pipelines) {
      for (const ComponentId& id : p.exporters) {
        const std::string key = id.ToString();
        if (exporters_.count(key) || config_.IsConnector(id)) continue;
        if (kept_exporters_.count(key)) {
          exporters_[key] = previous_->exporters_.at(key);
          continue;
        }
        const ComponentSpec& spec = config_.exporters.at(key);
        const ExporterFactory& f = registry_.exporters().at(id.type);
        auto exporter = f.create(CreateContext{id, program_}, spec.config.get());
        if (!exporter.ok()) {
          return absl::Status(exporter.status().code(),
                              absl::StrCat("exporter ", key, ": ", exporter.status().message()));
        }
        exporters_[key] = std::make_shared<ExporterRunner>(
            key, std::move(*exporter), f.queue(spec.config.get()), f.retry(spec.config.get()),
            f.dead_letter(spec.config.get()));
      }
    }
    return absl::OkStatus();
  }

  // One pipeline from its exporters (through the buffer when configured)
  // back to its head, which the pipeline's receivers (receivers or
  // connectors) will hand their data to.
  absl::Status BuildPipeline(const PipelineSpec& p, ReceiverHeads* heads) {
    // Built back to front; processors get one instance per pipeline.
    Stage& stage = *stages_.emplace_back(std::make_unique<Stage>());
    stage.pipeline = p.id;
    stage.signal = p.signal;
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
        outs.push_back(
            {key, Point(&stage.owned, key, TapPoint::Side::kInput, p.signal, (*c)->entry.get()),
             (*c)->connector->ReadsWireForm()});
      } else {
        ExporterRunner* runner = exporters_.at(key).get();
        outs.push_back({key, Point(&stage.owned, key, TapPoint::Side::kInput, p.signal, runner),
                        runner->ReadsWireForm()});
      }
    }
    Consumer* next = nullptr;
    if (!config_.settings.buffer.directory.empty()) {
      // The buffer sits between the processors and the exporters, one cursor each.
      BufferOptions options = BufferOptions::From(config_.settings.buffer, p.id, p.signal);
      if (!p.when_full.empty()) options.when_full = ParseWhenFull(p.when_full).value();
      options.reopened = reloading_;
      stage.buffer = std::make_unique<WriteAheadBuffer>(options);
      for (const Out& out : outs) {
        stage.buffer->AddCursor(out.name, out.consumer, out.wire_form);
        stage.cursors.push_back(out.name);
      }
      next = stage.buffer.get();
    } else {
      std::vector<Consumer*> consumers;
      for (const Out& out : outs) consumers.push_back(out.consumer);
      next = Join(consumers, &stage.owned);
    }
    for (auto it = p.processors.rbegin(); it != p.processors.rend(); ++it) {
      const std::string key = it->ToString();
      const ComponentSpec& spec = config_.processors.at(key);
      ComponentId instance_id = *it;
      next = Point(&stage.owned, key, TapPoint::Side::kOutput, p.signal, next);
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
    stage.owned.push_back(std::make_unique<PipelineHead>(p.id, p.signal, next));
    stage.head = stage.owned.back().get();
    for (const ComponentId& id : p.receivers)
      (*heads)[id.ToString()][p.signal].push_back(stage.head);
    return absl::OkStatus();
  }

  // The instance of connector `id` for `input`, created on first use with
  // the heads of the pipelines that receive from it, which must be built.
  absl::StatusOr<ConnectorInstance*> ConnectorFor(const ComponentId& id, Signal input,
                                                  const ReceiverHeads& heads) {
    const std::string key = id.ToString();
    auto [it, inserted] = connectors_.try_emplace({key, input});
    if (!inserted) return it->second.get();
    it->second = std::make_unique<ConnectorInstance>();
    ConnectorInstance& instance = *it->second;
    // The pipelines it emits into are built: the build order puts them first.
    const ConnectorFactory& f = registry_.connectors().at(id.type);
    ReceiverConsumers outputs;
    if (auto h = heads.find(key); h != heads.end()) {
      for (const auto& [signal, list] : h->second) {
        if (f.outputs.at(input).count(signal)) {
          SetConsumer(&outputs, signal,
                      Point(&instance.owned, key, TapPoint::Side::kOutput, signal,
                            Join(list, &instance.owned)));
        }
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

  // A tap point in front of `next`, when taps are on, owned by `owned`.
  Consumer* Point(Owned* owned, const std::string& component, TapPoint::Side side, Signal signal,
                  Consumer* next) {
    if (taps_ == nullptr) return next;
    owned->push_back(std::make_unique<TapPoint>(taps_, component, side, signal, next));
    return owned->back().get();
  }

  const Registry& registry_;
  const ServiceConfig config_;
  const std::string program_;
  std::map<std::string, std::shared_ptr<ExporterRunner>> exporters_;
  std::vector<std::unique_ptr<Stage>> stages_;  // in build order: downstream first
  std::map<std::pair<std::string, Signal>, std::unique_ptr<ConnectorInstance>> connectors_;
  std::map<std::pair<std::string, Signal>, std::unique_ptr<Input>> inputs_;
  Inputs entries_;
  const bool reloading_;
  TapHub* const taps_;
  PipelineGraph* previous_;  // until Adopt
  std::set<std::string> kept_exporters_;
  std::set<std::string> kept_stages_;
  std::set<std::pair<std::string, Signal>> kept_connectors_;
  std::set<std::pair<std::string, Signal>> kept_inputs_;
  std::vector<std::pair<size_t, std::string>> adopted_stages_;  // place in stages_, pipeline
  bool started_ = false;
  bool shut_down_ = false;
};

// Holds receivers' hand-offs while a reload swaps the pipelines behind
// them. Passing an open gate costs two atomic operations on a counter. At a
// closed gate an envelope is parked, acknowledgements and all, and handed to
// the new pipelines once they run: receivers are never blocked (their
// threads may be the ones that complete the exporters' calls) and their
// clients see a slower answer, not a refusal, unless the parking fills up.
class ReceiverGate {
 public:
  static constexpr size_t kMaxParked = 4096;  // envelopes

  // True when open: the caller hands its envelope on, then calls Exit.
  bool Enter() {
    in_flight_.fetch_add(1);
    if (!closed_.load()) return true;
    Exit();
    return false;
  }
  void Exit() {
    if (in_flight_.fetch_sub(1) == 1 && closed_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
  }
  // At a closed gate: keeps `envelope` for `to`. Returns false if the gate
  // opened meanwhile (the caller tries again); fails it when full.
  bool Park(ReceiverSwitch* to, Envelope& envelope, absl::Status* status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_.load()) return false;
    if (parked_.size() >= kMaxParked) {
      *status = absl::UnavailableError("reloading the configuration; retry");
    } else {
      parked_.emplace_back(to, std::move(envelope));
      *status = absl::OkStatus();
    }
    return true;
  }
  // Stops hand-offs and waits until those under way have returned; false
  // if some had not by the deadline.
  bool Close(Deadline deadline) {
    closed_.store(true);
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return in_flight_.load() == 0; });
  }
  // Hand-offs past the gate through a switch whose target a reload keeps.
  void EnterSteady() { steady_in_flight_.fetch_add(1); }
  void ExitSteady() { steady_in_flight_.fetch_sub(1); }
  // Waits until no such hand-off is under way; false if some still were at
  // the deadline.
  bool WaitSteady(Deadline deadline) {
    while (steady_in_flight_.load() != 0) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }
  // Hands what was parked on (through `deliver`), then opens.
  template <class Deliver>
  void Open(Deliver&& deliver) {
    for (;;) {
      std::vector<std::pair<ReceiverSwitch*, Envelope>> parked;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (parked_.empty()) {
          closed_.store(false);
          return;
        }
        parked.swap(parked_);
      }
      for (auto& [to, envelope] : parked) deliver(to, std::move(envelope));
    }
  }

 private:
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> steady_in_flight_{0};
  std::atomic<bool> closed_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<ReceiverSwitch*, Envelope>> parked_;
};

// What a receiver hands one signal to: the head of the pipelines in force.
class ReceiverSwitch : public Consumer {
 public:
  explicit ReceiverSwitch(ReceiverGate* gate) : gate_(gate) {}
  void Point(Consumer* target) { target_.store(target, std::memory_order_release); }
  Consumer* target() const { return target_.load(std::memory_order_acquire); }
  // While a reload keeps this switch's target, its hand-offs pass a closed
  // gate: the pipelines behind it do not change.
  void SetSteady(bool steady) { steady_.store(steady); }
  absl::Status Consume(Envelope envelope) noexcept override {
    if (steady_.load(std::memory_order_relaxed)) {
      gate_->EnterSteady();
      if (steady_.load()) {
        absl::Status s = Deliver(std::move(envelope));
        gate_->ExitSteady();
        return s;
      }
      gate_->ExitSteady();
    }
    for (;;) {
      if (gate_->Enter()) {
        absl::Status s = Deliver(std::move(envelope));
        gate_->Exit();
        return s;
      }
      absl::Status parked;
      if (gate_->Park(this, envelope, &parked)) return parked;
    }
  }
  // Straight to the target, past the gate.
  absl::Status Deliver(Envelope envelope) noexcept {
    Consumer* target = target_.load(std::memory_order_acquire);
    if (target == nullptr) return absl::UnavailableError("no pipeline takes this signal now");
    return target->Consume(std::move(envelope));
  }

 private:
  ReceiverGate* gate_;
  std::atomic<Consumer*> target_{nullptr};
  std::atomic<bool> steady_{false};
};

// Hands an envelope parked during a reload to the new pipelines; one they
// refuse fails its acknowledgements, so its sender learns of it.
void DeliverParked(ReceiverSwitch* to, Envelope envelope) {
  Envelope copy = envelope;
  if (absl::Status s = to->Deliver(std::move(envelope)); !s.ok()) copy.Fail(s);
}

namespace {

constexpr MetricFamily<prometheus::Counter> kReloads{
    "tributary_config_reloads_total",
    "Configuration reloads (SIGHUP or POST /-/reload), by result"};
constexpr MetricFamily<prometheus::Gauge> kLastReloadOk{
    "tributary_config_last_reload_successful",
    "1 if the last reload succeeded (or none was tried)"};
constexpr MetricFamily<prometheus::Gauge> kLastReloadTime{
    "tributary_config_last_reload_success_timestamp_seconds",
    "When the configuration in force was loaded (start or reload)"};

// The signals each receiver feeds under `config`.
std::map<std::string, std::set<Signal>> ReceiverSignals(const ServiceConfig& config) {
  std::map<std::string, std::set<Signal>> out;
  for (const PipelineSpec& p : config.pipelines) {
    for (const ComponentId& id : p.receivers) {
      if (!config.IsConnector(id)) out[id.ToString()].insert(p.signal);
    }
  }
  return out;
}

// Removes the self-metric series of what `before` used and `after` does not:
// components, pipelines, and exporters' places in a pipeline's buffer. What
// was counted as dropped for the reload itself stays.
void RemoveGoneSeries(const ServiceConfig& before, const ServiceConfig& after) {
  // Components in use: those the pipelines list (others are not built).
  auto in_use = [](const ServiceConfig& c) {
    std::set<std::string> ids;
    for (const PipelineSpec& p : c.pipelines) {
      for (const auto* list : {&p.receivers, &p.processors, &p.exporters}) {
        for (const ComponentId& id : *list) ids.insert(id.ToString());
      }
    }
    return ids;
  };
  const std::set<std::string> now = in_use(after);
  std::set<std::string> gone;
  for (const std::string& id : in_use(before)) {
    if (!now.count(id)) gone.insert(id);
  }
  std::set<std::string> gone_pipelines;
  std::set<std::pair<std::string, std::string>> gone_cursors;  // pipeline, exporter
  for (const PipelineSpec& p : before.pipelines) {
    const PipelineSpec* next = nullptr;
    for (const PipelineSpec& q : after.pipelines) {
      if (q.id == p.id) next = &q;
    }
    if (next == nullptr) {
      gone_pipelines.insert(p.id);
      gone.insert("buffer/" + p.id);
      continue;
    }
    for (const ComponentId& id : p.exporters) {
      if (std::find(next->exporters.begin(), next->exporters.end(), id) == next->exporters.end()) {
        gone_cursors.emplace(p.id, id.ToString());
      }
    }
  }
  if (gone.empty() && gone_pipelines.empty() && gone_cursors.empty()) return;
  static const char* const kComponentLabels[] = {"receiver", "processor", "exporter", "connector",
                                                 "component"};
  Telemetry::Get().RemoveSeries([&](const prometheus::Labels& labels) {
    if (auto r = labels.find("reason"); r != labels.end() && r->second == "removed_by_reload") {
      return false;
    }
    auto pipeline = labels.find("pipeline");
    if (pipeline != labels.end() && gone_pipelines.count(pipeline->second)) return true;
    for (const char* name : kComponentLabels) {
      auto l = labels.find(name);
      if (l == labels.end()) continue;
      if (gone.count(l->second)) return true;
      if (pipeline != labels.end() && gone_cursors.count({pipeline->second, l->second})) {
        return true;
      }
    }
    return false;
  });
}

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Service::Service(const Registry& registry, ServiceConfig config, std::string program)
    : registry_(registry),
      config_(std::move(config)),
      program_(std::move(program)),
      board_(std::make_unique<StatusBoard>()),
      gate_(std::make_unique<ReceiverGate>()) {
  const TapConfig& tap = config_.settings.admin.tap;
  if (tap.enabled) {
    TapLimits limits;
    limits.max_concurrent = tap.max_concurrent;
    limits.records_per_second = tap.records_per_second;
    taps_ = std::make_unique<TapHub>(limits);
  }
  if (!config_.file.empty() && config_.file != "<built-in>") {
    loader_ = [this, file = config_.file] { return LoadConfigFile(registry_, file); };
  }
}

Service::~Service() { Shutdown(); }

int Service::admin_port() const { return admin_ ? admin_->port() : 0; }

absl::Status Service::Start() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(config_.settings.log_level, &level);
  SetLogLevel(level);
  Telemetry::Get().SetBuildInfo(program_, TRIBUTARY_VERSION);
  MemoryBudget::Process().SetLimit(config_.settings.memory_budget.bytes);
  kReloads.Add({{"result", "success"}});
  kReloads.Add({{"result", "failure"}});
  kLastReloadOk.Add({}).Set(1);
  started_at_ = UnixNow();
  if (!config_.settings.admin.endpoint.empty()) {
    admin_ = std::make_unique<AdminServer>(
        config_.settings.admin.endpoint, config_.settings.admin.limits,
        [this] { return ready_.load(); }, [this] { return StatusText(); });
    admin_->SetStatusJson([this] { return StatusJson(); });
    admin_->SetTaps(taps_.get());
    admin_->SetReload([this] {
      ReloadOutcome outcome = Reload();
      if (outcome.status.ok()) {
        return common::http::ServerResponse::Text(
            200, absl::StrCat("reloaded\n", absl::StrJoin(outcome.notes, "\n"),
                              outcome.notes.empty() ? "" : "\n"));
      }
      const int code =
          absl::IsAborted(outcome.status) ? 409
          : absl::IsInvalidArgument(outcome.status) || absl::IsFailedPrecondition(outcome.status)
              ? 400
              : 500;
      return common::http::ServerResponse::Text(code, std::string(outcome.status.message()) + "\n");
    });
    if (absl::Status s = admin_->Start(); !s.ok()) return s;
  }
  {
    std::lock_guard<std::mutex> state(state_mu_);
    graph_ = std::make_unique<PipelineGraph>(registry_, config_, program_, false, taps_.get());
  }
  if (absl::Status s = graph_->Build(); !s.ok()) return s;
  if (absl::Status s = graph_->Start(); !s.ok()) return s;
  std::vector<std::string> created;
  if (absl::Status s = ConnectReceivers(*graph_, &created); !s.ok()) return s;
  for (const std::string& key : created) {
    if (absl::Status s = receivers_.at(key).receiver->Start(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("receiver ", key, ": ", s.message()));
    }
  }
  StartHousekeeping();
  kLastReloadTime.Add({}).Set(UnixNow());
  ready_ = true;
  Log(LogLevel::kInfo, program_, "started",
      absl::StrCat("pipelines=", config_.pipelines.size(), " version=", TRIBUTARY_VERSION));
  return absl::OkStatus();
}

absl::Status Service::ConnectReceivers(PipelineGraph& graph, std::vector<std::string>* created) {
  const ServiceConfig& config = graph.config();
  for (const auto& [key, by_signal] : graph.inputs()) {
    auto slot = receivers_.find(key);
    if (slot != receivers_.end()) continue;
    ReceiverSlot fresh;
    const ComponentSpec& spec = config.receivers.at(key);
    fresh.source = spec.source;
    ReceiverConsumers consumers;
    for (const auto& [signal, head] : by_signal) {
      auto& sw = fresh.switches[signal];
      sw = std::make_unique<ReceiverSwitch>(gate_.get());
      SetConsumer(&consumers, signal, sw.get());
    }
    auto receiver = registry_.receivers()
                        .at(spec.id.type)
                        .create(CreateContext{spec.id, program_}, spec.config.get(), consumers);
    if (!receiver.ok()) {
      return absl::Status(receiver.status().code(),
                          absl::StrCat("receiver ", key, ": ", receiver.status().message()));
    }
    fresh.receiver = std::move(*receiver);
    receivers_.emplace(key, std::move(fresh));
    created->push_back(key);
  }
  for (auto& [key, slot] : receivers_) {
    auto inputs = graph.inputs().find(key);
    for (auto& [signal, sw] : slot.switches) {
      Consumer* head = nullptr;
      if (inputs != graph.inputs().end()) {
        if (auto h = inputs->second.find(signal); h != inputs->second.end()) head = h->second;
      }
      sw->Point(head);
    }
  }
  return absl::OkStatus();
}

ReloadOutcome Service::Reload() {
  std::unique_lock<std::mutex> lock(reload_mu_, std::try_to_lock);
  ReloadOutcome outcome;
  if (!lock.owns_lock()) {
    outcome.status = absl::AbortedError("a reload is already in progress");
    return outcome;
  }
  if (shut_down_ || graph_ == nullptr) {
    outcome.status = absl::FailedPreconditionError("the service is not running");
    return outcome;
  }
  absl::StatusOr<ServiceConfig> next =
      loader_ ? loader_()
              : absl::StatusOr<ServiceConfig>(absl::FailedPreconditionError(
                    "started with the built-in configuration: there is no file to reload"));
  if (next.ok()) {
    outcome.status = ReloadLocked(std::move(*next), &outcome.notes);
  } else {
    outcome.status = absl::InvalidArgumentError(next.status().message());
  }
  kReloads.Add({{"result", outcome.status.ok() ? "success" : "failure"}}).Increment();
  {
    std::lock_guard<std::mutex> state(state_mu_);
    last_reload_result_ = outcome.status.ok() ? "success" : "failure";
    last_reload_at_ = UnixNow();
    last_reload_error_ = outcome.status.ok() ? "" : std::string(outcome.status.message());
  }
  kLastReloadOk.Add({}).Set(outcome.status.ok() ? 1 : 0);
  if (outcome.status.ok()) {
    kLastReloadTime.Add({}).Set(UnixNow());
    Log(LogLevel::kInfo, program_, "configuration reloaded",
        absl::StrCat("file=", config_.file, " changes=\"", absl::StrJoin(outcome.notes, "; "),
                     "\""));
  } else {
    Log(LogLevel::kError, program_, "reload failed, the running configuration is kept",
        absl::StrCat("error=\"", outcome.status.message(), "\""));
  }
  return outcome;
}

absl::Status Service::ReloadLocked(ServiceConfig next, std::vector<std::string>* notes) {
  const ServiceSettings& now = config_.settings;
  // Settings held by what lives as long as the process.
  if (next.settings.admin.endpoint != now.admin.endpoint) {
    notes->push_back("service.admin.endpoint needs a restart; kept " + now.admin.endpoint);
    next.settings.admin.endpoint = now.admin.endpoint;
  }
  if (next.settings.buffer.directory != now.buffer.directory) {
    notes->push_back("service.buffer.directory needs a restart; kept '" + now.buffer.directory +
                     "'");
    next.settings.buffer.directory = now.buffer.directory;
  }
  if (!(next.settings.admin.tap == now.admin.tap)) {
    notes->push_back("service.admin.tap needs a restart");
    next.settings.admin.tap = now.admin.tap;
  }
  if (next.settings.memory_trim_interval != now.memory_trim_interval) {
    notes->push_back("service.memory_trim_interval needs a restart");
    next.settings.memory_trim_interval = now.memory_trim_interval;
  }
  // A receiver stays, sockets, offsets and group membership with it, when
  // its configuration and the signals it feeds are unchanged.
  const auto signals = ReceiverSignals(next);
  std::vector<std::string> leaving;
  for (const auto& [key, slot] : receivers_) {
    auto spec = next.receivers.find(key);
    auto fed = signals.find(key);
    const bool same = spec != next.receivers.end() && spec->second.source == slot.source &&
                      fed != signals.end() && fed->second == slot.signals();
    if (!same) leaving.push_back(key);
  }
  auto fresh =
      std::make_unique<PipelineGraph>(registry_, next, program_, true, taps_.get(), graph_.get());
  if (absl::Status s = fresh->Build(); !s.ok()) return s;
  for (const PipelineSpec& p : next.pipelines) {
    if (fresh->Keeps(p.id)) continue;
    notes->push_back("pipeline " + p.id + (FindPipeline(config_, p.id) ? " rebuilt" : " added"));
  }
  for (const PipelineSpec& p : config_.pipelines) {
    if (!FindPipeline(next, p.id)) notes->push_back("pipeline " + p.id + " removed");
  }
  for (const auto& [key, runner] : graph_->exporters()) {
    if (!fresh->exporters().count(key)) {
      notes->push_back("exporter " + key + " removed");
    } else if (!fresh->KeepsExporter(key)) {
      notes->push_back("exporter " + key + " restarted");
    }
  }

  const Deadline deadline = Clock::now() + next.settings.shutdown_timeout;
  // Receivers that go (or change) drain into the pipelines they fed.
  for (const std::string& key : leaving) {
    receivers_.at(key).receiver->Shutdown(deadline);
    notes->push_back("receiver " + key + (next.receivers.count(key) ? " restarted" : " removed"));
  }
  for (const std::string& key : leaving) receivers_.erase(key);
  // What the rest hand on is parked at the gate while the pipelines behind
  // them change, unless all of those are kept.
  auto each_switch = [&](auto&& f) {
    for (auto& [key, slot] : receivers_) {
      for (auto& [signal, sw] : slot.switches) f(key, signal, *sw);
    }
  };
  each_switch([&](const std::string& key, Signal signal, ReceiverSwitch& sw) {
    auto input = fresh->inputs().find(key);
    Consumer* entry = nullptr;
    if (input != fresh->inputs().end()) {
      if (auto e = input->second.find(signal); e != input->second.end()) entry = e->second;
    }
    sw.SetSteady(entry != nullptr && entry == sw.target());
  });
  if (!gate_->Close(deadline)) {
    Log(LogLevel::kWarn, program_, "reload: hand-offs still under way at the deadline");
  }
  std::unique_ptr<PipelineGraph> old;
  {
    std::lock_guard<std::mutex> state(state_mu_);
    fresh->Adopt();
    old = std::move(graph_);
  }
  old->Shutdown(deadline, &next);
  old.reset();
  absl::Status started = fresh->Start();
  if (!started.ok()) {
    // The old configuration is brought back, from scratch: its receivers
    // that are left take data again.
    each_switch([](const std::string&, Signal, ReceiverSwitch& sw) { sw.SetSteady(false); });
    if (!gate_->WaitSteady(Clock::now() + next.settings.shutdown_timeout)) {
      Log(LogLevel::kWarn, program_, "reload: hand-offs still under way at the deadline");
    }
    each_switch([](const std::string&, Signal, ReceiverSwitch& sw) { sw.Point(nullptr); });
    fresh.reset();
    {
      std::lock_guard<std::mutex> state(state_mu_);
      graph_ = std::make_unique<PipelineGraph>(registry_, config_, program_, true, taps_.get());
    }
    absl::Status back = graph_->Build();
    if (back.ok()) back = graph_->Start();
    if (!back.ok()) {
      Log(LogLevel::kError, program_, "cannot restart the previous pipelines",
          absl::StrCat("error=\"", back.message(), "\""));
    }
    std::vector<std::string> ignored;
    (void)ConnectReceivers(*graph_, &ignored);
    for (const std::string& key : ignored) (void)receivers_.at(key).receiver->Start();
    gate_->Open(DeliverParked);
    return started;
  }
  RemoveGoneSeries(config_, next);
  {
    std::lock_guard<std::mutex> state(state_mu_);
    graph_ = std::move(fresh);
    config_ = std::move(next);
  }
  std::vector<std::string> created;
  absl::Status connected = ConnectReceivers(*graph_, &created);
  gate_->Open(DeliverParked);
  each_switch([](const std::string&, Signal, ReceiverSwitch& sw) { sw.SetSteady(false); });
  for (const std::string& key : created) {
    if (absl::Status s = receivers_.at(key).receiver->Start(); !s.ok()) {
      if (connected.ok()) {
        connected = absl::Status(s.code(), absl::StrCat("receiver ", key, ": ", s.message()));
      }
      receivers_.at(key).receiver->Shutdown(Clock::now());
      receivers_.erase(key);
      continue;
    }
    notes->push_back("receiver " + key + " started");
  }
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(config_.settings.log_level, &level);
  SetLogLevel(level);
  MemoryBudget::Process().SetLimit(config_.settings.memory_budget.bytes);
  return connected;
}

void Service::StartHousekeeping() {
  // glibc keeps freed memory in its arenas; after a burst (a backlog sent,
  // a spike of large batches) that shows as resident memory far above what
  // is in use. It goes back once the free part outgrows three times what is
  // in use: the ordinary churn of batches (a batch of 8192 spans read back
  // from the buffer, exported and freed swings the heap by tens of MiB) is
  // reused where it lies, so resident memory is flat in steady state instead
  // of being handed back and faulted in again every interval.
  board_->Sample(UnixNow(), StatusBoard::Read(taps_.get()));
  housekeeping_ = std::thread([this, interval = config_.settings.memory_trim_interval] {
    std::unique_lock<std::mutex> lock(trim_mu_);
    Clock::time_point next_trim = Clock::now() + interval;
    while (!trim_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return trim_stop_; })) {
      lock.unlock();
      board_->Sample(UnixNow(), StatusBoard::Read(taps_.get()));
      if (interval.count() > 0 && Clock::now() >= next_trim) {
        next_trim = Clock::now() + interval;
        const struct mallinfo2 info = mallinfo2();
        if (info.fordblks > std::max<size_t>(32u << 20, 3 * info.uordblks)) malloc_trim(0);
      }
      lock.lock();
    }
  });
}

void Service::Shutdown() noexcept {
  std::lock_guard<std::mutex> lock(reload_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  ready_ = false;
  const Deadline deadline = Clock::now() + config_.settings.shutdown_timeout;
  for (auto& [key, slot] : receivers_) slot.receiver->Shutdown(deadline);
  if (graph_) graph_->Shutdown(deadline, nullptr);
  {
    std::lock_guard<std::mutex> trim_lock(trim_mu_);
    trim_stop_ = true;
  }
  trim_cv_.notify_all();
  if (housekeeping_.joinable()) housekeeping_.join();
  if (taps_) taps_->CloseAll();
  if (admin_) admin_->Stop();
  Log(LogLevel::kInfo, program_, "stopped");
}

std::string Service::StatusText() const {
  std::lock_guard<std::mutex> state(state_mu_);
  std::string out = absl::StrCat(program_, " ", TRIBUTARY_VERSION, "\nconfig: ", config_.file,
                                 "\nready: ", ready_ ? "yes" : "no", "\n");
  absl::StrAppend(&out, graph_ ? graph_->Describe() : "\n(reloading)\n");
  absl::StrAppend(&out, "\nendpoints: /metrics /healthz /readyz\n");
  return out;
}

namespace {

void AppendNumber(std::optional<double> v, std::string* out) {
  if (!v) {
    out->append("null");
    return;
  }
  char buf[32];
  snprintf(buf, sizeof(buf), "%.15g", *v);
  out->append(buf);
}

void AppendIds(const std::vector<ComponentId>& ids, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out->push_back(',');
    AppendJsonString(ids[i].ToString(), out);
  }
  out->push_back(']');
}

std::optional<double> Sum(std::optional<double> a, std::optional<double> b) {
  if (!a) return b;
  if (!b) return a;
  return *a + *b;
}

}  // namespace

std::string Service::StatusJson() const {
  std::lock_guard<std::mutex> state(state_mu_);
  std::string out = "{";
  absl::StrAppend(&out, "\"program\":");
  AppendJsonString(program_, &out);
  absl::StrAppend(&out, ",\"version\":");
  AppendJsonString(TRIBUTARY_VERSION, &out);
  absl::StrAppend(&out, ",\"config\":");
  AppendJsonString(config_.file, &out);
  absl::StrAppend(&out, ",\"ready\":", ready_ ? "true" : "false", ",\"started_at\":");
  AppendNumber(started_at_, &out);
  absl::StrAppend(&out, ",\"now\":");
  AppendNumber(UnixNow(), &out);
  absl::StrAppend(&out, ",\"window_seconds\":", StatusBoard::kWindowSeconds, ",\"taps_open\":");
  if (taps_) {
    absl::StrAppend(&out, taps_->open_taps());
  } else {
    out.append("null");
  }
  absl::StrAppend(&out, ",\"reload\":{\"result\":");
  AppendJsonString(last_reload_result_, &out);
  absl::StrAppend(&out, ",\"at\":");
  AppendNumber(last_reload_at_ > 0 ? std::optional<double>(last_reload_at_) : std::nullopt, &out);
  absl::StrAppend(&out, ",\"error\":");
  AppendJsonString(last_reload_error_, &out);
  absl::StrAppend(&out, "},\"pipelines\":[");
  if (graph_ == nullptr) {
    out.append("],\"components\":[]}");
    return out;
  }
  const auto buffers = graph_->buffers();
  // In what each processor takes: the output of what stands before it.
  std::map<std::string, std::pair<std::optional<double>, std::optional<double>>> processor_in;
  bool first = true;
  for (const PipelineSpec& p : config_.pipelines) {
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"id\":");
    AppendJsonString(p.id, &out);
    out.append(",\"signal\":");
    AppendJsonString(SignalName(p.signal), &out);
    out.append(",\"receivers\":");
    AppendIds(p.receivers, &out);
    out.append(",\"processors\":");
    AppendIds(p.processors, &out);
    out.append(",\"exporters\":");
    AppendIds(p.exporters, &out);
    const std::string key = "pipeline|" + p.id;
    out.append(",\"in_per_second\":");
    AppendNumber(board_->Rate(key), &out);
    out.append(",\"in_total\":");
    AppendNumber(board_->Total(key), &out);
    out.append(",\"buffer\":");
    if (auto b = buffers.find(p.id); b != buffers.end()) {
      absl::StrAppend(&out, "{\"bytes\":", b->second.first, ",\"capacity\":", b->second.second,
                      "}");
    } else {
      out.append("null");
    }
    out.push_back('}');
    std::string before = key;
    for (const ComponentId& id : p.processors) {
      auto& [rate, total] = processor_in[id.ToString()];
      const bool head = before == key;
      rate = Sum(rate, board_->Rate(head ? key : "out|" + before));
      total = Sum(total, board_->Total(head ? key : "out|" + before));
      before = id.ToString();
    }
  }
  out.append("],\"components\":[");
  first = true;
  auto component = [&](const std::string& id, const char* kind, std::optional<double> in_rate,
                       std::optional<double> in_total, std::optional<double> out_rate,
                       std::optional<double> out_total, const std::string& history_key) {
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"id\":");
    AppendJsonString(id, &out);
    absl::StrAppend(&out, ",\"kind\":\"", kind, "\",\"in_per_second\":");
    AppendNumber(in_rate, &out);
    out.append(",\"in_total\":");
    AppendNumber(in_total, &out);
    out.append(",\"out_per_second\":");
    AppendNumber(out_rate, &out);
    out.append(",\"out_total\":");
    AppendNumber(out_total, &out);
    out.append(",\"dropped\":{");
    bool first_drop = true;
    for (const auto& [reason, n] : board_->Drops(id)) {
      if (!first_drop) out.push_back(',');
      first_drop = false;
      AppendJsonString(reason, &out);
      out.push_back(':');
      AppendNumber(n, &out);
    }
    out.append("},\"dropped_per_second\":");
    AppendNumber(board_->Rate("dropped|" + id), &out);
    out.append(",\"history\":[");
    const std::vector<double> history = board_->History(history_key);
    for (size_t i = 0; i < history.size(); ++i) {
      if (i) out.push_back(',');
      AppendNumber(history[i], &out);
    }
    out.push_back(']');
  };
  std::set<std::string> seen;
  for (const PipelineSpec& p : config_.pipelines) {
    for (const ComponentId& id : p.receivers) {
      const std::string key = id.ToString();
      if (config_.IsConnector(id) || !seen.insert(key).second) continue;
      component(key, "receiver",
                Sum(board_->Rate("accepted|" + key), board_->Rate("refused|" + key)),
                Sum(board_->Total("accepted|" + key), board_->Total("refused|" + key)),
                board_->Rate("out|" + key), board_->Total("out|" + key), "out|" + key);
      out.append(",\"refused_per_second\":");
      AppendNumber(board_->Rate("refused|" + key), &out);
      out.append(",\"refused_total\":");
      AppendNumber(board_->Total("refused|" + key), &out);
      out.push_back('}');
    }
  }
  for (const PipelineSpec& p : config_.pipelines) {
    for (const ComponentId& id : p.processors) {
      const std::string key = id.ToString();
      if (!seen.insert(key).second) continue;
      const auto& [in_rate, in_total] = processor_in[key];
      component(key, "processor", in_rate, in_total, board_->Rate("out|" + key),
                board_->Total("out|" + key), "out|" + key);
      out.push_back('}');
    }
  }
  for (const auto& [key, spec] : config_.connectors) {
    if (!seen.insert(key).second) continue;
    component(key, "connector", board_->Rate("in|" + key), board_->Total("in|" + key),
              board_->Rate("out|" + key), board_->Total("out|" + key), "in|" + key);
    out.push_back('}');
  }
  for (const auto& [key, runner] : graph_->exporters()) {
    if (!seen.insert(key).second) continue;
    component(key, "exporter", board_->Rate("in|" + key), board_->Total("in|" + key),
              board_->Rate("sent|" + key), board_->Total("sent|" + key), "sent|" + key);
    out.append(",\"failed_per_second\":");
    AppendNumber(board_->Rate("failed|" + key), &out);
    out.append(",\"retried_per_second\":");
    AppendNumber(board_->Rate("retried|" + key), &out);
    absl::StrAppend(&out, ",\"queue\":{\"size\":", runner->queue_depth(),
                    ",\"capacity\":", runner->queue_capacity(), "}");
    const ExporterRunner::Health health = runner->health();
    absl::StrAppend(&out, ",\"state\":\"", health.state, "\",\"last_error\":");
    AppendJsonString(health.last_error, &out);
    out.append(",\"last_error_at\":");
    AppendNumber(
        health.last_error_at > 0 ? std::optional<double>(health.last_error_at) : std::nullopt,
        &out);
    out.append(",\"last_success_at\":");
    AppendNumber(
        health.last_success_at > 0 ? std::optional<double>(health.last_success_at) : std::nullopt,
        &out);
    out.push_back('}');
  }
  out.append("]}");
  return out;
}

}  // namespace tributary::core::runtime
