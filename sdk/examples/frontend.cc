// tributary-example-frontend: the checkout service. GET /checkout?item=ID
// asks the backend for the price and answers the order; a backend failure
// becomes a 500. fail=1 is passed on to the backend.
//   tributary-example-frontend [--port 8080] [--listen 127.0.0.1] [--backend 127.0.0.1:8081]
#include <cstring>

#include "http_telemetry.h"

using namespace tributary::examples;

int main(int argc, char** argv) {
  int port = 8080;
  std::string backend_host = "127.0.0.1";
  int backend_port = 8081;
  std::string listen = "127.0.0.1";
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0) {
      port = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--listen") == 0) {
      listen = argv[++i];
    } else if (std::strcmp(argv[i], "--backend") == 0) {
      std::string b = argv[++i];
      backend_host = b.substr(0, b.rfind(':'));
      backend_port = std::atoi(b.substr(b.rfind(':') + 1).c_str());
    }
  }

  httplib::Server server;
  std::thread stopper = OnStopSignal([&] { server.stop(); });
  auto sdk = StartSdk("frontend");
  HttpTelemetry http(*sdk, "tributary.example.frontend");
  Counter orders = sdk->GetMeter("tributary.example.frontend", "0.1.0")
                       .CreateCounter("checkout.orders", "{order}", "Orders by outcome");

  server.Get("/checkout", [&](const httplib::Request& req, httplib::Response& res) {
    http.Serve(req, res, "/checkout", [&](Span& span) {
      std::string item = Param(req, "item", "unknown");
      span.SetAttribute("app.item", item);
      thread_local httplib::Client client(backend_host, backend_port);
      client.set_connection_timeout(2);
      client.set_read_timeout(5);
      std::string path = "/price?item=" + item + (Param(req, "fail") == "1" ? "&fail=1" : "");
      std::string body;
      int status = http.Get(client, backend_host, backend_port, "/price", path, &body);
      if (status != 200) {
        orders.Add(1, {{"outcome", "failed"}});
        http.logger().Error("checkout failed: price unavailable",
                            {{"app.item", item}, {"http.response.status_code", status}});
        res.set_content("{\"error\":\"price unavailable\"}", "application/json");
        return 500;
      }
      orders.Add(1, {{"outcome", "placed"}});
      http.logger().Info("order placed", {{"app.item", item}});
      res.set_content(body, "application/json");
      return 200;
    });
  });

  std::printf("frontend listening on %s:%d, backend %s:%d\n", listen.c_str(), port,
              backend_host.c_str(), backend_port);
  std::fflush(stdout);
  if (!server.listen(listen, port)) {
    std::fprintf(stderr, "frontend: cannot listen on port %d\n", port);
    std::_Exit(1);
  }
  kill(getpid(), SIGTERM);
  stopper.join();
  sdk->Shutdown(std::chrono::seconds(5));
  return 0;
}
