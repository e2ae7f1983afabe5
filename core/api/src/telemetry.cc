#include "tributary/core/telemetry.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "prometheus/text_serializer.h"

namespace tributary::core {
namespace {
const std::vector<double> kDurationBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,    1,     2.5,  5,     10,   30};
const std::vector<double> kSizeBuckets = {1,    10,   50,    100,   250,   500,   1000,
                                          2500, 5000, 10000, 20000, 50000, 100000};

std::string Sig(Signal s) { return std::string(RecordKind(s)); }

// process_* metrics in the form Prometheus client libraries give them.
std::vector<prometheus::MetricFamily> ProcessMetrics() {
  std::vector<prometheus::MetricFamily> out;
  auto gauge = [&](const char* name, const char* help, prometheus::MetricType type, double v) {
    prometheus::MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = type;
    prometheus::ClientMetric m;
    if (type == prometheus::MetricType::Counter) {
      m.counter.value = v;
    } else {
      m.gauge.value = v;
    }
    f.metric.push_back(m);
    out.push_back(std::move(f));
  };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::ifstream stat("/proc/self/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t close = content.rfind(')');
  if (close != std::string::npos) {
    std::istringstream rest(content.substr(close + 2));
    std::vector<std::string> f;
    std::string tok;
    while (rest >> tok) f.push_back(tok);
    // Fields from the state (3rd) on: utime is 14th, stime 15th, starttime
    // 22nd, vsize 23rd, rss 24th.
    if (f.size() > 21) {
      double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
            prometheus::MetricType::Counter, cpu);
      gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
            prometheus::MetricType::Gauge, std::stod(f[20]));
      gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
            prometheus::MetricType::Gauge, std::stod(f[21]) * page);
      std::ifstream uptime_file("/proc/stat");
      std::string line;
      double btime = 0;
      while (std::getline(uptime_file, line)) {
        if (line.rfind("btime ", 0) == 0) btime = std::stod(line.substr(6));
      }
      gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            prometheus::MetricType::Gauge, btime + std::stod(f[19]) / ticks);
    }
  }
  int fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++fds;
    closedir(d);
    fds -= 3;  // ".", ".." and the directory's own descriptor
  }
  gauge("process_open_fds", "Number of open file descriptors.", prometheus::MetricType::Gauge, fds);
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    gauge("process_max_fds", "Maximum number of open file descriptors.",
          prometheus::MetricType::Gauge, static_cast<double>(rl.rlim_cur));
  }
  return out;
}
}  // namespace

Telemetry& Telemetry::Get() {
  static Telemetry* telemetry = new Telemetry();
  return *telemetry;
}

Telemetry::Telemetry()
    : registry_(std::make_shared<prometheus::Registry>()),
      accepted_(prometheus::BuildCounter()
                    .Name("tributary_receiver_accepted_records_total")
                    .Help("Records a receiver answered with success.")
                    .Register(*registry_)),
      refused_(prometheus::BuildCounter()
                   .Name("tributary_receiver_refused_records_total")
                   .Help("Records a receiver answered with an error, by reason.")
                   .Register(*registry_)),
      failed_requests_(prometheus::BuildCounter()
                           .Name("tributary_receiver_failed_requests_total")
                           .Help("Requests refused before their records could be counted.")
                           .Register(*registry_)),
      limited_(prometheus::BuildCounter()
                   .Name("tributary_receiver_limited_attributes_total")
                   .Help("Attributes a receiver dropped (action=dropped) or whose value it cut "
                         "(action=truncated) to keep records within its limits.")
                   .Register(*registry_)),
      sent_(prometheus::BuildCounter()
                .Name("tributary_exporter_sent_records_total")
                .Help("Records an exporter's destination acknowledged.")
                .Register(*registry_)),
      send_failed_(prometheus::BuildCounter()
                       .Name("tributary_exporter_send_failed_records_total")
                       .Help("Records an exporter gave up on.")
                       .Register(*registry_)),
      retries_(prometheus::BuildCounter()
                   .Name("tributary_exporter_retried_records_total")
                   .Help("Records sent again after a retryable failure.")
                   .Register(*registry_)),
      dropped_(prometheus::BuildCounter()
                   .Name("tributary_dropped_records_total")
                   .Help("Records dropped, by component and reason.")
                   .Register(*registry_)),
      queue_size_(prometheus::BuildGauge()
                      .Name("tributary_queue_size")
                      .Help("Batches waiting in an exporter's queue.")
                      .Register(*registry_)),
      queue_capacity_(prometheus::BuildGauge()
                          .Name("tributary_queue_capacity")
                          .Help("Capacity of an exporter's queue, in batches.")
                          .Register(*registry_)),
      export_duration_(prometheus::BuildHistogram()
                           .Name("tributary_export_duration_seconds")
                           .Help("Time of one export attempt.")
                           .Register(*registry_)),
      batch_size_(prometheus::BuildHistogram()
                      .Name("tributary_processor_batch_send_size")
                      .Help("Records in each batch a batch processor sends.")
                      .Register(*registry_)),
      flushes_(prometheus::BuildCounter()
                   .Name("tributary_processor_batch_flushes_total")
                   .Help("Batches sent by a batch processor, by trigger (size or timeout).")
                   .Register(*registry_)),
      returned_(prometheus::BuildCounter()
                    .Name("tributary_processor_returned_records_total")
                    .Help("Records a processor had accepted and handed back to their senders "
                          "because the next stage refused them (the senders retry).")
                    .Register(*registry_)),
      overflow_points_(prometheus::BuildCounter()
                           .Name("tributary_processor_overflow_points_total")
                           .Help("Data points moved to their metric's otel_metric_overflow "
                                 "series by a cardinality limit.")
                           .Register(*registry_)),
      dead_lettered_(prometheus::BuildCounter()
                         .Name("tributary_dead_lettered_records_total")
                         .Help("Records an exporter's destination refused for good, written to "
                               "the dead-letter destination.")
                         .Register(*registry_)),
      pipeline_received_(prometheus::BuildCounter()
                             .Name("tributary_pipeline_received_records_total")
                             .Help("Records a pipeline accepted from its receivers.")
                             .Register(*registry_)),
      buffer_bytes_(prometheus::BuildGauge()
                        .Name("tributary_buffer_bytes")
                        .Help("Bytes held by a pipeline's write-ahead buffer.")
                        .Register(*registry_)),
      buffer_capacity_(prometheus::BuildGauge()
                           .Name("tributary_buffer_capacity_bytes")
                           .Help("Bytes a pipeline's write-ahead buffer may hold.")
                           .Register(*registry_)),
      buffer_records_(prometheus::BuildGauge()
                          .Name("tributary_buffer_records")
                          .Help("Records in a pipeline's buffer that an exporter has not yet "
                                "settled.")
                          .Register(*registry_)),
      buffer_recovered_(prometheus::BuildCounter()
                            .Name("tributary_buffer_recovered_records_total")
                            .Help("Records an exporter had not settled, found in the buffer at "
                                  "start.")
                            .Register(*registry_)),
      buffer_corrupt_(prometheus::BuildCounter()
                          .Name("tributary_buffer_corrupt_bytes_total")
                          .Help("Bytes of buffer segments found corrupt at start and skipped.")
                          .Register(*registry_)),
      fsync_duration_(prometheus::BuildHistogram()
                          .Name("tributary_buffer_fsync_duration_seconds")
                          .Help("Time of one fsync of a buffer segment.")
                          .Register(*registry_)),
      build_info_(prometheus::BuildGauge()
                      .Name("tributary_build_info")
                      .Help("Always 1; labelled with the program and version.")
                      .Register(*registry_)) {
  for (auto* f : {&accepted_, &refused_, &failed_requests_, &limited_, &sent_, &send_failed_,
                  &retries_, &dropped_, &flushes_, &returned_, &overflow_points_, &dead_lettered_,
                  &pipeline_received_, &buffer_recovered_, &buffer_corrupt_}) {
    Track(*f);
  }
  for (auto* f :
       {&queue_size_, &queue_capacity_, &buffer_bytes_, &buffer_capacity_, &buffer_records_}) {
    Track(*f);
  }
  for (auto* f : {&export_duration_, &batch_size_, &fsync_duration_}) Track(*f);
}

void Telemetry::RemoveSeries(const SeriesMatch& match) {
  std::vector<std::function<void(const SeriesMatch&)>> tracked;
  {
    std::lock_guard<std::mutex> lock(tracked_mu_);
    tracked = tracked_;
  }
  for (const auto& remove : tracked) remove(match);
}

prometheus::Counter& Telemetry::ReceiverAccepted(const std::string& receiver, Signal s,
                                                 const std::string& transport) {
  return accepted_.Add({{"receiver", receiver}, {"signal", Sig(s)}, {"transport", transport}});
}
prometheus::Counter& Telemetry::ReceiverRefused(const std::string& receiver, Signal s,
                                                const std::string& transport,
                                                const std::string& reason) {
  return refused_.Add(
      {{"receiver", receiver}, {"signal", Sig(s)}, {"transport", transport}, {"reason", reason}});
}
prometheus::Counter& Telemetry::ReceiverFailedRequests(const std::string& receiver,
                                                       const std::string& transport,
                                                       const std::string& reason) {
  return failed_requests_.Add(
      {{"receiver", receiver}, {"transport", transport}, {"reason", reason}});
}
prometheus::Counter& Telemetry::ReceiverLimited(const std::string& receiver, Signal s,
                                                const std::string& action) {
  return limited_.Add({{"receiver", receiver}, {"signal", Sig(s)}, {"action", action}});
}
prometheus::Counter& Telemetry::ExporterSent(const std::string& exporter, Signal s) {
  return sent_.Add({{"exporter", exporter}, {"signal", Sig(s)}});
}
prometheus::Counter& Telemetry::ExporterSendFailed(const std::string& exporter, Signal s) {
  return send_failed_.Add({{"exporter", exporter}, {"signal", Sig(s)}});
}
prometheus::Counter& Telemetry::ExporterRetries(const std::string& exporter, Signal s) {
  return retries_.Add({{"exporter", exporter}, {"signal", Sig(s)}});
}
prometheus::Counter& Telemetry::Dropped(const std::string& component, Signal s,
                                        const std::string& reason) {
  return dropped_.Add({{"component", component}, {"signal", Sig(s)}, {"reason", reason}});
}
prometheus::Gauge& Telemetry::QueueSize(const std::string& exporter) {
  return queue_size_.Add({{"exporter", exporter}});
}
prometheus::Gauge& Telemetry::QueueCapacity(const std::string& exporter) {
  return queue_capacity_.Add({{"exporter", exporter}});
}
prometheus::Histogram& Telemetry::ExportDuration(const std::string& exporter) {
  return export_duration_.Add({{"exporter", exporter}}, kDurationBuckets);
}
prometheus::Histogram& Telemetry::BatchSize(const std::string& processor, Signal s) {
  return batch_size_.Add({{"processor", processor}, {"signal", Sig(s)}}, kSizeBuckets);
}
prometheus::Counter& Telemetry::ProcessorFlushes(const std::string& processor,
                                                 const std::string& trigger) {
  return flushes_.Add({{"processor", processor}, {"trigger", trigger}});
}
prometheus::Counter& Telemetry::ProcessorReturned(const std::string& processor, Signal s) {
  return returned_.Add({{"processor", processor}, {"signal", Sig(s)}});
}
prometheus::Counter& Telemetry::ProcessorOverflowPoints(const std::string& processor) {
  return overflow_points_.Add({{"processor", processor}});
}
prometheus::Counter& Telemetry::DeadLettered(const std::string& exporter, Signal s) {
  return dead_lettered_.Add({{"exporter", exporter}, {"signal", Sig(s)}});
}
prometheus::Counter& Telemetry::PipelineReceived(const std::string& pipeline, Signal s) {
  return pipeline_received_.Add({{"pipeline", pipeline}, {"signal", Sig(s)}});
}
prometheus::Gauge& Telemetry::BufferBytes(const std::string& pipeline) {
  return buffer_bytes_.Add({{"pipeline", pipeline}});
}
prometheus::Gauge& Telemetry::BufferCapacity(const std::string& pipeline) {
  return buffer_capacity_.Add({{"pipeline", pipeline}});
}
prometheus::Gauge& Telemetry::BufferRecords(const std::string& pipeline,
                                            const std::string& exporter, Signal s) {
  return buffer_records_.Add({{"pipeline", pipeline}, {"exporter", exporter}, {"signal", Sig(s)}});
}
prometheus::Counter& Telemetry::BufferRecovered(const std::string& pipeline,
                                                const std::string& exporter, Signal s) {
  return buffer_recovered_.Add(
      {{"pipeline", pipeline}, {"exporter", exporter}, {"signal", Sig(s)}});
}
prometheus::Counter& Telemetry::BufferCorruptBytes(const std::string& pipeline) {
  return buffer_corrupt_.Add({{"pipeline", pipeline}});
}
prometheus::Histogram& Telemetry::BufferFsyncDuration(const std::string& pipeline) {
  return fsync_duration_.Add({{"pipeline", pipeline}}, kDurationBuckets);
}
void Telemetry::SetBuildInfo(const std::string& program, const std::string& version) {
  build_info_.Add({{"program", program}, {"version", version}}).Set(1);
}

std::string RenderSelfMetrics() {
  std::vector<prometheus::MetricFamily> families = Telemetry::Get().registry().Collect();
  for (auto& f : ProcessMetrics()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace tributary::core
