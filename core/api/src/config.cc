#include "tributary/core/config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tributary/core/log.h"

namespace tributary::core {
namespace {
std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}
}  // namespace

absl::StatusOr<ByteSize> ByteSize::Parse(std::string_view text) {
  std::string_view t = Trim(text);
  size_t i = 0;
  while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
  double number;
  if (i == 0 || !absl::SimpleAtod(std::string(t.substr(0, i)), &number)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", std::string(text), "' is not a size (e.g. 4MiB)"));
  }
  std::string unit = absl::AsciiStrToLower(std::string(Trim(t.substr(i))));
  static const std::pair<const char*, double> kUnits[] = {{"", 1},
                                                          {"b", 1},
                                                          {"k", 1e3},
                                                          {"kb", 1e3},
                                                          {"ki", 1024.0},
                                                          {"kib", 1024.0},
                                                          {"m", 1e6},
                                                          {"mb", 1e6},
                                                          {"mi", 1048576.0},
                                                          {"mib", 1048576.0},
                                                          {"g", 1e9},
                                                          {"gb", 1e9},
                                                          {"gi", 1073741824.0},
                                                          {"gib", 1073741824.0},
                                                          {"t", 1e12},
                                                          {"tb", 1e12},
                                                          {"ti", 1099511627776.0},
                                                          {"tib", 1099511627776.0}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) {
      double bytes = number * factor;
      if (bytes > 9.2e18) return absl::InvalidArgumentError("size too large");
      return ByteSize{static_cast<uint64_t>(bytes)};
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown size unit '", unit, "' (use B, KiB, MiB, GiB, KB, MB, GB)"));
}

std::string ByteSize::ToString() const {
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}};
  for (const auto& [name, factor] : kUnits) {
    if (bytes != 0 && bytes % factor == 0) return absl::StrCat(bytes / factor, name);
  }
  return absl::StrCat(bytes, "B");
}

absl::StatusOr<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  std::string_view t = Trim(text);
  if (t == "0") return std::chrono::nanoseconds(0);
  if (t.empty()) return absl::InvalidArgumentError("empty duration");
  double total = 0;
  size_t i = 0;
  while (i < t.size()) {
    size_t start = i;
    while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
    double number;
    if (i == start || !absl::SimpleAtod(std::string(t.substr(start, i - start)), &number)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", std::string(text), "' is not a duration (e.g. 200ms, 5s, 1m30s)"));
    }
    size_t ustart = i;
    while (i < t.size() && std::isalpha(static_cast<unsigned char>(t[i]))) ++i;
    std::string_view unit = t.substr(ustart, i - ustart);
    double factor;
    if (unit == "ns") {
      factor = 1;
    } else if (unit == "us" || unit == "µs") {
      factor = 1e3;
    } else if (unit == "ms") {
      factor = 1e6;
    } else if (unit == "s") {
      factor = 1e9;
    } else if (unit == "m") {
      factor = 60e9;
    } else if (unit == "h") {
      factor = 3600e9;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("'", std::string(text), "' is not a duration: unit '", std::string(unit),
                       "' (use ns, us, ms, s, m, h)"));
    }
    total += number * factor;
  }
  if (total > 9.2e18) return absl::InvalidArgumentError("duration too large");
  return std::chrono::nanoseconds(static_cast<int64_t>(total));
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  if (ns % 3600000000000 == 0) return absl::StrCat(ns / 3600000000000, "h");
  if (ns % 60000000000 == 0) return absl::StrCat(ns / 60000000000, "m");
  if (ns % 1000000000 == 0) return absl::StrCat(ns / 1000000000, "s");
  if (ns % 1000000 == 0) return absl::StrCat(ns / 1000000, "ms");
  if (ns % 1000 == 0) return absl::StrCat(ns / 1000, "us");
  return absl::StrCat(ns, "ns");
}

void ConfigErrors::Add(const std::string& file, const YAML::Mark& mark, const std::string& path,
                       const std::string& message) {
  std::string where = file;
  if (!mark.is_null()) absl::StrAppend(&where, ":", mark.line + 1, ":", mark.column + 1);
  errors_.push_back(absl::StrCat(where, ": ", path.empty() ? "" : path + ": ", message));
}

std::string ConfigErrors::ToString() const { return absl::StrJoin(errors_, "\n"); }

absl::Status ConfigErrors::ToStatus() const {
  return errors_.empty() ? absl::OkStatus() : absl::InvalidArgumentError(ToString());
}

namespace {
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

std::string ClosestName(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const std::string& c : candidates) {
    size_t d = EditDistance(name, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best_distance <= std::max<size_t>(2, name.size() / 3) ? best : "";
}

FieldReader::FieldReader(const YAML::Node& node, std::string file, std::string path,
                         ConfigErrors* errors)
    : node_(node), file_(std::move(file)), path_(std::move(path)), errors_(errors) {}

void FieldReader::WarnDeprecated(const char* key, const char* replacement) {
  const YAML::Mark mark = node_[key].Mark();
  const std::string path = path_.empty() ? key : path_ + "." + key;
  Log(LogLevel::kWarn, "config",
      absl::StrCat(file_, ":", mark.line + 1, ":", mark.column + 1, ": ", path,
                   " is deprecated; use '", replacement, "'"));
}

void FieldReader::RefuseUnsupported(const char* key, const char* why) {
  YAML::Mark mark = node_[key].Mark();
  for (const auto& kv : node_) {
    if (kv.first.Scalar() == key) mark = kv.first.Mark();
  }
  errors_->Add(file_, mark, path_.empty() ? key : path_ + "." + key,
               absl::StrCat("not supported: ", why));
}

void FieldReader::RefuseValue(const char* key, const char* why) {
  const YAML::Node value = node_[key];
  errors_->Add(file_, value.Mark(), path_.empty() ? key : path_ + "." + key,
               absl::StrCat("value ", value.IsScalar() ? "'" + value.Scalar() + "' " : "",
                            "not supported: ", why));
}

void FieldReader::Finish() {
  if (!node_ || !node_.IsMap()) return;
  for (const auto& kv : node_) {
    std::string key = kv.first.Scalar();
    if (std::find(declared_.begin(), declared_.end(), key) != declared_.end()) continue;
    std::string message = "unknown key";
    if (std::string hint = ClosestName(key, declared_); !hint.empty()) {
      absl::StrAppend(&message, " (did you mean '", hint, "'?)");
    } else if (!declared_.empty()) {
      absl::StrAppend(&message, " (known keys: ", absl::StrJoin(declared_, ", "), ")");
    }
    errors_->Add(file_, kv.first.Mark(), path_.empty() ? key : path_ + "." + key, message);
  }
}

void FieldReader::Decode(const YAML::Node& n, const std::string& path, std::string& out) {
  if (!n.IsScalar()) {
    errors_->Add(file_, n.Mark(), path, "expected a string");
    return;
  }
  out = n.Scalar();
}

void FieldReader::Decode(const YAML::Node& n, const std::string& path, bool& out) {
  std::string v = n.IsScalar() ? absl::AsciiStrToLower(n.Scalar()) : "";
  if (v == "true") {
    out = true;
  } else if (v == "false") {
    out = false;
  } else {
    errors_->Add(file_, n.Mark(), path, "expected true or false");
  }
}

void FieldReader::Decode(const YAML::Node& n, const std::string& path, int64_t& out) {
  if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &out)) {
    errors_->Add(file_, n.Mark(), path, "expected an integer");
  }
}

void FieldReader::Decode(const YAML::Node& n, const std::string& path, double& out) {
  if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &out)) {
    errors_->Add(file_, n.Mark(), path, "expected a number");
  }
}

void FieldReader::Decode(const YAML::Node& n, const std::string& path, ByteSize& out) {
  if (!n.IsScalar()) {
    errors_->Add(file_, n.Mark(), path, "expected a size (e.g. 4MiB)");
    return;
  }
  auto size = ByteSize::Parse(n.Scalar());
  if (!size.ok()) {
    errors_->Add(file_, n.Mark(), path, std::string(size.status().message()));
    return;
  }
  out = *size;
}

void FieldReader::Decode(const YAML::Node& n, const std::string& path,
                         std::vector<std::string>& out) {
  if (!n.IsSequence()) {
    errors_->Add(file_, n.Mark(), path, "expected a list");
    return;
  }
  out.clear();
  for (const auto& item : n) {
    if (!item.IsScalar()) {
      errors_->Add(file_, item.Mark(), path, "expected a list of strings");
      continue;
    }
    out.push_back(item.Scalar());
  }
}

void FieldReader::Decode(const YAML::Node& n, const std::string& path, std::vector<double>& out) {
  if (!n.IsSequence()) {
    errors_->Add(file_, n.Mark(), path, "expected a list");
    return;
  }
  out.clear();
  for (const auto& item : n) {
    double v = 0;
    if (!item.IsScalar() || !absl::SimpleAtod(item.Scalar(), &v)) {
      errors_->Add(file_, item.Mark(), path, "expected a list of numbers");
      continue;
    }
    out.push_back(v);
  }
}

void FieldReader::Decode(const YAML::Node& n, const std::string& path,
                         std::map<std::string, std::string>& out) {
  if (!n.IsMap()) {
    errors_->Add(file_, n.Mark(), path, "expected a mapping");
    return;
  }
  out.clear();
  for (const auto& kv : n) {
    if (!kv.second.IsScalar()) {
      errors_->Add(file_, kv.second.Mark(), path + "." + kv.first.Scalar(), "expected a string");
      continue;
    }
    out[kv.first.Scalar()] = kv.second.Scalar();
  }
}

void FieldReader::DecodeDuration(const YAML::Node& n, const std::string& path,
                                 std::chrono::nanoseconds& out) {
  if (!n.IsScalar()) {
    errors_->Add(file_, n.Mark(), path, "expected a duration (e.g. 5s)");
    return;
  }
  auto d = ParseDuration(n.Scalar());
  if (!d.ok()) {
    errors_->Add(file_, n.Mark(), path, std::string(d.status().message()));
    return;
  }
  out = *d;
}

std::string FieldDocWriter::Format(const std::vector<double>& v) {
  return v.empty() ? "" : "`[" + absl::StrJoin(v, ", ") + "]`";
}

std::string FieldDocWriter::Format(const std::vector<std::string>& v) {
  return v.empty() ? "" : "`[" + absl::StrJoin(v, ", ") + "]`";
}

absl::StatusOr<std::string> ExpandEnv(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        return absl::InvalidArgumentError("unterminated ${ in configuration");
      }
      std::string_view ref = text.substr(i + 2, close - i - 2);
      if (ref.substr(0, 4) == "env:") ref.remove_prefix(4);
      std::string name(ref);
      std::string fallback;
      bool has_fallback = false;
      if (size_t sep = name.find(":-"); sep != std::string::npos) {
        fallback = name.substr(sep + 2);
        name = name.substr(0, sep);
        has_fallback = true;
      }
      if (name.empty() || !std::all_of(name.begin(), name.end(),
                                       [](char c) { return std::isalnum(c) || c == '_'; })) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad environment reference ${", std::string(ref), "}"));
      }
      const char* value = std::getenv(name.c_str());
      if (value != nullptr && (*value != '\0' || !has_fallback)) {
        out.append(value);
      } else {
        out.append(fallback);
      }
      i = close;
      continue;
    }
    out.push_back('$');
  }
  return out;
}

}  // namespace tributary::core
