// Test helpers: an SdkState without export threads, and an OTLP/HTTP capture server.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "state.h"

namespace tributary::sdk::testing {

namespace otlp = opentelemetry::proto;

inline SdkOptions QuietOptions() {
  SdkOptions o;
  o.service_name = "test-service";
  return o;
}

// Collects the metrics of an SdkState (no thread needed) and parses them.
inline otlp::collector::metrics::v1::ExportMetricsServiceRequest Collect(detail::SdkState& sdk) {
  std::string body;
  sdk.CollectMetrics(body);
  otlp::collector::metrics::v1::ExportMetricsServiceRequest req;
  EXPECT_TRUE(req.ParseFromString(body));
  return req;
}

inline const otlp::metrics::v1::Metric* FindMetric(
    const otlp::collector::metrics::v1::ExportMetricsServiceRequest& req, const std::string& name) {
  for (const auto& rm : req.resource_metrics())
    for (const auto& sm : rm.scope_metrics())
      for (const auto& m : sm.metrics())
        if (m.name() == name) return &m;
  return nullptr;
}

template <class Point>
std::string AttrString(const Point& p) {
  std::vector<std::string> parts;
  for (const auto& kv : p.attributes()) {
    const auto& v = kv.value();
    std::string s = kv.key() + "=";
    if (v.has_string_value())
      s += v.string_value();
    else if (v.has_int_value())
      s += std::to_string(v.int_value());
    else if (v.has_bool_value())
      s += v.bool_value() ? "true" : "false";
    else if (v.has_double_value())
      s += std::to_string(v.double_value());
    parts.push_back(s);
  }
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (auto& p2 : parts) out += (out.empty() ? "" : ",") + p2;
  return out;
}

// Answers OTLP/HTTP requests; keeps every body. status decides the answer.
class CaptureServer {
 public:
  CaptureServer() {
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      int status = 200;
      {
        std::lock_guard lock(mu_);
        ++requests_;
        if (status_) status = status_(req.path);
        if (status == 200)
          bodies_.push_back({req.path, req.body, req.get_header_value("Content-Encoding")});
        for (const auto& [k, v] : req.headers) last_headers_[k] = v;
      }
      res.status = status;
      if (status == 429) res.set_header("Retry-After", "0");
      res.set_content("", "application/x-protobuf");
    };
    server_.Post("/v1/traces", handler);
    server_.Post("/v1/metrics", handler);
    server_.Post("/v1/logs", handler);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~CaptureServer() {
    server_.stop();
    thread_.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void SetStatus(std::function<int(const std::string&)> f) {
    std::lock_guard lock(mu_);
    status_ = std::move(f);
  }
  struct Body {
    std::string path;
    std::string data;
    std::string encoding;
  };
  std::vector<Body> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  int requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::string header(const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = last_headers_.find(name);
    return it == last_headers_.end() ? "" : it->second;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::function<int(const std::string&)> status_;
  std::vector<Body> bodies_;
  std::map<std::string, std::string> last_headers_;
  int requests_ = 0;
};

}  // namespace tributary::sdk::testing
