// Parse throughput of the prometheus_scrape receiver: a 100,000-series text
// exposition (counters with three labels, like the prometheus exporter's
// benchmark) parsed, and parsed and converted to OTLP, five times each.
// Prints the median as BENCH lines.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "receivers/prometheus_scrape/exposition.h"
#include "receivers/prometheus_scrape/scrape_receiver.h"

using namespace tributary::receivers::prometheus_scrape;

int main() {
  std::string text = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n";
  const int series = 100000;
  for (int i = 0; i < series; ++i) {
    text += "http_requests_total{service=\"svc" + std::to_string(i % 100) +
            "\",route=\"/api/v1/items/" + std::to_string(i / 100) + "\",code=\"" +
            std::to_string(200 + i % 5) + "\"} " + std::to_string(i * 7) + "\n";
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::vector<double> parse, convert;
  const Converter converter{Converter::Options{}};
  for (int run = 0; run < 5; ++run) {
    ParseResult r;
    auto t0 = std::chrono::steady_clock::now();
    if (Parse(text, Format::kText, &r)) return 1;
    auto t1 = std::chrono::steady_clock::now();
    opentelemetry::proto::metrics::v1::ScopeMetrics out;
    converter.Convert(r, 1, &out);
    auto t2 = std::chrono::steady_clock::now();
    parse.push_back(std::chrono::duration<double>(t1 - t0).count());
    convert.push_back(std::chrono::duration<double>(t2 - t0).count());
  }
  printf("BENCH scrape_parse_100k_samples_per_s %.0f samples/s\n", series / median(parse));
  printf("BENCH scrape_parse_100k_mib_per_s %.1f MiB/s\n", text.size() / 1048576.0 / median(parse));
  printf("BENCH scrape_parse_and_convert_100k_samples_per_s %.0f samples/s\n",
         series / median(convert));
  return 0;
}
