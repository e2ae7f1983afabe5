#include <cstdio>
#include <optional>

#include "absl/strings/str_cat.h"
#include "exporters/elasticsearch/document.h"

// Where a document goes: a data stream named from its resource, or a dated
// index.
namespace tributary::exporters::elasticsearch {

namespace {

// Data stream name parts: lower case, without the characters index names
// cannot hold (and without '-', which separates the parts).
std::string StreamPart(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c == '\\' || c == '/' || c == '*' || c == '?' || c == '"' || c == '<' || c == '>' ||
        c == '|' || c == ' ' || c == ',' || c == '#' || c == ':' || c == '-') {
      c = '_';
    }
    out.push_back(c);
  }
  return out.empty() ? std::string("default") : out;
}

std::string DatedIndex(const std::string& pattern, uint64_t unix_nano) {
  int y;
  unsigned m, d;
  CivilFromDays(static_cast<int64_t>(unix_nano / 1000000000ull / 86400), &y, &m, &d);
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size()) {
      char buf[16];
      switch (pattern[i + 1]) {
        case 'Y':
          snprintf(buf, sizeof buf, "%04d", y);
          out += buf;
          ++i;
          continue;
        case 'm':
          snprintf(buf, sizeof buf, "%02u", m);
          out += buf;
          ++i;
          continue;
        case 'd':
          snprintf(buf, sizeof buf, "%02u", d);
          out += buf;
          ++i;
          continue;
        default:
          break;
      }
    }
    out.push_back(pattern[i]);
  }
  return out;
}

std::string StreamIndex(const char* type, const Origin& origin, const IndexOptions& o) {
  const std::optional<std::string> dataset =
      core::wire::StringAttribute(origin.resource.bytes(), 1, "data_stream.dataset");
  const std::optional<std::string> ns =
      core::wire::StringAttribute(origin.resource.bytes(), 1, "data_stream.namespace");
  return absl::StrCat(type, "-", StreamPart(dataset ? *dataset : o.dataset), "-",
                      StreamPart(ns ? *ns : o.ns));
}

}  // namespace

// Howard Hinnant's algorithm.
void CivilFromDays(int64_t z, int* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int>(yy + (*m <= 2));
}

std::string LogsIndex(const Origin& origin, uint64_t time_unix_nano, const IndexOptions& o) {
  if (!o.logs_index.empty()) return DatedIndex(o.logs_index, time_unix_nano);
  return StreamIndex("logs", origin, o);
}

std::string TracesIndex(const Origin& origin, uint64_t time_unix_nano, const IndexOptions& o) {
  if (!o.traces_index.empty()) return DatedIndex(o.traces_index, time_unix_nano);
  return StreamIndex("traces", origin, o);
}

}  // namespace tributary::exporters::elasticsearch
