#include "receivers/tail/log_format.h"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "tributary/core/utf8.h"

namespace tributary::receivers::tail {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValueList;

std::optional<Format> ParseFormat(std::string_view name) {
  if (name == "raw") return Format::kRaw;
  if (name == "cri") return Format::kCri;
  if (name == "docker") return Format::kDocker;
  if (name == "json") return Format::kJson;
  return std::nullopt;
}

std::string_view StreamName(Stream stream) {
  switch (stream) {
    case Stream::kStdout:
      return "stdout";
    case Stream::kStderr:
      return "stderr";
    case Stream::kNone:
      break;
  }
  return "";
}

namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void AppendCodePoint(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

constexpr uint32_t kReplacement = 0xFFFD;
constexpr int kMaxDepth = 64;

// A recursive-descent JSON reader over one line. Values go into OTLP
// AnyValues; a null target skips the value.
class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  absl::Status error() const { return absl::InvalidArgumentError(error_); }

  void SkipSpace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool AtEnd() {
    SkipSpace();
    return p_ == end_;
  }
  bool Consume(char c) {
    SkipSpace();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool Fail(const char* what) {
    if (error_.empty()) error_ = absl::StrCat(what, " at byte ", offset());
    return false;
  }
  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  void set_begin(const char* begin) { begin_ = begin; }

  // Calls member(key) for each member; member parses the value.
  template <class Fn>
  bool Object(Fn&& member) {
    if (!Consume('{')) return Fail("expected an object");
    if (Consume('}')) return true;
    std::string key;
    while (true) {
      SkipSpace();
      key.clear();
      if (!String(&key)) return false;
      if (!Consume(':')) return Fail("expected ':'");
      if (!member(key)) return false;
      if (Consume(',')) continue;
      if (Consume('}')) return true;
      return Fail("expected ',' or '}'");
    }
  }

  bool Value(AnyValue* out, int depth) {
    if (depth > kMaxDepth) return Fail("nesting too deep");
    SkipSpace();
    if (p_ == end_) return Fail("unexpected end");
    switch (*p_) {
      case '"': {
        if (out == nullptr) return String(nullptr);
        return String(out->mutable_string_value());
      }
      case '{': {
        KeyValueList* list = out ? out->mutable_kvlist_value() : nullptr;
        return Object([&](const std::string& key) {
          AnyValue* v = nullptr;
          if (list) {
            auto* kv = list->add_values();
            kv->set_key(key);
            v = kv->mutable_value();
          }
          return Value(v, depth + 1);
        });
      }
      case '[': {
        ++p_;
        auto* array = out ? out->mutable_array_value() : nullptr;
        if (Consume(']')) return true;
        while (true) {
          if (!Value(array ? array->add_values() : nullptr, depth + 1)) return false;
          if (Consume(',')) continue;
          if (Consume(']')) return true;
          return Fail("expected ',' or ']'");
        }
      }
      case 't':
        return Literal("true", [&] {
          if (out) out->set_bool_value(true);
        });
      case 'f':
        return Literal("false", [&] {
          if (out) out->set_bool_value(false);
        });
      case 'n':
        return Literal("null", [] {});
      default:
        return Number(out);
    }
  }

  // Reads a string at the cursor; appends its unescaped text to out (if set).
  bool String(std::string* out) {
    if (p_ == end_ || *p_ != '"') return Fail("expected a string");
    ++p_;
    while (true) {
      const char* run = p_;
      while (p_ < end_ && *p_ != '"' && *p_ != '\\') ++p_;
      if (out && p_ > run) core::utf8::AppendValid(std::string_view(run, p_ - run), out);
      if (p_ == end_) return Fail("unterminated string");
      if (*p_ == '"') {
        ++p_;
        return true;
      }
      ++p_;  // backslash
      if (p_ == end_) return Fail("unterminated escape");
      const char e = *p_++;
      char c;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          c = e;
          break;
        case 'b':
          c = '\b';
          break;
        case 'f':
          c = '\f';
          break;
        case 'n':
          c = '\n';
          break;
        case 'r':
          c = '\r';
          break;
        case 't':
          c = '\t';
          break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
              p_ += 2;
              if (!Hex4(&low)) return false;
              if (low >= 0xDC00 && low <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
              } else {
                if (out) AppendCodePoint(kReplacement, out);
                cp = low >= 0xD800 && low <= 0xDFFF ? kReplacement : low;
              }
            } else {
              cp = kReplacement;
            }
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = kReplacement;
          }
          if (out) AppendCodePoint(cp, out);
          continue;
        }
        default:
          return Fail("bad escape");
      }
      if (out) out->push_back(c);
    }
  }

 private:
  bool Hex4(uint32_t* cp) {
    if (end_ - p_ < 4) return Fail("short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = *p_++;
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Fail("bad \\u escape");
      }
    }
    *cp = v;
    return true;
  }

  template <class Fn>
  bool Literal(std::string_view word, Fn&& set) {
    if (static_cast<size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0) {
      return Fail("bad literal");
    }
    p_ += word.size();
    set();
    return true;
  }

  bool Number(AnyValue* out) {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    const char* digits = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    if (p_ == digits) return Fail("unexpected character");
    bool integral = true;
    if (p_ < end_ && *p_ == '.') {
      integral = false;
      ++p_;
      const char* frac = p_;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      if (p_ == frac) return Fail("bad number");
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      const char* exp = p_;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      if (p_ == exp) return Fail("bad number");
    }
    if (out == nullptr) return true;
    if (integral) {
      int64_t v;
      auto [ptr, ec] = std::from_chars(start, p_, v);
      if (ec == std::errc() && ptr == p_) {
        out->set_int_value(v);
        return true;
      }
    }
    double d;
    auto [ptr, ec] = std::from_chars(start, p_, d);
    if (ec == std::errc::result_out_of_range) {
      d = std::strtod(std::string(start, p_).c_str(), nullptr);  // ±inf or 0
    } else if (ec != std::errc()) {
      return Fail("bad number");
    }
    out->set_double_value(d);
    return true;
  }

  const char* p_;
  const char* end_;
  const char* begin_ = p_;
  std::string error_;
};

}  // namespace

bool ParseRfc3339(std::string_view s, int64_t* unix_nano) {
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &month) ||
      s[7] != '-' || !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &hour) || s[13] != ':' || !Digits(s, 14, 2, &minute) || s[16] != ':' ||
      !Digits(s, 17, 2, &second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (s[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return false;
    for (; digits < 9; ++digits) nanos *= 10;
  }
  int64_t offset_seconds = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return false;
    }
    offset_seconds = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  const int64_t days =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  // OTLP times are unsigned nanoseconds since 1970 in 64 bits: up to 2262.
  if (seconds < 0 || seconds >= std::numeric_limits<int64_t>::max() / 1000000000 - 1) return false;
  *unix_nano = seconds * 1000000000 + nanos;
  return true;
}

bool ParseCriLine(std::string_view line, RuntimeLine* out) {
  const size_t t_end = line.find(' ');
  if (t_end == std::string_view::npos) return false;
  if (!ParseRfc3339(line.substr(0, t_end), &out->time_unix_nano)) return false;
  std::string_view rest = line.substr(t_end + 1);
  if (rest.starts_with("stdout ")) {
    out->stream = Stream::kStdout;
  } else if (rest.starts_with("stderr ")) {
    out->stream = Stream::kStderr;
  } else {
    return false;
  }
  rest.remove_prefix(7);
  // The tag field: P (partial) or F (full), possibly followed by `:`-tags.
  const size_t tag_end = rest.find(' ');
  const std::string_view tags = rest.substr(0, tag_end);
  if (tags.empty()) return false;
  const std::string_view flag = tags.substr(0, tags.find(':'));
  if (flag == "P") {
    out->partial = true;
  } else if (flag == "F") {
    out->partial = false;
  } else {
    return false;
  }
  out->message = tag_end == std::string_view::npos ? std::string_view() : rest.substr(tag_end + 1);
  return true;
}

bool ParseDockerLine(std::string_view line, RuntimeLine* out, std::string* scratch) {
  JsonReader reader(line);
  scratch->clear();
  std::string stream, time;
  bool have_log = false;
  const bool ok = reader.Object([&](const std::string& key) {
    reader.SkipSpace();
    if (key == "log") {
      have_log = true;
      return reader.String(scratch);
    }
    if (key == "stream") return reader.String(&stream);
    if (key == "time") return reader.String(&time);
    return reader.Value(nullptr, 1);
  });
  if (!ok || !reader.AtEnd() || !have_log) return false;
  out->stream = stream == "stdout"   ? Stream::kStdout
                : stream == "stderr" ? Stream::kStderr
                                     : Stream::kNone;
  out->time_unix_nano = 0;
  if (!time.empty() && !ParseRfc3339(time, &out->time_unix_nano)) return false;
  std::string_view message = *scratch;
  out->partial = !message.ends_with('\n');
  if (!out->partial) message.remove_suffix(1);
  if (message.ends_with('\r')) message.remove_suffix(1);
  out->message = message;
  return true;
}

absl::Status ParseJsonObject(std::string_view text, KeyValueList* out) {
  JsonReader reader(text);
  const bool ok = reader.Object([&](const std::string& key) {
    auto* kv = out->add_values();
    kv->set_key(key);
    return reader.Value(kv->mutable_value(), 1);
  });
  if (!ok) return reader.error();
  if (!reader.AtEnd()) return absl::InvalidArgumentError("trailing data after the object");
  return absl::OkStatus();
}

int SeverityFromText(std::string_view text) {
  std::string t(text);
  absl::AsciiStrToLower(&t);
  if (t == "trace") return 1;
  if (t == "debug" || t == "dbg") return 5;
  if (t == "info" || t == "information" || t == "informational" || t == "notice") return 9;
  if (t == "warn" || t == "warning") return 13;
  if (t == "error" || t == "err") return 17;
  if (t == "fatal" || t == "critical" || t == "crit" || t == "panic" || t == "emerg" ||
      t == "emergency" || t == "alert" || t == "dpanic") {
    return 21;
  }
  return 0;
}

int SeverityFromNumber(int64_t level) {
  switch (level) {
    case 10:
      return 1;
    case 20:
      return 5;
    case 30:
      return 9;
    case 40:
      return 13;
    case 50:
      return 17;
    case 60:
      return 21;
    default:
      return 0;
  }
}

}  // namespace tributary::receivers::tail
