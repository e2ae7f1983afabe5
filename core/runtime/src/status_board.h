#ifndef TRIBUTARY_CORE_RUNTIME_STATUS_BOARD_H_
#define TRIBUTARY_CORE_RUNTIME_STATUS_BOARD_H_

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tributary/core/runtime/tap.h"

namespace tributary::core::runtime {

// Totals of the self-metrics and tap points, sampled once a second, from
// which the status page's rates come. Keys: "accepted|<receiver>",
// "refused|<receiver>", "sent|<exporter>", "failed|<exporter>",
// "retried|<exporter>", "pipeline|<pipeline>", "out|<component>",
// "in|<component>", "dropped|<component>" (every reason) and
// "dropped|<component>|<reason>".
class StatusBoard {
 public:
  static constexpr int kWindowSeconds = 10;  // of the rates shown
  static constexpr int kHistory = 60;        // samples kept for the graphs

  using Totals = std::map<std::string, double>;
  // The process's totals now; `taps` null when tap points are off.
  static Totals Read(const TapHub* taps);

  void Sample(double now, Totals totals);
  // Per second over the window; nullopt when `key` is not measured or there
  // is no earlier sample yet. A total that went down (a series recreated by
  // a reload) counts from zero.
  std::optional<double> Rate(const std::string& key) const;
  std::optional<double> Total(const std::string& key) const;
  // Per-second rates between consecutive samples, oldest first (at most
  // kHistory - 1).
  std::vector<double> History(const std::string& key) const;
  // "<reason>": total, for one component.
  std::map<std::string, double> Drops(const std::string& component) const;

 private:
  mutable std::mutex mu_;
  std::deque<std::pair<double, Totals>> samples_;
};

}  // namespace tributary::core::runtime

#endif  // TRIBUTARY_CORE_RUNTIME_STATUS_BOARD_H_
