#include "receivers/tail/tail_metrics.h"

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "tributary/core/telemetry.h"

namespace tributary::receivers::tail {

namespace {

const struct {
  core::MetricFamily<prometheus::Counter> read_bytes{"tributary_tail_read_bytes_total",
                                                     "Bytes read from log files, each byte once"};
  core::MetricFamily<prometheus::Counter> records{"tributary_tail_records_total",
                                                  "Log records made from the lines read"};
  core::MetricFamily<prometheus::Counter> truncated{"tributary_tail_truncated_records_total",
                                                    "Records cut at max_record_bytes"};
  core::MetricFamily<prometheus::Counter> parse_errors{
      "tributary_tail_parse_errors_total",
      "Lines not in the configured format, handed on as raw records"};
  core::MetricFamily<prometheus::Counter> rotations{
      "tributary_tail_rotations_total",
      "Files renamed away, truncated or deleted while being read"};
  core::MetricFamily<prometheus::Counter> reread{"tributary_tail_reread_bytes_total",
                                                 "Bytes read again after downstream refused them"};
  core::MetricFamily<prometheus::Gauge> open_files{"tributary_tail_open_files", "Files held open"};
  core::MetricFamily<prometheus::Gauge> lag{"tributary_tail_checkpoint_lag_bytes",
                                            "Bytes in the files beyond their acknowledged offsets"};
} kFamilies;

}  // namespace

TailMetrics::TailMetrics(const std::string& receiver)
    : read_bytes(kFamilies.read_bytes.Add({{"receiver", receiver}})),
      records(kFamilies.records.Add({{"receiver", receiver}})),
      truncated(kFamilies.truncated.Add({{"receiver", receiver}})),
      parse_errors(kFamilies.parse_errors.Add({{"receiver", receiver}})),
      renamed_files(kFamilies.rotations.Add({{"receiver", receiver}, {"kind", "rename"}})),
      truncated_files(kFamilies.rotations.Add({{"receiver", receiver}, {"kind", "truncate"}})),
      deleted_files(kFamilies.rotations.Add({{"receiver", receiver}, {"kind", "delete"}})),
      reread_bytes(kFamilies.reread.Add({{"receiver", receiver}})),
      open_files(kFamilies.open_files.Add({{"receiver", receiver}})),
      checkpoint_lag(kFamilies.lag.Add({{"receiver", receiver}})),
      accepted(core::Telemetry::Get().ReceiverAccepted(receiver, core::Signal::kLogs, "file")),
      refused(
          core::Telemetry::Get().ReceiverRefused(receiver, core::Signal::kLogs, "file", "refused")),
      failed(core::Telemetry::Get().ReceiverRefused(receiver, core::Signal::kLogs, "file",
                                                    "failed")) {}

}  // namespace tributary::receivers::tail
