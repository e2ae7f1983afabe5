// The tail receiver's line parsers and record assembly: the first byte picks
// the format and whether multiline joining is on; the rest is file content,
// cut into lines as the receiver cuts it. Every record must hold valid UTF-8
// (protobuf refuses it otherwise) and fit the record limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "re2/re2.h"
#include "receivers/tail/log_format.h"
#include "receivers/tail/record_assembler.h"
#include "tributary/core/utf8.h"

using namespace tributary::receivers::tail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const re2::RE2 start("^(\\d{4}-|[A-Z])");
  AssemblerOptions options;
  options.format = static_cast<Format>(data[0] % 4);
  options.line_start = (data[0] & 4) ? &start : nullptr;
  options.max_record_bytes = (data[0] & 8) ? 64 : 4096;
  options.stderr_severity = 17;
  opentelemetry::proto::logs::v1::ScopeLogs scope;
  RecordAssembler assembler(&options, [&] { return scope.add_log_records(); });
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  uint64_t offset = 0;
  const SteadyTime now{};
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    const bool cut = line.size() > options.max_record_bytes;
    if (cut) line = line.substr(0, options.max_record_bytes);
    assembler.AddLine(line, offset, offset + line.size() + 1, cut, now, 1);
    if (assembler.SafeOffset(offset + line.size() + 1) > offset + line.size() + 1) abort();
    offset += line.size() + 1;
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  assembler.FlushAll(1);
  for (const auto& r : scope.log_records()) {
    const std::string& body = r.body().string_value();
    if (!tributary::core::utf8::IsValid(body)) abort();
    if (options.format != Format::kJson && body.size() > options.max_record_bytes) abort();
  }
  std::string wire;
  if (!scope.SerializeToString(&wire)) abort();
  opentelemetry::proto::logs::v1::ScopeLogs back;
  if (!back.ParseFromString(wire)) abort();  // invalid UTF-8 would fail here
  return 0;
}
