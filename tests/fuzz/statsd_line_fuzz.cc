// StatsD datagrams as anyone on the network may send them: lines parsed and
// aggregated, then flushed into OTLP; never a crash, and every flushed
// histogram's bucket counts add up to its count.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "receivers/statsd/statsd_parser.h"
#include "receivers/statsd/statsd_receiver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tributary::receivers::statsd;
  Aggregator aggregator({1, 10, 100}, {0.5, 5},
                        Aggregator::Limits{.max_series = 1000, .max_set_members = 100});
  std::string_view datagram(reinterpret_cast<const char*>(data), size);
  Line line;
  std::string error;
  while (!datagram.empty()) {
    const size_t nl = datagram.find('\n');
    const std::string_view text = datagram.substr(0, nl);
    datagram = nl == std::string_view::npos ? std::string_view() : datagram.substr(nl + 1);
    if (ParseLine(text, &line, &error)) aggregator.Add(line);
  }
  const auto req = aggregator.Flush(1, 2, {});
  for (const auto& rm : req.resource_metrics()) {
    for (const auto& sm : rm.scope_metrics()) {
      for (const auto& m : sm.metrics()) {
        for (const auto& p : m.histogram().data_points()) {
          uint64_t n = 0;
          for (uint64_t c : p.bucket_counts()) n += c;
          if (n != p.count()) __builtin_trap();
        }
      }
    }
  }
  return 0;
}
