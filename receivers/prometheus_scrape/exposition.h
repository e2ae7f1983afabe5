#ifndef TRIBUTARY_RECEIVERS_PROMETHEUS_SCRAPE_EXPOSITION_H_
#define TRIBUTARY_RECEIVERS_PROMETHEUS_SCRAPE_EXPOSITION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tributary::receivers::prometheus_scrape {

enum class Format { kText, kOpenMetrics };

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in the order written
  double value = 0;
  std::optional<int64_t> timestamp_ms;
};

// A metric family: its declared type and the samples that belong to it
// (for histograms and summaries, the _bucket/_sum/_count/_created series
// too).
struct Family {
  std::string name;
  std::string type = "unknown";  // counter, gauge, histogram, summary, unknown, ...
  std::string help;
  std::string unit;
  std::vector<Sample> samples;
};

struct ParseResult {
  std::vector<Family> families;
  size_t samples = 0;
  size_t exemplars = 0;  // read and dropped
};

// Parses the Prometheus text format 0.0.4 or OpenMetrics 1.0. Returns an
// error message (with the line number) for input that is neither; stops at
// `# EOF`. Exemplars are read and dropped.
std::optional<std::string> Parse(std::string_view text, Format format, ParseResult* out);

}  // namespace tributary::receivers::prometheus_scrape

#endif  // TRIBUTARY_RECEIVERS_PROMETHEUS_SCRAPE_EXPOSITION_H_
