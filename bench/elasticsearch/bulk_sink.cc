// A _bulk endpoint that does no work: it reads each request, counts its
// documents (two lines each) and bytes, and answers that all were created.
// Isolates the exporter's side in the Elasticsearch benchmark.
//
//   tributary-bulk-sink PORT      GET /stats answers `documents bytes requests`

#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  std::atomic<uint64_t> documents{0}, bytes{0}, requests{0};
  httplib::Server server;
  server.new_task_queue = [] { return new httplib::ThreadPool(8); };
  server.Post("/_bulk", [&](const httplib::Request& req, httplib::Response& res) {
    uint64_t lines = 0;
    for (char c : req.body) lines += c == '\n';
    documents += lines / 2;
    bytes += req.body.size();
    ++requests;
    res.set_content("{\"errors\":false,\"took\":0,\"items\":[]}", "application/json");
  });
  server.Put(R"(/_index_template/.*)", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"acknowledged\":true}", "application/json");
  });
  server.Get("/stats", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::to_string(documents.load()) + " " + std::to_string(bytes.load()) + " " +
                        std::to_string(requests.load()) + "\n",
                    "text/plain");
  });
  server.set_payload_max_length(1ull << 30);
  server.set_tcp_nodelay(true);
  if (!server.listen("127.0.0.1", std::stoi(argv[1]))) {
    fprintf(stderr, "cannot listen on port %s\n", argv[1]);
    return 1;
  }
}
