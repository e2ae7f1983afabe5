#include "common/k8s/pod_watcher.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tributary/core/log.h"

namespace tributary::common::k8s {
namespace {

using Json = nlohmann::json;
constexpr const char* kComponent = "k8s_metadata";

std::string ReadToken(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  return token;
}

std::string Escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

// The pod in an API object, or nullptr when it is not one we can use.
std::shared_ptr<PodMeta> PodFrom(const Json& object, bool annotations) {
  if (!object.is_object()) return nullptr;
  auto it = object.find("metadata");
  if (it == object.end() || !it->is_object()) return nullptr;
  const Json& meta = *it;
  auto str = [&](const char* key) -> std::string {
    auto f = meta.find(key);
    return f != meta.end() && f->is_string() ? f->get<std::string>() : std::string();
  };
  auto pod = std::make_shared<PodMeta>();
  pod->uid = str("uid");
  pod->name = str("name");
  pod->namespace_name = str("namespace");
  if (pod->uid.empty() || pod->name.empty()) return nullptr;
  auto copy_map = [&](const char* key, std::map<std::string, std::string>* out) {
    auto m = meta.find(key);
    if (m == meta.end() || !m->is_object()) return;
    for (auto kv = m->begin(); kv != m->end(); ++kv) {
      if (kv.value().is_string()) (*out)[kv.key()] = kv.value().get<std::string>();
    }
  };
  copy_map("labels", &pod->labels);
  if (annotations) copy_map("annotations", &pod->annotations);
  auto status = object.find("status");
  if (status != object.end() && status->is_object()) {
    auto ip = status->find("podIP");
    if (ip != status->end() && ip->is_string()) pod->ip = ip->get<std::string>();
  }
  return pod;
}

std::string ResourceVersionOf(const Json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto rv = meta->find("resourceVersion");
  return rv != meta->end() && rv->is_string() ? rv->get<std::string>() : "";
}

}  // namespace

namespace {

common::http::ClientOptions ApiServerClient(const PodWatcherOptions& options) {
  common::http::ClientOptions o;
  o.tls.ca_file = options.ca_file;
  o.headers = {"Accept: application/json"};
  return o;
}

}  // namespace

PodWatcher::PodWatcher(PodWatcherOptions options)
    : options_(std::move(options)), client_(ApiServerClient(options_)) {}

PodWatcher::~PodWatcher() { Stop(); }

void PodWatcher::Start() {
  thread_ = std::thread([this] { Run(); });
}

void PodWatcher::Stop() {
  stop_ = true;
  sleep_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PodWatcher::Sleep(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(sleep_mu_);
  sleep_cv_.wait_for(lock, d, [&] { return stop_.load(); });
}

std::shared_ptr<const PodMeta> PodWatcher::ByUid(const std::string& uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_uid_.find(uid);
  return it == by_uid_.end() ? nullptr : it->second;
}

std::shared_ptr<const PodMeta> PodWatcher::ByName(const std::string& namespace_name,
                                                  const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = uid_by_name_.find({namespace_name, name});
  if (it == uid_by_name_.end()) return nullptr;
  auto pod = by_uid_.find(it->second);
  return pod == by_uid_.end() ? nullptr : pod->second;
}

std::vector<std::shared_ptr<const PodMeta>> PodWatcher::Pods() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<const PodMeta>> out;
  out.reserve(by_uid_.size());
  for (const auto& [uid, pod] : by_uid_) {
    if (!deleted_.count(uid)) out.push_back(pod);
  }
  return out;
}

absl::StatusOr<PodWatcherOptions> WatcherOptions(const ApiConfig& api,
                                                 const std::string& node_name) {
  if (node_name.empty()) {
    return absl::InvalidArgumentError(
        "the api block needs the node name (node_name or K8S_NODE_NAME) to watch this node's "
        "pods only");
  }
  PodWatcherOptions o;
  o.endpoint = api.endpoint;
  if (o.endpoint.empty()) {
    const char* host = getenv("KUBERNETES_SERVICE_HOST");
    const char* port = getenv("KUBERNETES_SERVICE_PORT");
    if (host == nullptr || port == nullptr || *host == '\0' || *port == '\0') {
      return absl::InvalidArgumentError(
          "api.endpoint is empty and KUBERNETES_SERVICE_HOST/PORT are not set (not in a pod?)");
    }
    const std::string h = host;
    o.endpoint =
        absl::StrCat("https://", h.find(':') != std::string::npos ? "[" + h + "]" : h, ":", port);
  }
  o.token_file = api.token_file;
  o.ca_file = api.ca_file;
  o.node_name = node_name;
  o.annotations = api.annotations;
  o.max_pods = static_cast<size_t>(api.max_pods);
  return o;
}

size_t PodWatcher::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_uid_.size();
}

void PodWatcher::Upsert(std::shared_ptr<PodMeta> pod) {
  // Caller holds mu_.
  deleted_.erase(pod->uid);
  if (!by_uid_.count(pod->uid) && by_uid_.size() >= options_.max_pods) {
    // Full: make room with a deleted pod if there is one, else skip this one.
    if (deleted_.empty()) return;
    const std::string victim = deleted_.begin()->first;
    deleted_.erase(deleted_.begin());
    auto v = by_uid_.find(victim);
    if (v != by_uid_.end()) {
      uid_by_name_.erase({v->second->namespace_name, v->second->name});
      by_uid_.erase(v);
    }
  }
  uid_by_name_[{pod->namespace_name, pod->name}] = pod->uid;
  by_uid_[pod->uid] = std::move(pod);
}

void PodWatcher::Remove(const std::string& uid) {
  // Caller holds mu_. Kept for the grace period, then forgotten.
  if (by_uid_.count(uid)) deleted_[uid] = std::chrono::steady_clock::now();
}

absl::Status PodWatcher::ApplyList(std::string_view body) {
  Json doc = Json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError("pod list is not a JSON object");
  }
  auto items = doc.find("items");
  if (items == doc.end() || !items->is_array()) {
    return absl::InvalidArgumentError("pod list has no items");
  }
  std::lock_guard<std::mutex> lock(mu_);
  by_uid_.clear();
  uid_by_name_.clear();
  deleted_.clear();
  for (const Json& item : *items) {
    if (auto pod = PodFrom(item, options_.annotations)) Upsert(std::move(pod));
  }
  resource_version_ = ResourceVersionOf(doc);
  ++lists_;
  listed_cv_.notify_all();
  return absl::OkStatus();
}

bool PodWatcher::WaitForList(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return listed_cv_.wait_for(lock, timeout, [this] { return lists_.load() > 0 || stop_.load(); }) &&
         lists_.load() > 0;
}

absl::Status PodWatcher::ApplyEvent(std::string_view line) {
  Json event = Json::parse(line.begin(), line.end(), nullptr, false);
  if (event.is_discarded() || !event.is_object()) {
    return absl::InvalidArgumentError("watch event is not a JSON object");
  }
  auto type_it = event.find("type");
  auto object_it = event.find("object");
  if (type_it == event.end() || !type_it->is_string() || object_it == event.end()) {
    return absl::InvalidArgumentError("watch event without type or object");
  }
  const std::string type = type_it->get<std::string>();
  const Json& object = *object_it;
  ++events_;
  if (type == "ERROR") {
    auto code = object.is_object() ? object.find("code") : object.end();
    if (object.is_object() && code != object.end() && code->is_number_integer() &&
        code->get<int64_t>() == 410) {
      return absl::FailedPreconditionError("resourceVersion too old (410 Gone)");
    }
    return absl::UnavailableError("watch error event");
  }
  std::lock_guard<std::mutex> lock(mu_);
  const std::string rv = object.is_object() ? ResourceVersionOf(object) : "";
  if (!rv.empty()) resource_version_ = rv;
  if (type == "BOOKMARK") return absl::OkStatus();
  auto pod = PodFrom(object, options_.annotations);
  if (pod == nullptr) return absl::InvalidArgumentError("watch event without a pod");
  if (type == "ADDED" || type == "MODIFIED") {
    Upsert(std::move(pod));
  } else if (type == "DELETED") {
    Remove(pod->uid);
  }
  // Forget pods whose grace period has passed.
  const auto now = std::chrono::steady_clock::now();
  for (auto it = deleted_.begin(); it != deleted_.end();) {
    if (now - it->second < options_.deleted_grace) {
      ++it;
      continue;
    }
    auto p = by_uid_.find(it->first);
    if (p != by_uid_.end()) {
      uid_by_name_.erase({p->second->namespace_name, p->second->name});
      by_uid_.erase(p);
    }
    it = deleted_.erase(it);
  }
  return absl::OkStatus();
}

absl::Status PodWatcher::Get(const std::string& url, bool stream, std::string* body, long* code) {
  common::http::Request request;
  request.method = "GET";
  request.url = url;
  const std::string token = ReadToken(options_.token_file);
  if (!token.empty()) request.headers.push_back("Authorization: Bearer " + token);
  request.connect_timeout = std::chrono::seconds(10);
  request.timeout = std::chrono::seconds(stream ? options_.watch_timeout.count() + 60 : 60);
  request.cancel = &stop_;
  std::string lines;  // a watch's incomplete last line
  absl::Status stream_status;
  if (stream) {
    request.on_body = [&](std::string_view data) {
      lines.append(data);
      size_t start = 0;
      for (size_t nl; (nl = lines.find('\n', start)) != std::string::npos; start = nl + 1) {
        const std::string_view line(lines.data() + start, nl - start);
        if (line.empty()) continue;
        absl::Status s = ApplyEvent(line);
        if (absl::IsFailedPrecondition(s) || absl::IsUnavailable(s)) {
          stream_status = s;
          return false;
        }
      }
      lines.erase(0, start);
      if (lines.size() > (16 << 20)) {
        stream_status = absl::ResourceExhaustedError("watch event larger than 16 MiB");
        return false;
      }
      return true;
    };
  }
  common::http::Response response = client_.Send(request);
  *code = response.status;
  if (!stream_status.ok()) return stream_status;
  if (response.status == 0) {
    return absl::UnavailableError(absl::StrCat("GET ", url, ": ", response.error));
  }
  if (!stream) *body = std::move(response.body);
  return absl::OkStatus();
}

absl::Status PodWatcher::List() {
  std::string body;
  long code = 0;
  const std::string url =
      absl::StrCat(options_.endpoint,
                   "/api/v1/pods?fieldSelector=", Escape("spec.nodeName=" + options_.node_name));
  if (absl::Status s = Get(url, false, &body, &code); !s.ok()) return s;
  if (code != 200) return absl::UnavailableError(absl::StrCat("pod list answered ", code));
  return ApplyList(body);
}

absl::Status PodWatcher::Watch() {
  std::string rv;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rv = resource_version_;
  }
  const std::string url = absl::StrCat(
      options_.endpoint, "/api/v1/pods?watch=1&allowWatchBookmarks=true&fieldSelector=",
      Escape("spec.nodeName=" + options_.node_name), "&resourceVersion=", Escape(rv),
      "&timeoutSeconds=", options_.watch_timeout.count());
  std::string unused;
  long code = 0;
  absl::Status s = Get(url, true, &unused, &code);
  if (code == 410) return absl::FailedPreconditionError("410 Gone");
  if (s.ok() && code != 200) return absl::UnavailableError(absl::StrCat("watch answered ", code));
  return s;
}

void PodWatcher::Run() {
  bool need_list = true;
  while (!stop_) {
    if (need_list) {
      absl::Status s = List();
      if (!s.ok()) {
        core::Log(core::LogLevel::kWarn, kComponent, "pod list failed",
                  absl::StrCat("error=\"", s.ToString(), "\""));
        Sleep(options_.backoff);
        continue;
      }
      need_list = false;
    }
    absl::Status s = Watch();
    if (stop_) break;
    if (absl::IsFailedPrecondition(s)) {
      // The version we had is gone from the API server's history: list again.
      need_list = true;
      continue;
    }
    if (!s.ok()) {
      core::Log(core::LogLevel::kWarn, kComponent, "pod watch ended",
                absl::StrCat("error=\"", s.ToString(), "\""));
      Sleep(options_.backoff);
    }
    // A watch that ended cleanly (its timeout, a dropped connection) resumes
    // from the last version seen.
  }
}

}  // namespace tributary::common::k8s
