// Compares what a sender had acknowledged with what reached the destination
// (OTLP/JSON lines, as the file exporter writes them) and prints
//   sent=<acked spans> delivered=<of those, delivered> lost=<acked, never
//   delivered> duplicated=<extra copies> unexpected=<delivered, never acked>
// Exits 1 when lost differs from --expect-lost (default 0) or when anything
// delivered is not a span the sender made.
//
//   tributary-fault-check --acked FILE [--expect-lost N] OUTPUT...

#include <cstdio>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "tributary/core/otlp_codec.h"

int main(int argc, char** argv) {
  std::string acked_path;
  long long expect_lost = 0;
  std::vector<std::string> outputs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--acked" && i + 1 < argc) {
      acked_path = argv[++i];
    } else if (a == "--expect-lost" && i + 1 < argc) {
      expect_lost = std::stoll(argv[++i]);
    } else {
      outputs.push_back(a);
    }
  }
  if (acked_path.empty()) {
    fprintf(stderr, "usage: %s --acked FILE [--expect-lost N] OUTPUT...\n", argv[0]);
    return 2;
  }
  std::unordered_map<uint64_t, uint32_t> seen;  // id -> copies delivered
  uint64_t garbage = 0, lines = 0, bad_lines = 0;
  for (const std::string& path : outputs) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      ++lines;
      auto batch = tributary::core::DecodeOtlpJson(tributary::core::Signal::kTraces, line);
      if (!batch.ok()) {
        ++bad_lines;
        continue;
      }
      for (const auto& rs : batch->traces().resource_spans()) {
        for (const auto& ss : rs.scope_spans()) {
          for (const auto& span : ss.spans()) {
            const std::string& name = span.name();
            uint64_t id = 0;
            if (name.rfind("id:", 0) != 0 || name.size() < 4) {
              ++garbage;
              continue;
            }
            try {
              id = std::stoull(name.substr(3));
            } catch (...) {
              ++garbage;
              continue;
            }
            seen[id]++;
          }
        }
      }
    }
  }
  std::ifstream acked(acked_path);
  uint64_t sent = 0, delivered = 0, lost = 0, duplicated = 0, unexpected = 0;
  std::unordered_map<uint64_t, bool> acked_ids;
  unsigned long long first;
  int count;
  for (std::string line; std::getline(acked, line);) {
    if (sscanf(line.c_str(), "%llu %d", &first, &count) != 2) continue;
    for (int i = 0; i < count; ++i) {
      const uint64_t id = first + static_cast<uint64_t>(i);
      acked_ids[id] = true;
      ++sent;
      auto it = seen.find(id);
      if (it == seen.end()) {
        ++lost;
      } else {
        ++delivered;
      }
    }
  }
  for (const auto& [id, copies] : seen) {
    duplicated += copies - 1;
    if (!acked_ids.count(id)) ++unexpected;
  }
  printf("sent=%llu delivered=%llu lost=%llu duplicated=%llu unexpected=%llu garbage=%llu\n",
         static_cast<unsigned long long>(sent), static_cast<unsigned long long>(delivered),
         static_cast<unsigned long long>(lost), static_cast<unsigned long long>(duplicated),
         static_cast<unsigned long long>(unexpected), static_cast<unsigned long long>(garbage));
  if (bad_lines > 0) {
    fprintf(stderr, "fault-check: %llu of %llu output lines are not OTLP/JSON\n",
            static_cast<unsigned long long>(bad_lines), static_cast<unsigned long long>(lines));
    return 1;
  }
  if (garbage > 0) return 1;
  if (static_cast<long long>(lost) != expect_lost) {
    fprintf(stderr, "fault-check: lost %llu, expected %lld\n",
            static_cast<unsigned long long>(lost), expect_lost);
    return 1;
  }
  return 0;
}
