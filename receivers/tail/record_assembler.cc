#include "receivers/tail/record_assembler.h"

#include <algorithm>

#include "re2/re2.h"
#include "tributary/core/utf8.h"

namespace tributary::receivers::tail {

using opentelemetry::proto::common::v1::KeyValueList;

namespace {

constexpr size_t Slot(Stream s) { return static_cast<size_t>(s); }

void AddStringAttribute(LogRecord* r, std::string_view key, std::string_view value) {
  auto* kv = r->add_attributes();
  kv->set_key(std::string(key));
  kv->mutable_value()->set_string_value(std::string(value));
}

std::string_view StripCarriageReturn(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

bool RecordAssembler::AppendLimited(std::string* dst, std::string_view src) const {
  const size_t room =
      options_->max_record_bytes - std::min(options_->max_record_bytes, dst->size());
  if (src.size() <= room) {
    dst->append(src);
    return true;
  }
  size_t n = room;
  // Never split a UTF-8 character.
  while (n > 0 && n < src.size() && (static_cast<unsigned char>(src[n]) & 0xC0) == 0x80) --n;
  dst->append(src.substr(0, n));
  return false;
}

void RecordAssembler::AddLine(std::string_view line, uint64_t start, uint64_t /*end*/, bool cut,
                              SteadyTime now, int64_t observed) {
  RuntimeLine rl;
  bool parsed = false;
  switch (options_->format) {
    case Format::kRaw:
      Logical(Stream::kNone, StripCarriageReturn(line), 0, start, cut, {}, now, observed);
      return;
    case Format::kJson:
      EmitJson(StripCarriageReturn(line), cut, observed);
      return;
    case Format::kCri:
      parsed = ParseCriLine(line, &rl);
      break;
    case Format::kDocker:
      parsed = ParseDockerLine(line, &rl, &scratch_);
      break;
  }
  if (!parsed) {
    Logical(Stream::kNone, StripCarriageReturn(line), 0, start, cut,
            options_->format == Format::kCri ? "not a CRI log line" : "not a Docker json-file line",
            now, observed);
    return;
  }
  Open& p = partial_[Slot(rl.stream)];
  if (rl.partial || p.active) {
    if (!p.active) {
      p.active = true;
      p.text.clear();
      p.time_unix_nano = rl.time_unix_nano;
      p.start = start;
      p.truncated = false;
    }
    if (!AppendLimited(&p.text, rl.message)) p.truncated = true;
    p.truncated |= cut;
    p.last_line = now;
    if (rl.partial && !cut) return;
    p.active = false;
    Logical(rl.stream, p.text, p.time_unix_nano, p.start, p.truncated, {}, now, observed);
    return;
  }
  Logical(rl.stream, rl.message, rl.time_unix_nano, start, cut, {}, now, observed);
}

void RecordAssembler::Logical(Stream stream, std::string_view text, int64_t time, uint64_t start,
                              bool truncated, std::string_view parse_error, SteadyTime now,
                              int64_t observed) {
  if (options_->line_start == nullptr) {
    Emit(stream, text, time, truncated, parse_error, observed);
    return;
  }
  Open& m = multiline_[Slot(stream)];
  if (!m.active || re2::RE2::PartialMatch(text, *options_->line_start)) {
    if (m.active) EmitOpen(stream, m, observed);
    m.active = true;
    m.text.clear();
    m.truncated = !AppendLimited(&m.text, text) || truncated;
    m.time_unix_nano = time;
    m.start = start;
  } else if (!m.truncated) {
    m.truncated = !AppendLimited(&m.text, "\n") || !AppendLimited(&m.text, text) || truncated;
  }
  m.last_line = now;
}

void RecordAssembler::EmitOpen(Stream stream, Open& open, int64_t observed) {
  open.active = false;
  Emit(stream, open.text, open.time_unix_nano, open.truncated, {}, observed);
  if (open.text.capacity() > (64 << 10)) std::string().swap(open.text);
}

void RecordAssembler::Emit(Stream stream, std::string_view text, int64_t time, bool truncated,
                           std::string_view parse_error, int64_t observed, LogRecord* r) {
  if (r == nullptr) r = add_();
  ++counts_.records;
  r->set_time_unix_nano(static_cast<uint64_t>(time));
  r->set_observed_time_unix_nano(static_cast<uint64_t>(observed));
  if (text.size() > options_->max_record_bytes) {
    size_t n = options_->max_record_bytes;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    text = text.substr(0, n);
    truncated = true;
  }
  std::string* body = r->mutable_body()->mutable_string_value();
  core::utf8::AppendValid(text, body);
  if (body->size() > options_->max_record_bytes) {
    // Replacement characters for invalid bytes took more room than the bytes.
    size_t n = options_->max_record_bytes;
    while (n > 0 && (static_cast<unsigned char>((*body)[n]) & 0xC0) == 0x80) --n;
    body->resize(n);
    truncated = true;
  }
  if (stream != Stream::kNone) {
    AddStringAttribute(r, "log.iostream", StreamName(stream));
    if (stream == Stream::kStderr && options_->stderr_severity != 0) {
      r->set_severity_number(
          static_cast<opentelemetry::proto::logs::v1::SeverityNumber>(options_->stderr_severity));
    }
  }
  if (truncated) {
    ++counts_.truncated;
    auto* kv = r->add_attributes();
    kv->set_key("log.record.truncated");
    kv->mutable_value()->set_bool_value(true);
  }
  if (!parse_error.empty()) {
    ++counts_.parse_errors;
    AddStringAttribute(r, "log.record.parse_error", parse_error);
  }
}

void RecordAssembler::EmitJson(std::string_view line, bool truncated, int64_t observed) {
  if (line.empty()) return;
  // The fields are parsed into a list kept from line to line; they move
  // into the record by swapping.
  LogRecord* r = add_();
  KeyValueList* fields = &json_fields_;
  fields->Clear();
  absl::Status parsed = ParseJsonObject(line, fields);
  if (!parsed.ok()) {
    const std::string error(parsed.message());
    Emit(Stream::kNone, line, 0, truncated, error, observed, r);
    return;
  }
  ++counts_.records;
  r->set_observed_time_unix_nano(static_cast<uint64_t>(observed));
  for (auto& kv : *fields->mutable_values()) {
    const std::string& key = kv.key();
    const auto& value = kv.value();
    if (key == options_->message_key) {
      r->mutable_body()->Swap(kv.mutable_value());
      continue;
    }
    if ((key == "level" || key == "severity") && r->severity_number() == 0) {
      int number = 0;
      if (value.has_string_value()) {
        number = SeverityFromText(value.string_value());
        r->set_severity_text(value.string_value());
      } else if (value.has_int_value()) {
        number = SeverityFromNumber(value.int_value());
      }
      if (number != 0) {
        r->set_severity_number(static_cast<opentelemetry::proto::logs::v1::SeverityNumber>(number));
        continue;
      }
      r->clear_severity_text();
    }
    if ((key == "time" || key == "timestamp" || key == "ts") && r->time_unix_nano() == 0 &&
        value.has_string_value()) {
      int64_t t;
      if (ParseRfc3339(value.string_value(), &t)) r->set_time_unix_nano(static_cast<uint64_t>(t));
    }
    r->add_attributes()->Swap(&kv);
  }
  if (truncated) {
    ++counts_.truncated;
    auto* kv = r->add_attributes();
    kv->set_key("log.record.truncated");
    kv->mutable_value()->set_bool_value(true);
  }
}

void RecordAssembler::FlushIdle(SteadyTime now, int64_t observed) {
  for (size_t s = 0; s < multiline_.size(); ++s) {
    Open& m = multiline_[s];
    if (m.active && now - m.last_line >= options_->flush_timeout) {
      EmitOpen(static_cast<Stream>(s), m, observed);
    }
  }
}

void RecordAssembler::FlushAll(int64_t observed) {
  for (size_t s = 0; s < partial_.size(); ++s) {
    Open& p = partial_[s];
    if (!p.active) continue;
    p.active = false;
    Logical(static_cast<Stream>(s), p.text, p.time_unix_nano, p.start, p.truncated, {},
            SteadyTime(), observed);
  }
  for (size_t s = 0; s < multiline_.size(); ++s) {
    if (multiline_[s].active) EmitOpen(static_cast<Stream>(s), multiline_[s], observed);
  }
}

void RecordAssembler::Reset() {
  for (Open& o : partial_) o.active = false;
  for (Open& o : multiline_) o.active = false;
}

uint64_t RecordAssembler::SafeOffset(uint64_t consumed) const {
  uint64_t safe = consumed;
  for (const Open& o : partial_) {
    if (o.active) safe = std::min(safe, o.start);
  }
  for (const Open& o : multiline_) {
    if (o.active) safe = std::min(safe, o.start);
  }
  return safe;
}

bool RecordAssembler::HasUnfinished() const {
  for (const Open& o : partial_) {
    if (o.active) return true;
  }
  for (const Open& o : multiline_) {
    if (o.active) return true;
  }
  return false;
}

}  // namespace tributary::receivers::tail
