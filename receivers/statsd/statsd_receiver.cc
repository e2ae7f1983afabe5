#include "receivers/statsd/statsd_receiver.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "tributary/core/attributes.h"
#include "tributary/core/hand_on.h"
#include "tributary/core/telemetry.h"

namespace tributary::receivers::statsd {

namespace {

namespace pm = opentelemetry::proto::metrics::v1;

// This component's self-metric families.
const struct {
  core::MetricFamily<::prometheus::Counter> lines{"tributary_statsd_lines_total",
                                                  "StatsD lines received"};
  core::MetricFamily<::prometheus::Counter> malformed{
      "tributary_statsd_malformed_lines_total",
      "StatsD lines that did not parse, skipped (the rest of their datagram is kept)"};
  core::MetricFamily<::prometheus::Counter> over_limit{
      "tributary_statsd_series_limited_lines_total",
      "StatsD lines of series beyond max_series in an interval, dropped"};
  core::MetricFamily<::prometheus::Counter> set_limited{
      "tributary_statsd_set_members_limited_total",
      "StatsD set members beyond max_set_members of their set in an interval, dropped"};
} kFamilies;

uint64_t NowNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

const char* TypeKey(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "c";
    case MetricType::kGauge:
      return "g";
    case MetricType::kTimer:
      return "ms";
    case MetricType::kHistogram:
      return "h";
    case MetricType::kDistribution:
      return "d";
    case MetricType::kSet:
      return "s";
  }
  return "";
}

bool IsHistogram(MetricType t) {
  return t == MetricType::kTimer || t == MetricType::kHistogram || t == MetricType::kDistribution;
}

}  // namespace

absl::Status StatsdConfig::Validate() const {
  if (endpoint.empty() && unix_socket.empty()) {
    return absl::InvalidArgumentError("set endpoint, unix_socket or both");
  }
  if (flush_interval.count() < 10) {
    return absl::InvalidArgumentError("flush_interval must be at least 10ms");
  }
  for (const auto* b : {&timer_buckets, &histogram_buckets}) {
    if (b->empty() || !std::is_sorted(b->begin(), b->end()) ||
        std::adjacent_find(b->begin(), b->end()) != b->end()) {
      return absl::InvalidArgumentError("bucket bounds must be non-empty and strictly increasing");
    }
  }
  if (max_series < 1) return absl::InvalidArgumentError("max_series must be >= 1");
  if (gauge_expiration.count() < 0) {
    return absl::InvalidArgumentError("gauge_expiration must be >= 0");
  }
  if (max_set_members < 1) return absl::InvalidArgumentError("max_set_members must be >= 1");
  return absl::OkStatus();
}

int64_t StatsdConfig::GaugeExpirationIntervals() const {
  if (gauge_expiration.count() == 0) return 5;
  return std::max<int64_t>(
      1, (gauge_expiration.count() + flush_interval.count() - 1) / flush_interval.count());
}

Aggregator::Aggregator(std::vector<double> timer_buckets, std::vector<double> histogram_buckets,
                       Limits limits)
    : timer_buckets_(std::move(timer_buckets)),
      histogram_buckets_(std::move(histogram_buckets)),
      limits_(limits) {}

Aggregator::Added Aggregator::Add(const Line& line) {
  // The series' identity: name, type and the tags in a stable order.
  std::vector<std::pair<std::string_view, std::string_view>> tags = line.tags;
  std::sort(tags.begin(), tags.end());
  key_.assign(line.name);
  key_.push_back('\0');
  key_.append(TypeKey(line.type));
  for (const auto& [k, v] : tags) {
    key_.push_back('\0');
    key_.append(k);
    key_.push_back('=');
    key_.append(v);
  }
  auto it = series_.find(key_);
  const bool counted = it != series_.end() && it->second.touched;
  if (!counted && touched_ >= limits_.max_series) return Added::kSeriesLimited;
  if (it == series_.end()) {
    Series s;
    s.name = std::string(line.name);
    s.type = line.type;
    for (const auto& [k, v] : tags) s.tags.emplace_back(std::string(k), std::string(v));
    if (IsHistogram(line.type)) {
      s.buckets.assign(
          (line.type == MetricType::kTimer ? timer_buckets_ : histogram_buckets_).size() + 1, 0);
    }
    it = series_.emplace(key_, std::move(s)).first;
  }
  Series& s = it->second;
  const double weight = 1 / line.sample_rate;
  switch (line.type) {
    case MetricType::kCounter:
      s.sum += line.number * weight;
      break;
    case MetricType::kGauge:
      s.gauge = line.delta ? s.gauge + line.number : line.number;
      break;
    case MetricType::kTimer:
    case MetricType::kHistogram:
    case MetricType::kDistribution: {
      const std::vector<double>& bounds =
          line.type == MetricType::kTimer ? timer_buckets_ : histogram_buckets_;
      // Bucket i holds values in (bounds[i-1], bounds[i]].
      const size_t i = static_cast<size_t>(
          std::lower_bound(bounds.begin(), bounds.end(), line.number) - bounds.begin());
      s.buckets[i] += weight;
      if (s.count == 0 || line.number < s.min) s.min = line.number;
      if (s.count == 0 || line.number > s.max) s.max = line.number;
      s.count += weight;
      s.sum += line.number * weight;
      break;
    }
    case MetricType::kSet:
      if (s.members.size() >= limits_.max_set_members &&
          !s.members.contains(absl::string_view(line.value.data(), line.value.size()))) {
        if (!s.touched) {
          s.touched = true;
          ++touched_;
        }
        return Added::kSetMemberLimited;
      }
      s.members.emplace(line.value);
      break;
  }
  if (!s.touched) {
    s.touched = true;
    ++touched_;
  }
  s.updated_interval = interval_;
  return Added::kOk;
}

namespace {

// The metric of a StatsD name and type: counters as delta sums, timers and
// histograms as delta histograms, gauges and sets as gauges.
pm::Metric* AddMetric(pm::ScopeMetrics* sm, const std::string& name, MetricType type) {
  pm::Metric* m = sm->add_metrics();
  m->set_name(name);
  if (type == MetricType::kTimer) m->set_unit("ms");
  if (type == MetricType::kCounter) {
    m->mutable_sum()->set_aggregation_temporality(pm::AGGREGATION_TEMPORALITY_DELTA);
    m->mutable_sum()->set_is_monotonic(true);
  } else if (IsHistogram(type)) {
    m->mutable_histogram()->set_aggregation_temporality(pm::AGGREGATION_TEMPORALITY_DELTA);
  } else {
    m->mutable_gauge();
  }
  return m;
}

}  // namespace

core::MetricsRequest Aggregator::Flush(uint64_t start_ns, uint64_t now_ns,
                                       const std::map<std::string, std::string>& resource) {
  core::MetricsRequest req;
  auto* rm = req.add_resource_metrics();
  core::AddStringAttributes(rm->mutable_resource()->mutable_attributes(), resource);
  auto* sm = rm->add_scope_metrics();
  sm->mutable_scope()->set_name("tributary.statsd");
  // Points of one name and type share a metric.
  absl::flat_hash_map<std::string, pm::Metric*> metrics;
  std::vector<const std::string*> keys;
  for (const auto& [key, s] : series_) {
    if (s.touched) keys.push_back(&key);
  }
  std::sort(keys.begin(), keys.end(),
            [](const std::string* a, const std::string* b) { return *a < *b; });
  for (const std::string* key : keys) {
    Series& s = series_.at(*key);
    const std::string metric_key = absl::StrCat(s.name, "|", TypeKey(s.type));
    pm::Metric*& m = metrics[metric_key];
    if (m == nullptr) m = AddMetric(sm, s.name, s.type);
    switch (s.type) {
      case MetricType::kCounter: {
        auto* p = m->mutable_sum()->add_data_points();
        p->set_start_time_unix_nano(start_ns);
        p->set_time_unix_nano(now_ns);
        p->set_as_double(s.sum);
        core::AddStringAttributes(p->mutable_attributes(), s.tags);
        break;
      }
      case MetricType::kGauge: {
        auto* p = m->mutable_gauge()->add_data_points();
        p->set_time_unix_nano(now_ns);
        p->set_as_double(s.gauge);
        core::AddStringAttributes(p->mutable_attributes(), s.tags);
        break;
      }
      case MetricType::kSet: {
        auto* p = m->mutable_gauge()->add_data_points();
        p->set_time_unix_nano(now_ns);
        p->set_as_int(static_cast<int64_t>(s.members.size()));
        core::AddStringAttributes(p->mutable_attributes(), s.tags);
        break;
      }
      default: {
        auto* p = m->mutable_histogram()->add_data_points();
        p->set_start_time_unix_nano(start_ns);
        p->set_time_unix_nano(now_ns);
        const std::vector<double>& bounds =
            s.type == MetricType::kTimer ? timer_buckets_ : histogram_buckets_;
        uint64_t count = 0;
        for (double b : bounds) p->add_explicit_bounds(b);
        for (double c : s.buckets) {
          const uint64_t n = static_cast<uint64_t>(std::llround(c));
          p->add_bucket_counts(n);
          count += n;
        }
        p->set_count(count);
        p->set_sum(s.sum);
        p->set_min(s.min);
        p->set_max(s.max);
        core::AddStringAttributes(p->mutable_attributes(), s.tags);
        break;
      }
    }
  }
  // Gauges keep their value for the signed updates of later intervals, until
  // they go gauge_expiration without one; the rest start again from nothing.
  ++interval_;
  absl::erase_if(series_, [this](const auto& kv) {
    return kv.second.type != MetricType::kGauge ||
           interval_ - kv.second.updated_interval >= limits_.gauge_expiration_intervals;
  });
  for (auto& [key, s] : series_) s.touched = false;
  touched_ = 0;
  if (sm->metrics_size() == 0) req.clear_resource_metrics();
  return req;
}

StatsdReceiver::StatsdReceiver(std::string id, StatsdConfig config, core::Consumer* metrics)
    : id_(std::move(id)),
      config_(std::move(config)),
      metrics_(metrics),
      aggregator_(
          config_.timer_buckets, config_.histogram_buckets,
          Aggregator::Limits{.max_series = static_cast<size_t>(config_.max_series),
                             .gauge_expiration_intervals = config_.GaugeExpirationIntervals(),
                             .max_set_members = static_cast<size_t>(config_.max_set_members)}) {
  const auto& f = kFamilies;
  lines_ = &f.lines.Add({{"receiver", id_}});
  malformed_ = &f.malformed.Add({{"receiver", id_}});
  over_limit_ = &f.over_limit.Add({{"receiver", id_}});
  set_limited_ = &f.set_limited.Add({{"receiver", id_}});
}

StatsdReceiver::~StatsdReceiver() { Shutdown(core::Clock::now()); }

absl::Status StatsdReceiver::Start() {
  if (!config_.endpoint.empty()) {
    const size_t colon = config_.endpoint.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError("endpoint must be host:port");
    }
    std::string host = config_.endpoint.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    const std::string service = config_.endpoint.substr(colon + 1);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
        rc != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("endpoint ", config_.endpoint, ": ", gai_strerror(rc)));
    }
    // A name with both (localhost): its IPv4 address, where clients send.
    const addrinfo* where = res;
    for (const addrinfo* a = res; a != nullptr; a = a->ai_next) {
      if (a->ai_family == AF_INET) {
        where = a;
        break;
      }
    }
    udp_fd_ = socket(where->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    const int buffer = 8 << 20;
    setsockopt(udp_fd_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    if (udp_fd_ < 0 || bind(udp_fd_, where->ai_addr, where->ai_addrlen) != 0) {
      const std::string err = strerror(errno);
      freeaddrinfo(res);
      return absl::UnavailableError(absl::StrCat("statsd: bind ", config_.endpoint, ": ", err));
    }
    freeaddrinfo(res);
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    getsockname(udp_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  if (!config_.unix_socket.empty()) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (config_.unix_socket.size() >= sizeof addr.sun_path) {
      return absl::InvalidArgumentError("unix_socket path is too long");
    }
    std::memcpy(addr.sun_path, config_.unix_socket.c_str(), config_.unix_socket.size() + 1);
    unlink(config_.unix_socket.c_str());
    unix_fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (unix_fd_ < 0 || bind(unix_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return absl::UnavailableError(
          absl::StrCat("statsd: bind ", config_.unix_socket, ": ", strerror(errno)));
    }
  }
  interval_start_ns_ = NowNanos();
  core::Log(core::LogLevel::kInfo, id_, "listening",
            absl::StrCat("udp_port=", port_, " unix_socket=", config_.unix_socket));
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void StatsdReceiver::Shutdown(core::Deadline) noexcept {
  if (!thread_.joinable()) {
    if (udp_fd_ >= 0) close(udp_fd_);
    if (unix_fd_ >= 0) close(unix_fd_);
    udp_fd_ = unix_fd_ = -1;
    return;
  }
  stop_ = true;
  thread_.join();
  if (udp_fd_ >= 0) close(udp_fd_);
  if (unix_fd_ >= 0) {
    close(unix_fd_);
    unlink(config_.unix_socket.c_str());
  }
  udp_fd_ = unix_fd_ = -1;
}

void StatsdReceiver::Run() {
  std::string buffer(65536, '\0');
  auto next_flush = core::Clock::now() + config_.flush_interval;
  pollfd fds[2];
  int n = 0;
  if (udp_fd_ >= 0) fds[n++] = pollfd{udp_fd_, POLLIN, 0};
  if (unix_fd_ >= 0) fds[n++] = pollfd{unix_fd_, POLLIN, 0};
  while (!stop_) {
    poll(fds, static_cast<nfds_t>(n), 50);
    for (int i = 0; i < n; ++i) {
      // Drain what is queued, a bounded number at a time.
      for (int k = 0; k < 1024; ++k) {
        const ssize_t got = recv(fds[i].fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (got <= 0) break;
        HandleDatagram(std::string_view(buffer.data(), static_cast<size_t>(got)));
      }
    }
    if (core::Clock::now() >= next_flush || flush_requested_.exchange(false)) {
      Flush();
      next_flush = core::Clock::now() + config_.flush_interval;
    }
  }
  // What was received is handed on before the pipeline stops.
  Flush();
}

void StatsdReceiver::HandleDatagram(std::string_view datagram) {
  Line line;
  std::string error;
  size_t lines = 0, bad = 0, limited = 0, set_limited = 0;
  while (!datagram.empty()) {
    const size_t nl = datagram.find('\n');
    const std::string_view text = datagram.substr(0, nl);
    datagram = nl == std::string_view::npos ? std::string_view() : datagram.substr(nl + 1);
    if (text.empty() || text == "\r") continue;
    ++lines;
    if (!ParseLine(text, &line, &error)) {
      ++bad;
      uint64_t held = 0;
      if (log_limiter_.Allow(&held)) {
        core::Log(core::LogLevel::kWarn, id_, "skipping a malformed statsd line",
                  absl::StrCat("error=\"", error, "\" line=\"", std::string(text.substr(0, 200)),
                               "\" suppressed=", held));
      }
      continue;
    }
    switch (aggregator_.Add(line)) {
      case Aggregator::Added::kOk:
        break;
      case Aggregator::Added::kSeriesLimited:
        ++limited;
        break;
      case Aggregator::Added::kSetMemberLimited:
        ++set_limited;
        break;
    }
  }
  lines_->Increment(static_cast<double>(lines));
  if (bad > 0) malformed_->Increment(static_cast<double>(bad));
  if (limited > 0) over_limit_->Increment(static_cast<double>(limited));
  if (set_limited > 0) set_limited_->Increment(static_cast<double>(set_limited));
}

void StatsdReceiver::Flush() {
  const uint64_t now = NowNanos();
  core::MetricsRequest req =
      aggregator_.Flush(interval_start_ns_, now, config_.resource_attributes);
  interval_start_ns_ = now;
  auto send = [this](core::MetricsRequest r) -> bool {
    return core::HandOn(*metrics_, id_, "udp", core::Batch(std::move(r))).ok();
  };
  if (unsent_) {
    // Refused last time: offered once more, before what came since.
    core::MetricsRequest earlier = std::move(*unsent_);
    unsent_.reset();
    if (!send(earlier)) {
      core::Log(core::LogLevel::kWarn, id_, "pipeline refused the statsd metrics twice; dropped");
    }
  }
  if (req.resource_metrics_size() == 0) return;
  core::MetricsRequest copy = req;
  if (!send(std::move(copy))) unsent_ = std::move(req);
}

}  // namespace tributary::receivers::statsd

namespace tributary {
void RegisterReceiverStatsd(core::Registry& registry) {
  using receivers::statsd::StatsdConfig;
  registry.Add(core::MakeFactory<core::Receiver, StatsdConfig, const core::ReceiverConsumers&>(
      "statsd", {core::Signal::kMetrics},
      "StatsD and DogStatsD over UDP or a Unix datagram socket, aggregated per flush interval "
      "into OTLP metrics.",
      [](const core::CreateContext& ctx, const StatsdConfig& config,
         const core::ReceiverConsumers& consumers)
          -> absl::StatusOr<std::unique_ptr<core::Receiver>> {
        if (consumers.metrics == nullptr) {
          return absl::InvalidArgumentError("the statsd receiver serves metrics pipelines only");
        }
        return std::make_unique<receivers::statsd::StatsdReceiver>(ctx.id.ToString(), config,
                                                                   consumers.metrics);
      }));
}
}  // namespace tributary
