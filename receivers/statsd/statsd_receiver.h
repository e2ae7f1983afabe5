#ifndef TRIBUTARY_RECEIVERS_STATSD_STATSD_RECEIVER_H_
#define TRIBUTARY_RECEIVERS_STATSD_STATSD_RECEIVER_H_

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "receivers/statsd/statsd_parser.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"

namespace prometheus {
class Counter;
}  // namespace prometheus

namespace tributary::receivers::statsd {

struct StatsdConfig {
  std::string endpoint = "localhost:8125";
  std::string unix_socket;
  std::chrono::milliseconds flush_interval = std::chrono::seconds(10);
  std::vector<double> timer_buckets{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
  std::vector<double> histogram_buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                        1,     2.5,  5,     10,   25,  50,   100};
  std::map<std::string, std::string> resource_attributes;
  int64_t max_series = 100000;
  std::chrono::milliseconds gauge_expiration{0};
  int64_t max_set_members = 10000;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("endpoint", endpoint,
               "UDP host:port to listen on (empty: no UDP); loopback by default, "
               "`0.0.0.0:8125` for every interface");
    v.Optional("unix_socket", unix_socket, "path of a Unix datagram socket to listen on too");
    v.Optional("flush_interval", flush_interval,
               "metrics are aggregated over this long and then handed on");
    v.Optional("timer_buckets", timer_buckets,
               "explicit histogram bounds of timers (|ms), in milliseconds");
    v.Optional("histogram_buckets", histogram_buckets,
               "explicit histogram bounds of histograms (|h) and distributions (|d)");
    v.Optional("resource_attributes", resource_attributes, "attributes of the metrics' resource");
    v.Optional("max_series", max_series,
               "distinct name, type and tag sets updated in one interval; lines of further "
               "series are counted and dropped until the interval ends");
    v.Optional("gauge_expiration", gauge_expiration,
               "a gauge not updated for this long is forgotten (its next signed update starts "
               "from 0); 0: five flush intervals");
    v.Optional("max_set_members", max_set_members,
               "distinct members one set counts in an interval; further members are counted "
               "and dropped");
  }
  // Intervals a gauge is kept without an update.
  int64_t GaugeExpirationIntervals() const;
  absl::Status Validate() const;
};

// Aggregates StatsD lines over one interval into OTLP metrics: counters as
// delta monotonic sums (value / sample rate), gauges as gauges (a signed
// value moves the last one), timers, histograms and distributions as delta
// explicit histograms (each value counted 1 / sample rate times), sets as
// gauges of the distinct members seen.
class Aggregator {
 public:
  struct Limits {
    size_t max_series = 100000;
    int64_t gauge_expiration_intervals = 5;
    size_t max_set_members = 10000;
  };
  Aggregator(std::vector<double> timer_buckets, std::vector<double> histogram_buckets,
             Limits limits);
  enum class Added { kOk, kSeriesLimited, kSetMemberLimited };
  // kSeriesLimited when the line's series would be one more than
  // max_series in this interval; kSetMemberLimited when its set is full.
  Added Add(const Line& line);
  // What was gathered since the last call, as one request (empty when
  // nothing was), stamped from `start_ns` to `now_ns`.
  core::MetricsRequest Flush(uint64_t start_ns, uint64_t now_ns,
                             const std::map<std::string, std::string>& resource);
  // Series held: this interval's, and gauges kept for signed updates.
  size_t series() const { return series_.size(); }

 private:
  struct Series {
    std::string name;
    MetricType type;
    std::vector<std::pair<std::string, std::string>> tags;
    bool touched = false;
    int64_t updated_interval = 0;  // gauges: the interval of the last update
    double sum = 0;                // counters; histograms: sum of values
    double gauge = 0;              // gauges: the last value
    double count = 0;              // histograms
    double min = 0, max = 0;
    std::vector<double> buckets;
    absl::flat_hash_set<std::string> members;
  };
  const std::vector<double> timer_buckets_;
  const std::vector<double> histogram_buckets_;
  const Limits limits_;
  absl::flat_hash_map<std::string, Series> series_;
  size_t touched_ = 0;    // series updated in this interval
  int64_t interval_ = 0;  // intervals flushed so far
  std::string key_;       // scratch
};

// Receives StatsD over UDP and, optionally, a Unix datagram socket.
class StatsdReceiver : public core::Receiver {
 public:
  StatsdReceiver(std::string id, StatsdConfig config, core::Consumer* metrics);
  ~StatsdReceiver() override;
  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;

  // The UDP port listened on (useful with port 0).
  int port() const { return port_; }
  // Hands on what was aggregated now, rather than at the next interval.
  void FlushNow() { flush_requested_ = true; }

 private:
  void Run();
  void HandleDatagram(std::string_view datagram);
  void Flush();

  const std::string id_;
  const StatsdConfig config_;
  core::Consumer* const metrics_;
  Aggregator aggregator_;
  int udp_fd_ = -1;
  int unix_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> flush_requested_{false};
  uint64_t interval_start_ns_ = 0;
  std::optional<core::MetricsRequest> unsent_;  // refused at the last flush
  core::LogLimiter log_limiter_;
  ::prometheus::Counter* lines_;
  ::prometheus::Counter* malformed_;
  ::prometheus::Counter* over_limit_;
  ::prometheus::Counter* set_limited_;
};

}  // namespace tributary::receivers::statsd

#endif  // TRIBUTARY_RECEIVERS_STATSD_STATSD_RECEIVER_H_
