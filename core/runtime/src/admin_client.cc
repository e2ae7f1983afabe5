// `tributary-agent tap` and `tributary-agent top`: clients of a running
// program's admin endpoint.
#include "admin_client.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/http/http_client.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace tributary::core::runtime {

namespace {

struct Flags {
  std::string admin = "localhost:8888";
  std::map<std::string, std::string> values;
  bool once = false;
};

// --name VALUE or --name=VALUE for each of `names`; --once for top.
bool ParseFlags(int argc, char** argv, int first, const std::vector<std::string>& names,
                Flags* flags, std::string* error) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--once") {
      flags->once = true;
      continue;
    }
    std::string name, value;
    if (const size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(2, eq - 2);
      value = arg.substr(eq + 1);
    } else if (arg.rfind("--", 0) == 0 && i + 1 < argc) {
      name = arg.substr(2);
      value = argv[++i];
    } else {
      *error = "unknown argument '" + arg + "'";
      return false;
    }
    if (name == "admin") {
      flags->admin = value;
    } else if (std::find(names.begin(), names.end(), name) != names.end()) {
      flags->values[name] = value;
    } else {
      *error = "unknown flag --" + name;
      return false;
    }
  }
  return true;
}

std::string Escape(const std::string& v) {
  std::string out;
  for (unsigned char c : v) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += absl::StrFormat("%%%02X", c);
    }
  }
  return out;
}

common::http::Response Get(common::http::Client& client, const std::string& url,
                           std::chrono::milliseconds timeout) {
  common::http::Request request;
  request.method = "GET";
  request.url = url;
  request.timeout = timeout;
  return client.Send(request);
}

std::string Cell(const google::protobuf::Value& v, int decimals) {
  if (v.kind_case() != google::protobuf::Value::kNumberValue) return "-";
  return absl::StrFormat("%.*f", decimals, v.number_value());
}

const google::protobuf::Value& Field(const google::protobuf::Struct& s, const std::string& key) {
  static const google::protobuf::Value kNull;
  auto it = s.fields().find(key);
  return it == s.fields().end() ? kNull : it->second;
}

std::string Render(const google::protobuf::Struct& status) {
  std::string out = absl::StrFormat(
      "%s %s   config %s   ready %s   last reload %s\n\n", Field(status, "program").string_value(),
      Field(status, "version").string_value(), Field(status, "config").string_value(),
      Field(status, "ready").bool_value() ? "yes" : "no",
      Field(Field(status, "reload").struct_value(), "result").string_value());
  absl::StrAppend(&out, absl::StrFormat("%-28s %-9s %10s %10s %12s %9s %11s %-8s %s\n", "COMPONENT",
                                        "KIND", "IN/S", "OUT/S", "OUT TOTAL", "DROPPED", "QUEUE",
                                        "STATE", "LAST ERROR"));
  for (const auto& c : Field(status, "components").list_value().values()) {
    const google::protobuf::Struct& s = c.struct_value();
    double dropped = 0;
    for (const auto& [reason, n] : Field(s, "dropped").struct_value().fields()) {
      dropped += n.number_value();
    }
    std::string queue = "-";
    if (Field(s, "queue").has_struct_value()) {
      const auto& q = Field(s, "queue").struct_value();
      queue = absl::StrCat(Cell(Field(q, "size"), 0), "/", Cell(Field(q, "capacity"), 0));
    }
    std::string error = Field(s, "last_error").string_value();
    if (error.size() > 60) error = error.substr(0, 57) + "...";
    const std::string state = Field(s, "state").string_value();
    absl::StrAppend(
        &out, absl::StrFormat("%-28s %-9s %10s %10s %12s %9.0f %11s %-8s %s\n",
                              Field(s, "id").string_value(), Field(s, "kind").string_value(),
                              Cell(Field(s, "in_per_second"), 1),
                              Cell(Field(s, "out_per_second"), 1), Cell(Field(s, "out_total"), 0),
                              dropped, queue, state.empty() ? "-" : state, error));
  }
  return out;
}

}  // namespace

int RunTap(const std::string& program, int argc, char** argv, int first) {
  Flags flags;
  std::string error;
  if (!ParseFlags(argc, argv, first, {"component", "signal", "limit", "duration"}, &flags,
                  &error)) {
    fprintf(stderr,
            "%s tap: %s\nusage: %s tap [--admin HOST:PORT] [--component ID] [--signal S] "
            "[--limit N]\n",
            program.c_str(), error.c_str(), program.c_str());
    return 2;
  }
  long remaining = -1;  // no limit: until interrupted
  if (auto l = flags.values.find("limit"); l != flags.values.end()) {
    if (!absl::SimpleAtoi(l->second, &remaining) || remaining <= 0) {
      fprintf(stderr, "%s tap: --limit must be a positive number\n", program.c_str());
      return 2;
    }
  }
  common::http::Client client(common::http::ClientOptions{});
  // Each request is a tap of up to a minute whose lines come as they pass;
  // then another is opened.
  for (;;) {
    std::string url = absl::StrCat("http://", flags.admin, "/api/v1/tap?duration=60s");
    for (const char* key : {"component", "signal"}) {
      if (auto v = flags.values.find(key); v != flags.values.end()) {
        absl::StrAppend(&url, "&", key, "=", Escape(v->second));
      }
    }
    if (remaining > 0) absl::StrAppend(&url, "&limit=", remaining);
    common::http::Request request;
    request.method = "GET";
    request.url = url;
    request.timeout = std::chrono::seconds(90);
    request.headers = {"TE: trailers"};
    request.keep_headers = {"X-Tap-Cut"};
    std::string partial;  // a line not complete yet
    request.on_body = [&](std::string_view data) {
      // Whole lines only, up to the limit.
      partial.append(data);
      size_t start = 0;
      for (size_t nl; remaining != 0 && (nl = partial.find('\n', start)) != std::string::npos;
           start = nl + 1) {
        fwrite(partial.data() + start, 1, nl + 1 - start, stdout);
        if (remaining > 0) --remaining;
      }
      partial.erase(0, start);
      fflush(stdout);
      return remaining != 0;
    };
    common::http::Response r = client.Send(request);
    if (r.status != 200) {
      fprintf(stderr, "%s tap: %s\n", program.c_str(),
              r.status == 0 ? r.error.c_str() : r.body.c_str());
      return 1;
    }
    for (const auto& [name, value] : r.headers) {
      fprintf(stderr, "%s tap: cut short: %s\n", program.c_str(), value.c_str());
    }
    if (remaining == 0) return 0;
  }
}

int RunTop(const std::string& program, int argc, char** argv, int first) {
  Flags flags;
  std::string error;
  if (!ParseFlags(argc, argv, first, {"interval"}, &flags, &error)) {
    fprintf(stderr, "%s top: %s\nusage: %s top [--admin HOST:PORT] [--interval 2s] [--once]\n",
            program.c_str(), error.c_str(), program.c_str());
    return 2;
  }
  int interval_ms = 2000;
  if (auto v = flags.values.find("interval"); v != flags.values.end()) {
    absl::Duration d;
    if (!absl::ParseDuration(v->second, &d) || d <= absl::ZeroDuration()) {
      fprintf(stderr, "%s top: --interval must be like 2s\n", program.c_str());
      return 2;
    }
    interval_ms = static_cast<int>(absl::ToInt64Milliseconds(d));
  }
  common::http::Client client(common::http::ClientOptions{});
  const bool terminal = isatty(STDOUT_FILENO) != 0;
  for (;;) {
    common::http::Response r = Get(client, absl::StrCat("http://", flags.admin, "/api/v1/status"),
                                   std::chrono::seconds(10));
    std::string screen;
    if (r.status != 200) {
      screen = absl::StrCat("cannot read http://", flags.admin,
                            "/api/v1/status: ", r.status == 0 ? r.error : r.body, "\n");
      if (flags.once) {
        fputs(screen.c_str(), stderr);
        return 1;
      }
    } else {
      google::protobuf::Struct status;
      if (!google::protobuf::util::JsonStringToMessage(r.body, &status).ok()) {
        fprintf(stderr, "%s top: the status is not JSON\n", program.c_str());
        return 1;
      }
      screen = Render(status);
    }
    if (terminal && !flags.once) fputs("\x1b[H\x1b[2J", stdout);
    fputs(screen.c_str(), stdout);
    fflush(stdout);
    if (flags.once) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
}

}  // namespace tributary::core::runtime
