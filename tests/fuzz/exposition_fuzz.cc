// Prometheus expositions as any scrape target may answer: the first byte
// picks the format (text 0.0.4 or OpenMetrics), the rest is parsed and, when
// it parses, converted to OTLP. Never a crash; every converted histogram's
// bucket counts match its explicit bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "receivers/prometheus_scrape/exposition.h"
#include "receivers/prometheus_scrape/scrape_receiver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tributary::receivers::prometheus_scrape;
  if (size == 0) return 0;
  const Format format = data[0] & 1 ? Format::kOpenMetrics : Format::kText;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  ParseResult result;
  if (Parse(text, format, &result)) return 0;
  static const Converter converter{Converter::Options{}};
  opentelemetry::proto::metrics::v1::ScopeMetrics out;
  converter.Convert(result, 1, &out);
  for (const auto& m : out.metrics()) {
    for (const auto& p : m.histogram().data_points()) {
      if (p.bucket_counts_size() != p.explicit_bounds_size() + 1) __builtin_trap();
    }
  }
  return 0;
}
