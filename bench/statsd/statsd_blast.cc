// Sends StatsD datagrams over UDP as fast as the receiver drains them: 20
// lines a datagram (counters with tags, gauges, timers with a sample rate,
// sets) across 1,000 series, for a duration. Prints the lines sent.
//
//   tributary-statsd-blast PORT SECONDS [LINES_PER_SECOND]
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s PORT SECONDS [LINES_PER_SECOND]\n", argv[0]);
    return 2;
  }
  const int port = std::stoi(argv[1]);
  const double seconds = std::stod(argv[2]);
  const double rate = argc > 3 ? std::stod(argv[3]) : 0;
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  // A fixed set of datagrams, cycled.
  std::vector<std::string> datagrams;
  for (int d = 0; d < 50; ++d) {
    std::string s;
    for (int i = 0; i < 20; ++i) {
      const int series = (d * 20 + i) % 1000;
      switch (i % 4) {
        case 0:
          s += "requests_total:1|c|#route:/api/" + std::to_string(series) + ",method:GET\n";
          break;
        case 1:
          s += "queue_depth:" + std::to_string(series % 17) + "|g|#queue:q" +
               std::to_string(series % 10) + "\n";
          break;
        case 2:
          s += "request_latency:" + std::to_string(series % 700) + "|ms|@0.5|#route:/api/" +
               std::to_string(series % 50) + "\n";
          break;
        default:
          s += "active_users:u" + std::to_string(series) + "|s\n";
      }
    }
    datagrams.push_back(s);
  }
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  uint64_t lines = 0;
  size_t n = 0;
  while (std::chrono::steady_clock::now() < end) {
    const std::string& s = datagrams[n++ % datagrams.size()];
    if (sendto(fd, s.data(), s.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr) > 0) {
      lines += 20;
    }
    if (rate > 0) {
      const auto due = start + std::chrono::duration<double>(static_cast<double>(lines) / rate);
      std::this_thread::sleep_until(due);
    }
  }
  close(fd);
  printf("%llu\n", static_cast<unsigned long long>(lines));
  return 0;
}
