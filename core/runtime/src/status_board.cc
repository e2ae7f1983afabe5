#include "status_board.h"

#include <algorithm>

#include "tributary/core/telemetry.h"

namespace tributary::core::runtime {

namespace {

double Value(const prometheus::ClientMetric& m, prometheus::MetricType type) {
  return type == prometheus::MetricType::Gauge ? m.gauge.value : m.counter.value;
}

std::string Label(const prometheus::ClientMetric& m, const char* name) {
  for (const auto& l : m.label) {
    if (l.name == name) return l.value;
  }
  return "";
}

double Step(double earlier, double later) { return later >= earlier ? later - earlier : later; }

}  // namespace

StatusBoard::Totals StatusBoard::Read(const TapHub* taps) {
  Totals out;
  // Family name -> key prefix and the label naming the component.
  static const std::map<std::string, std::pair<std::string, const char*>> kFamilies = {
      {"tributary_receiver_accepted_records_total", {"accepted|", "receiver"}},
      {"tributary_receiver_refused_records_total", {"refused|", "receiver"}},
      {"tributary_exporter_sent_records_total", {"sent|", "exporter"}},
      {"tributary_exporter_send_failed_records_total", {"failed|", "exporter"}},
      {"tributary_exporter_retried_records_total", {"retried|", "exporter"}},
      {"tributary_pipeline_received_records_total", {"pipeline|", "pipeline"}},
      {"tributary_dropped_records_total", {"dropped|", "component"}},
  };
  for (const prometheus::MetricFamily& family : Telemetry::Get().registry().Collect()) {
    auto f = kFamilies.find(family.name);
    if (f == kFamilies.end()) continue;
    const auto& [prefix, label] = f->second;
    for (const prometheus::ClientMetric& m : family.metric) {
      const std::string key = prefix + Label(m, label);
      const double v = Value(m, family.type);
      out[key] += v;
      if (prefix == "dropped|") out[key + "|" + Label(m, "reason")] += v;
    }
  }
  if (taps == nullptr) return out;
  const TapHub::Totals points = taps->totals();
  for (const auto& [id, n] : points.output) out["out|" + id] = static_cast<double>(n);
  for (const auto& [id, n] : points.input) out["in|" + id] = static_cast<double>(n);
  return out;
}

void StatusBoard::Sample(double now, Totals totals) {
  std::lock_guard<std::mutex> lock(mu_);
  samples_.emplace_back(now, std::move(totals));
  while (samples_.size() > kHistory) samples_.pop_front();
}

std::optional<double> StatusBoard::Rate(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (samples_.size() < 2) return std::nullopt;
  const auto& [t1, last] = samples_.back();
  auto v1 = last.find(key);
  if (v1 == last.end()) return std::nullopt;
  // The earliest sample within the window that has the key.
  for (size_t i = 0; i + 1 < samples_.size(); ++i) {
    const auto& [t0, first] = samples_[i];
    if (t1 - t0 > kWindowSeconds + 0.5) continue;
    auto v0 = first.find(key);
    if (v0 == first.end() || t1 <= t0) continue;
    double sum = 0;
    // Summed step by step, so that a reset inside the window counts from zero.
    for (size_t j = i + 1; j < samples_.size(); ++j) {
      auto a = samples_[j - 1].second.find(key);
      auto b = samples_[j].second.find(key);
      if (b == samples_[j].second.end()) continue;
      sum += a == samples_[j - 1].second.end() ? b->second : Step(a->second, b->second);
    }
    return sum / (t1 - t0);
  }
  return std::nullopt;
}

std::optional<double> StatusBoard::Total(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (samples_.empty()) return std::nullopt;
  auto v = samples_.back().second.find(key);
  if (v == samples_.back().second.end()) return std::nullopt;
  return v->second;
}

std::vector<double> StatusBoard::History(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<double> out;
  for (size_t j = 1; j < samples_.size(); ++j) {
    auto a = samples_[j - 1].second.find(key);
    auto b = samples_[j].second.find(key);
    const double dt = samples_[j].first - samples_[j - 1].first;
    if (a == samples_[j - 1].second.end() || b == samples_[j].second.end() || dt <= 0) continue;
    out.push_back(Step(a->second, b->second) / dt);
  }
  return out;
}

std::map<std::string, double> StatusBoard::Drops(const std::string& component) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, double> out;
  if (samples_.empty()) return out;
  const std::string prefix = "dropped|" + component + "|";
  const Totals& last = samples_.back().second;
  for (auto it = last.lower_bound(prefix); it != last.end() && it->first.rfind(prefix, 0) == 0;
       ++it) {
    out[it->first.substr(prefix.size())] = it->second;
  }
  return out;
}

}  // namespace tributary::core::runtime
