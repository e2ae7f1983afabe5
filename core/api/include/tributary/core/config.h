#ifndef TRIBUTARY_CORE_CONFIG_H_
#define TRIBUTARY_CORE_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "yaml-cpp/yaml.h"

namespace tributary::core {

// A byte count written as `512`, `64KiB`, `4MiB`, `1GB`.
struct ByteSize {
  uint64_t bytes = 0;
  static absl::StatusOr<ByteSize> Parse(std::string_view text);
  std::string ToString() const;
};

// Durations are std::chrono types written as `250ms`, `5s`, `1m30s`, `2h`.
absl::StatusOr<std::chrono::nanoseconds> ParseDuration(std::string_view text);
std::string FormatDuration(std::chrono::nanoseconds d);

// Where a configuration value came from, for error messages.
struct ConfigSite {
  std::string file;
  std::string path;  // dotted key path, e.g. exporters.otlp.endpoint
};

// Collects every error found while reading one file, each as
// `file:line:column: key.path: message`.
class ConfigErrors {
 public:
  void Add(const std::string& file, const YAML::Mark& mark, const std::string& path,
           const std::string& message);
  bool empty() const { return errors_.empty(); }
  std::string ToString() const;
  absl::Status ToStatus() const;

 private:
  std::vector<std::string> errors_;
};

std::string ClosestName(const std::string& name, const std::vector<std::string>& candidates);

class FieldReader;

namespace detail {

template <class T>
concept HasVisitFields = requires(T& t, FieldReader& r) {
  t.VisitFields(r);
};

template <class T>
concept HasValidate = requires(const T& t) {
  { t.Validate() } -> std::same_as<absl::Status>;
};

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

// A list of config blocks (structs with VisitFields).
template <class T>
struct IsBlockList : std::false_type {};
template <class T>
requires HasVisitFields<T>
struct IsBlockList<std::vector<T>> : std::true_type {
};

}  // namespace detail

// The parsing visitor of a config struct's VisitFields(): reads each declared
// key from a YAML mapping, checks its type, and reports unknown keys.
class FieldReader {
 public:
  FieldReader(const YAML::Node& node, std::string file, std::string path, ConfigErrors* errors);

  template <class T>
  void Required(const char* key, T& field, const char* /*help*/) {
    Read(key, field, /*required=*/true);
  }
  template <class T>
  void Optional(const char* key, T& field, const char* /*help*/) {
    Read(key, field, /*required=*/false);
  }
  // An old spelling of `replacement`: still read into `field`, with a
  // warning naming the file and line, so existing files keep working.
  template <class T>
  void Deprecated(const char* key, T& field, const char* replacement) {
    if (node_ && node_.IsMap() && node_[key]) WarnDeprecated(key, replacement);
    Read(key, field, /*required=*/false);
  }
  // A key the OpenTelemetry Collector has and this component does not
  // implement: refused when present, with `why`, rather than reported as
  // unknown or ignored.
  void Unsupported(const char* key, const char* why) {
    declared_.push_back(key);
    if (node_ && node_.IsMap() && node_[key]) RefuseUnsupported(key, why);
  }
  // A key of the OpenTelemetry Collector's of which only one value, the
  // field's initial one, matches what this component does: read, and any
  // other value refused with `why`.
  template <class T>
  void Only(const char* key, T& field, const char* why) {
    const T expected = field;
    Read(key, field, /*required=*/false);
    if (!(field == expected)) RefuseValue(key, why);
  }
  // Declares a key read by other means, so Finish() does not report it.
  void Skip(const char* key) { declared_.push_back(key); }
  // Reports keys present in the mapping but not declared.
  void Finish();

  // Reads a whole struct from `node`: fields, unknown keys, Validate().
  template <class T>
  static void ReadStruct(const YAML::Node& node, const std::string& file, const std::string& path,
                         ConfigErrors* errors, T& out) {
    // A block that may also be written as one value (`mapping: otel` for
    // `mapping: {mode: otel}`).
    if constexpr (requires(const std::string& text) { out.FromScalar(text); }) {
      if (node && node.IsScalar()) {
        out.FromScalar(node.Scalar());
        if constexpr (detail::HasValidate<T>) {
          if (absl::Status s = out.Validate(); !s.ok()) {
            errors->Add(file, node.Mark(), path, std::string(s.message()));
          }
        }
        return;
      }
    }
    if (node && !node.IsNull() && !node.IsMap()) {
      errors->Add(file, node.Mark(), path, "expected a mapping");
      return;
    }
    FieldReader reader(node, file, path, errors);
    out.VisitFields(reader);
    reader.Finish();
    // A struct that reads a key in two spellings settles them here.
    if constexpr (requires { out.Resolve(); }) out.Resolve();
    if constexpr (detail::HasValidate<T>) {
      if (absl::Status s = out.Validate(); !s.ok()) {
        errors->Add(file, node ? node.Mark() : YAML::Mark(), path, std::string(s.message()));
      }
    }
  }

 private:
  template <class T>
  void Read(const char* key, std::optional<T>& field, bool /*required*/) {
    // Presence enables an optional block, even with no value (`grpc:`); when
    // the enclosing mapping is given, an absent block is off.
    declared_.push_back(key);
    if (!node_ || !node_.IsMap()) return;
    YAML::Node child = node_[key];
    if (!child) {
      field.reset();
      return;
    }
    if (!field) field.emplace();
    const std::string path = path_.empty() ? key : path_ + "." + key;
    if (!child.IsNull()) Decode(child, path, *field);
  }
  template <class T>
  void Read(const char* key, T& field, bool required) {
    declared_.push_back(key);
    const std::string path = path_.empty() ? key : path_ + "." + key;
    YAML::Node child = (node_ && node_.IsMap()) ? node_[key] : YAML::Node();
    if (!child || child.IsNull()) {
      if (required)
        errors_->Add(file_, node_ ? node_.Mark() : YAML::Mark(), path, "required key is missing");
      return;
    }
    Decode(child, path, field);
  }

  void WarnDeprecated(const char* key, const char* replacement);
  void RefuseUnsupported(const char* key, const char* why);
  void RefuseValue(const char* key, const char* why);
  void Decode(const YAML::Node& n, const std::string& path, std::string& out);
  void Decode(const YAML::Node& n, const std::string& path, bool& out);
  void Decode(const YAML::Node& n, const std::string& path, int64_t& out);
  void Decode(const YAML::Node& n, const std::string& path, double& out);
  void Decode(const YAML::Node& n, const std::string& path, ByteSize& out);
  void Decode(const YAML::Node& n, const std::string& path, std::vector<std::string>& out);
  void Decode(const YAML::Node& n, const std::string& path, std::vector<double>& out);
  void Decode(const YAML::Node& n, const std::string& path,
              std::map<std::string, std::string>& out);
  void DecodeDuration(const YAML::Node& n, const std::string& path, std::chrono::nanoseconds& out);

  template <class T>
  requires std::is_integral_v<T> &&
      (!std::is_same_v<T, bool>)&&(!std::is_same_v<T, int64_t>)void Decode(const YAML::Node& n,
                                                                           const std::string& path,
                                                                           T& out) {
    int64_t v = static_cast<int64_t>(out);
    Decode(n, path, v);
    if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
        static_cast<uint64_t>(v) > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
      errors_->Add(file_, n.Mark(), path, "value out of range");
      return;
    }
    out = static_cast<T>(v);
  }
  template <class R, class P>
  void Decode(const YAML::Node& n, const std::string& path, std::chrono::duration<R, P>& out) {
    std::chrono::nanoseconds ns = out;
    DecodeDuration(n, path, ns);
    out = std::chrono::duration_cast<std::chrono::duration<R, P>>(ns);
  }
  template <class T>
  requires detail::HasVisitFields<T>
  void Decode(const YAML::Node& n, const std::string& path, T& out) {
    ReadStruct(n, file_, path, errors_, out);
  }
  // A list of any other decodable type (durations, blocks): each item
  // decoded as a value of its own, its path ending in `[index]`.
  template <class T>
  void Decode(const YAML::Node& n, const std::string& path, std::vector<T>& out) {
    if (!n.IsSequence()) {
      errors_->Add(file_, n.Mark(), path, "expected a list");
      return;
    }
    out.clear();
    size_t index = 0;
    for (const auto& item : n) {
      T value{};
      const std::string item_path = path + "[" + std::to_string(index++) + "]";
      if (item.IsNull()) {
        errors_->Add(file_, item.Mark(), item_path, "expected a value");
        continue;
      }
      Decode(item, item_path, value);
      out.push_back(std::move(value));
    }
  }

  YAML::Node node_;
  std::string file_;
  std::string path_;
  ConfigErrors* errors_;
  std::vector<std::string> declared_;
};

// A row of the generated configuration reference.
struct FieldDoc {
  std::string key;
  std::string type;
  std::string default_value;
  std::string help;
  bool required = false;
};

// The documenting visitor: walks the same VisitFields() and lists every key
// with its type and default, so docs/ cannot drift from the code.
class FieldDocWriter {
 public:
  explicit FieldDocWriter(std::string prefix, std::vector<FieldDoc>* out)
      : prefix_(std::move(prefix)), out_(out) {}

  template <class T>
  void Required(const char* key, T& field, const char* help) {
    Add(key, field, help, true);
  }
  template <class T>
  void Optional(const char* key, T& field, const char* help) {
    Add(key, field, help, false);
  }
  template <class T>
  void Deprecated(const char* key, T& field, const char* replacement) {
    const std::string help = std::string("deprecated; use `") + replacement + "`";
    Add(key, field, help.c_str(), false);
  }
  void Unsupported(const char* key, const char* why) {
    out_->push_back({prefix_.empty() ? key : prefix_ + "." + key, "-", "",
                     std::string("not supported: ") + why, false});
  }
  template <class T>
  void Only(const char* key, T& field, const char* why) {
    const std::string help = "only " + Format(field) + " is supported: " + why;
    Add(key, field, help.c_str(), false);
  }

 private:
  template <class T>
  void Add(const char* key, T& field, const char* help, bool required) {
    const std::string path = prefix_.empty() ? key : prefix_ + "." + key;
    if constexpr (detail::HasVisitFields<T>) {
      FieldDocWriter nested(path, out_);
      field.VisitFields(nested);
    } else if constexpr (detail::IsOptional<T>::value) {
      typename T::value_type inner{};
      if constexpr (detail::HasVisitFields<typename T::value_type>) {
        out_->push_back({path, "block", field ? "on" : "off", help, false});
        FieldDocWriter nested(path, out_);
        inner.VisitFields(nested);
      } else {
        // A value that may be absent: documented as its type, no default.
        out_->push_back({path, TypeName(inner), field ? Format(*field) : "", help, required});
      }
    } else if constexpr (detail::IsBlockList<T>::value) {
      // A list of blocks: one row for the list, then the keys of each item
      // under `key[]`.
      out_->push_back(
          {path, "list of blocks",
           field.empty() ? std::string() : "(" + std::to_string(field.size()) + " items)", help,
           required});
      typename T::value_type inner{};
      FieldDocWriter nested(path + "[]", out_);
      inner.VisitFields(nested);
    } else {
      out_->push_back({path, TypeName(field), Format(field), help, required});
    }
  }
  static std::string TypeName(const std::string&) { return "string"; }
  static std::string TypeName(const bool&) { return "bool"; }
  static std::string TypeName(const double&) { return "number"; }
  static std::string TypeName(const ByteSize&) { return "size"; }
  static std::string TypeName(const std::vector<std::string>&) { return "list of strings"; }
  static std::string TypeName(const std::vector<double>&) { return "list of numbers"; }
  static std::string TypeName(const std::map<std::string, std::string>&) { return "map"; }
  template <class T>
  requires std::is_integral_v<T>
  static std::string TypeName(const T&) { return "integer"; }
  template <class R, class P>
  static std::string TypeName(const std::chrono::duration<R, P>&) {
    return "duration";
  }
  template <class R, class P>
  static std::string TypeName(const std::vector<std::chrono::duration<R, P>>&) {
    return "list of durations";
  }

  static std::string Format(const std::string& v) { return v.empty() ? "" : "`" + v + "`"; }
  static std::string Format(const bool& v) { return v ? "`true`" : "`false`"; }
  static std::string Format(const double& v) { return "`" + std::to_string(v) + "`"; }
  static std::string Format(const ByteSize& v) { return "`" + v.ToString() + "`"; }
  static std::string Format(const std::vector<std::string>& v);
  static std::string Format(const std::vector<double>& v);
  static std::string Format(const std::map<std::string, std::string>& v) {
    return v.empty() ? "" : "(set)";
  }
  template <class T>
  requires std::is_integral_v<T>
  static std::string Format(const T& v) { return "`" + std::to_string(v) + "`"; }
  template <class R, class P>
  static std::string Format(const std::chrono::duration<R, P>& v) {
    return "`" + FormatDuration(v) + "`";
  }
  template <class R, class P>
  static std::string Format(const std::vector<std::chrono::duration<R, P>>& v) {
    if (v.empty()) return "";
    std::string out = "`[";
    for (size_t i = 0; i < v.size(); ++i) out += (i > 0 ? ", " : "") + FormatDuration(v[i]);
    return out + "]`";
  }

  std::string prefix_;
  std::vector<FieldDoc>* out_;
};

template <class T>
std::vector<FieldDoc> DescribeConfig() {
  T config;
  std::vector<FieldDoc> docs;
  FieldDocWriter writer("", &docs);
  config.VisitFields(writer);
  return docs;
}

// Replaces `${env:NAME}` and `${NAME}` with the environment's value (empty
// when unset); `$$` stands for a literal `$`.
absl::StatusOr<std::string> ExpandEnv(std::string_view text);

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_CONFIG_H_
