#ifndef TRIBUTARY_RECEIVERS_STATSD_STATSD_PARSER_H_
#define TRIBUTARY_RECEIVERS_STATSD_STATSD_PARSER_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tributary::receivers::statsd {

enum class MetricType { kCounter, kGauge, kTimer, kHistogram, kDistribution, kSet };

// One StatsD line: `name:value|type[|@rate][|#tag:value,tag2]`, with the
// DogStatsD extensions (tags; other `|`-sections such as `c:` container ids
// and `T` timestamps are accepted and ignored). Views into the line.
struct Line {
  std::string_view name;
  std::string_view value;  // as written (a set's member)
  double number = 0;       // the value, for every type but sets
  bool delta = false;      // a gauge written with a sign: added to the last value
  MetricType type = MetricType::kCounter;
  double sample_rate = 1;
  std::vector<std::pair<std::string_view, std::string_view>> tags;
};

// Parses one line (without its newline). On failure returns false and sets
// `error` to why.
bool ParseLine(std::string_view text, Line* out, std::string* error);

}  // namespace tributary::receivers::statsd

#endif  // TRIBUTARY_RECEIVERS_STATSD_STATSD_PARSER_H_
