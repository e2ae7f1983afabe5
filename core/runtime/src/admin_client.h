#ifndef TRIBUTARY_CORE_RUNTIME_ADMIN_CLIENT_H_
#define TRIBUTARY_CORE_RUNTIME_ADMIN_CLIENT_H_

#include <string>

namespace tributary::core::runtime {

// `<program> tap [--admin HOST:PORT] [--component ID] [--signal S]
// [--limit N]`: prints, one OTLP/JSON line per batch, what passes a
// component of the program at --admin, until --limit lines or Ctrl-C.
int RunTap(const std::string& program, int argc, char** argv, int first);
// `<program> top [--admin HOST:PORT] [--interval 2s] [--once]`: the status
// page as a terminal table, refreshed every interval.
int RunTop(const std::string& program, int argc, char** argv, int first);

}  // namespace tributary::core::runtime

#endif  // TRIBUTARY_CORE_RUNTIME_ADMIN_CLIENT_H_
