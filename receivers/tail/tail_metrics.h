#ifndef TRIBUTARY_RECEIVERS_TAIL_TAIL_METRICS_H_
#define TRIBUTARY_RECEIVERS_TAIL_TAIL_METRICS_H_

#include <string>

namespace prometheus {
class Counter;
class Gauge;
}  // namespace prometheus

namespace tributary::receivers::tail {

// The self-metrics of one tail receiver (`receiver` label), declared once.
struct TailMetrics {
  explicit TailMetrics(const std::string& receiver);

  prometheus::Counter& read_bytes;
  prometheus::Counter& records;
  prometheus::Counter& truncated;  // records cut at max_record_bytes
  prometheus::Counter& parse_errors;
  prometheus::Counter& renamed_files;
  prometheus::Counter& truncated_files;
  prometheus::Counter& deleted_files;
  prometheus::Counter& reread_bytes;
  prometheus::Gauge& open_files;
  prometheus::Gauge& checkpoint_lag;
  // The records downstream acknowledged, refused (retryable) or failed.
  prometheus::Counter& accepted;
  prometheus::Counter& refused;
  prometheus::Counter& failed;
};

}  // namespace tributary::receivers::tail

#endif  // TRIBUTARY_RECEIVERS_TAIL_TAIL_METRICS_H_
