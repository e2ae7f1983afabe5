#include "receivers/prometheus_scrape/exposition.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "absl/container/flat_hash_map.h"

namespace tributary::receivers::prometheus_scrape {

namespace {

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

bool ParseValue(std::string_view s, double* out) {
  if (s == "+Inf" || s == "Inf" || s == "+inf" || s == "inf") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "-Inf" || s == "-inf") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "NaN" || s == "nan") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

// The family a sample name belongs to, given the declared families.
std::string_view FamilyOf(std::string_view sample,
                          const absl::flat_hash_map<std::string, size_t>& declared,
                          const std::vector<Family>& families) {
  if (declared.contains(std::string(sample))) return sample;
  for (std::string_view suffix :
       {"_bucket", "_count", "_sum", "_created", "_total", "_gcount", "_gsum", "_info"}) {
    if (sample.size() > suffix.size() && sample.substr(sample.size() - suffix.size()) == suffix) {
      const std::string_view base = sample.substr(0, sample.size() - suffix.size());
      auto it = declared.find(std::string(base));
      if (it != declared.end()) {
        const std::string& type = families[it->second].type;
        if (suffix == "_total" || suffix == "_created") {
          if (type == "counter" || type == "histogram" || type == "summary") return base;
        } else if (type == "histogram" || type == "summary" || type == "gaugehistogram" ||
                   type == "info") {
          return base;
        }
      }
    }
  }
  return sample;
}

class LineParser {
 public:
  LineParser(std::string_view line, Format format) : s_(line), format_(format) {}

  // name{labels} value [timestamp] [# exemplar]
  std::optional<std::string> Sample(struct Sample* out, bool* exemplar) {
    if (pos_ >= s_.size() || !IsNameStart(s_[pos_])) return "expected a metric name";
    const size_t start = pos_;
    while (pos_ < s_.size() && IsNameChar(s_[pos_])) ++pos_;
    out->name = std::string(s_.substr(start, pos_ - start));
    if (pos_ < s_.size() && s_[pos_] == '{') {
      if (auto e = Labels(&out->labels)) return e;
    }
    if (pos_ >= s_.size() || (s_[pos_] != ' ' && s_[pos_] != '\t')) return "expected a value";
    SkipSpace();
    std::string_view value = Token();
    if (!ParseValue(value, &out->value)) return "invalid value \"" + std::string(value) + "\"";
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] != '#') {
      std::string_view ts = Token();
      double t = 0;
      if (!ParseValue(ts, &t) || !std::isfinite(t)) return "invalid timestamp";
      const double ms = format_ == Format::kOpenMetrics ? t * 1000 : t;
      if (std::fabs(ms) > 9e18) return "timestamp out of range";
      out->timestamp_ms = static_cast<int64_t>(std::llround(ms));
      SkipSpace();
    }
    if (pos_ < s_.size() && s_[pos_] == '#') {
      // An exemplar: `# {labels} value [timestamp]`, read and dropped.
      ++pos_;
      SkipSpace();
      std::vector<std::pair<std::string, std::string>> ex;
      if (pos_ >= s_.size() || s_[pos_] != '{') return "invalid exemplar";
      if (auto e = Labels(&ex)) return "invalid exemplar: " + *e;
      SkipSpace();
      double v = 0;
      if (!ParseValue(Token(), &v)) return "invalid exemplar value";
      SkipSpace();
      if (pos_ < s_.size()) {
        double t = 0;
        if (!ParseValue(Token(), &t)) return "invalid exemplar timestamp";
      }
      *exemplar = true;
      SkipSpace();
    }
    if (pos_ != s_.size()) return "unexpected text after the sample";
    return std::nullopt;
  }

 private:
  std::optional<std::string> Labels(std::vector<std::pair<std::string, std::string>>* out) {
    ++pos_;  // '{'
    while (true) {
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return std::nullopt;
      }
      if (pos_ >= s_.size() || !IsNameStart(s_[pos_])) return "expected a label name";
      const size_t start = pos_;
      while (pos_ < s_.size() && IsNameChar(s_[pos_])) ++pos_;
      std::string name(s_.substr(start, pos_ - start));
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '=') return "expected = after label " + name;
      ++pos_;
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '"') return "expected a quoted label value";
      ++pos_;
      std::string value;
      while (true) {
        if (pos_ >= s_.size()) return "unterminated label value";
        const char c = s_[pos_++];
        if (c == '"') break;
        if (c == '\\') {
          if (pos_ >= s_.size()) return "unterminated escape";
          const char e = s_[pos_++];
          if (e == 'n') {
            value.push_back('\n');
          } else if (e == '\\' || e == '"') {
            value.push_back(e);
          } else {
            value.push_back('\\');
            value.push_back(e);
          }
          continue;
        }
        value.push_back(c);
      }
      out->emplace_back(std::move(name), std::move(value));
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return std::nullopt;
      }
      return "expected , or } in labels";
    }
  }
  std::string_view Token() {
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != ' ' && s_[pos_] != '\t') ++pos_;
    return s_.substr(start, pos_ - start);
  }
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }

  std::string_view s_;
  Format format_;
  size_t pos_ = 0;
};

}  // namespace

namespace {

// What a # TYPE, # HELP or # UNIT line says of its family; an error for an
// unknown type.
std::optional<std::string> ApplyMetadata(std::string_view keyword, std::string_view arg,
                                         Family* f) {
  if (keyword == "TYPE") {
    while (!arg.empty() && arg.back() == ' ') arg.remove_suffix(1);
    static constexpr std::string_view kTypes[] = {"counter",        "gauge",    "histogram",
                                                  "summary",        "untyped",  "unknown",
                                                  "gaugehistogram", "stateset", "info"};
    bool known = false;
    for (std::string_view t : kTypes) known = known || t == arg;
    if (!known) return "unknown type \"" + std::string(arg) + "\"";
    f->type = arg == "untyped" ? "unknown" : std::string(arg);
  } else if (keyword == "HELP") {
    std::string help;
    for (size_t i = 0; i < arg.size(); ++i) {
      if (arg[i] == '\\' && i + 1 < arg.size() &&
          (arg[i + 1] == 'n' || arg[i + 1] == '\\' || arg[i + 1] == '"')) {
        help.push_back(arg[i + 1] == 'n' ? '\n' : arg[i + 1]);
        ++i;
      } else {
        help.push_back(arg[i]);
      }
    }
    f->help = std::move(help);
  } else {
    f->unit = std::string(arg);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> Parse(std::string_view text, Format format, ParseResult* out) {
  *out = ParseResult();
  absl::flat_hash_map<std::string, size_t> declared;
  auto family = [&](std::string_view name) -> Family& {
    auto [it, inserted] = declared.try_emplace(std::string(name), out->families.size());
    if (inserted) {
      out->families.emplace_back();
      out->families.back().name = std::string(name);
    }
    return out->families[it->second];
  };
  size_t line_no = 0;
  bool eof = false;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (eof) {
      if (!line.empty()) return "line " + std::to_string(line_no) + ": text after # EOF";
      continue;
    }
    if (line.empty()) continue;
    if (line.front() == '#') {
      if (line == "# EOF") {
        eof = true;
        continue;
      }
      // # HELP name text, # TYPE name type, # UNIT name unit; other comments
      // are ignored.
      std::string_view rest = line.substr(1);
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      const size_t sp = rest.find(' ');
      const std::string_view keyword = rest.substr(0, sp);
      if (keyword != "HELP" && keyword != "TYPE" && keyword != "UNIT") continue;
      rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      const size_t sp2 = rest.find(' ');
      const std::string_view name = rest.substr(0, sp2);
      std::string_view arg =
          sp2 == std::string_view::npos ? std::string_view() : rest.substr(sp2 + 1);
      if (name.empty() || !IsNameStart(name.front())) {
        return "line " + std::to_string(line_no) + ": expected a metric name after # " +
               std::string(keyword);
      }
      if (auto e = ApplyMetadata(keyword, arg, &family(name))) {
        return "line " + std::to_string(line_no) + ": " + *e;
      }
      continue;
    }
    Sample sample;
    bool exemplar = false;
    LineParser p(line, format);
    if (auto e = p.Sample(&sample, &exemplar)) return "line " + std::to_string(line_no) + ": " + *e;
    out->exemplars += exemplar;
    ++out->samples;
    family(FamilyOf(sample.name, declared, out->families)).samples.push_back(std::move(sample));
  }
  if (format == Format::kOpenMetrics && !eof) return "OpenMetrics exposition without # EOF";
  return std::nullopt;
}

}  // namespace tributary::receivers::prometheus_scrape
