#include "receivers/tail/tail_metrics.h"

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "tributary/core/telemetry.h"

namespace tributary::receivers::tail {

namespace {

struct Families {
  prometheus::Family<prometheus::Counter>& read_bytes =
      prometheus::BuildCounter()
          .Name("tributary_tail_read_bytes_total")
          .Help("Bytes read from log files, each byte once")
          .Register(core::Telemetry::Get().registry());
  prometheus::Family<prometheus::Counter>& records =
      prometheus::BuildCounter()
          .Name("tributary_tail_records_total")
          .Help("Log records made from the lines read")
          .Register(core::Telemetry::Get().registry());
  prometheus::Family<prometheus::Counter>& truncated =
      prometheus::BuildCounter()
          .Name("tributary_tail_truncated_records_total")
          .Help("Records cut at max_record_bytes")
          .Register(core::Telemetry::Get().registry());
  prometheus::Family<prometheus::Counter>& parse_errors =
      prometheus::BuildCounter()
          .Name("tributary_tail_parse_errors_total")
          .Help("Lines not in the configured format, handed on as raw records")
          .Register(core::Telemetry::Get().registry());
  prometheus::Family<prometheus::Counter>& rotations =
      prometheus::BuildCounter()
          .Name("tributary_tail_rotations_total")
          .Help("Files renamed away, truncated or deleted while being read")
          .Register(core::Telemetry::Get().registry());
  prometheus::Family<prometheus::Counter>& reread =
      prometheus::BuildCounter()
          .Name("tributary_tail_reread_bytes_total")
          .Help("Bytes read again after downstream refused them")
          .Register(core::Telemetry::Get().registry());
  prometheus::Family<prometheus::Gauge>& open_files =
      prometheus::BuildGauge()
          .Name("tributary_tail_open_files")
          .Help("Files held open")
          .Register(core::Telemetry::Get().registry());
  prometheus::Family<prometheus::Gauge>& lag =
      prometheus::BuildGauge()
          .Name("tributary_tail_checkpoint_lag_bytes")
          .Help("Bytes in the files beyond their acknowledged offsets")
          .Register(core::Telemetry::Get().registry());
};

Families& Get() {
  static Families* families = new Families;
  return *families;
}

}  // namespace

TailMetrics::TailMetrics(const std::string& receiver)
    : read_bytes(Get().read_bytes.Add({{"receiver", receiver}})),
      records(Get().records.Add({{"receiver", receiver}})),
      truncated(Get().truncated.Add({{"receiver", receiver}})),
      parse_errors(Get().parse_errors.Add({{"receiver", receiver}})),
      renamed_files(Get().rotations.Add({{"receiver", receiver}, {"kind", "rename"}})),
      truncated_files(Get().rotations.Add({{"receiver", receiver}, {"kind", "truncate"}})),
      deleted_files(Get().rotations.Add({{"receiver", receiver}, {"kind", "delete"}})),
      reread_bytes(Get().reread.Add({{"receiver", receiver}})),
      open_files(Get().open_files.Add({{"receiver", receiver}})),
      checkpoint_lag(Get().lag.Add({{"receiver", receiver}})),
      accepted(core::Telemetry::Get().ReceiverAccepted(receiver, core::Signal::kLogs, "file")),
      refused(
          core::Telemetry::Get().ReceiverRefused(receiver, core::Signal::kLogs, "file", "refused")),
      failed(core::Telemetry::Get().ReceiverRefused(receiver, core::Signal::kLogs, "file",
                                                    "failed")) {}

}  // namespace tributary::receivers::tail
