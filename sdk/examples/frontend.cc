// tributary-example-frontend: the checkout service. GET /checkout?item=ID
// asks the backend for the price and answers the order; a backend failure
// becomes a 500. fail=1 is passed on to the backend.
//   tributary-example-frontend [--port 8080] [--listen 127.0.0.1] [--backend 127.0.0.1:8081]
#include "http_telemetry.h"

using namespace tributary::examples;

int main(int argc, char** argv) {
  const int port = std::atoi(Flag(argc, argv, "--port", "8080").c_str());
  const std::string listen = Flag(argc, argv, "--listen", "127.0.0.1");
  const auto [backend_host, backend_port] =
      HostPort(Flag(argc, argv, "--backend", "127.0.0.1:8081"));
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

  return ServeUntilStopped(server, stopper, *sdk, "frontend", listen, port);
}
