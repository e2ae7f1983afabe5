// tributary-example-backend: the price service. GET /price?item=ID answers a
// price after a simulated database query; fail=1 makes it answer 500.
//   tributary-example-backend [--port 8081] [--listen 127.0.0.1]
#include "http_telemetry.h"

using namespace tributary::examples;

int main(int argc, char** argv) {
  const int port = std::atoi(Flag(argc, argv, "--port", "8081").c_str());
  const std::string listen = Flag(argc, argv, "--listen", "127.0.0.1");
  httplib::Server server;
  std::thread stopper = OnStopSignal([&] { server.stop(); });
  auto sdk = StartSdk("backend");
  HttpTelemetry http(*sdk, "tributary.example.backend");
  Meter meter = sdk->GetMeter("tributary.example.backend", "0.1.0");
  Counter lookups = meter.CreateCounter("price.lookups", "{lookup}", "Price lookups by outcome");
  BoundCounter found = lookups.Bind({{"outcome", "found"}});
  BoundCounter failed = lookups.Bind({{"outcome", "failed"}});
  std::atomic<int64_t> in_flight{0};
  meter.CreateObservableUpDownCounter(
      "http.server.active_requests",
      [&](ObserverResult& r) { r.Observe(static_cast<double>(in_flight.load())); }, "{request}",
      "Requests being served");

  server.Get("/price", [&](const httplib::Request& req, httplib::Response& res) {
    ++in_flight;
    http.Serve(req, res, "/price", [&](Span& span) {
      std::string item = Param(req, "item", "unknown");
      span.SetAttribute("app.item", item);
      {
        Span query = http.tracer().StartSpan("SELECT prices",
                                             {{"db.system", "sqlite"},
                                              {"db.operation.name", "SELECT"},
                                              {"db.collection.name", "prices"}},
                                             SpanKind::kClient);
        std::this_thread::sleep_for(std::chrono::microseconds(200 + 100 * (item.size() % 5)));
        if (Param(req, "fail") == "1") {
          query.AddEvent("exception", {{"exception.type", "DatabaseError"},
                                       {"exception.message", "prices table locked"}});
          query.SetStatus(StatusCode::kError, "prices table locked");
        }
      }
      if (Param(req, "fail") == "1") {
        failed.Add(1);
        http.logger().Error("price lookup failed",
                            {{"app.item", item}, {"error.type", "DatabaseError"}});
        res.set_content("{\"error\":\"prices table locked\"}", "application/json");
        return 500;
      }
      found.Add(1);
      http.logger().Info("price found", {{"app.item", item}, {"app.price_cents", 1299}});
      res.set_content("{\"item\":\"" + item + "\",\"price_cents\":1299}", "application/json");
      return 200;
    });
    --in_flight;
  });

  return ServeUntilStopped(server, stopper, *sdk, "backend", listen, port);
}
