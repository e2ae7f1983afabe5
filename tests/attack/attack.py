#!/usr/bin/env python3
"""Attacks on a running agent's listeners, on loopback, bounded in time.

  attack.py --pid PID --otlp PORT --admin PORT --prometheus PORT --statsd PORT

Each case prints what it sent, what came back and the agent's RSS (and
thread count) before, at its peak and after, and fails when a bound below
is not met:

  held connections   per HTTP listener, 2,000 idle, 200 slow-header and 200
                     slow-body connections held for HOLD seconds while a
                     client sends a valid request every 200 ms: every valid
                     request answered within 1 s; the slow and idle
                     connections cut by the listener's timeouts and counted
                     (tributary_http_refused_connections_total); RSS at most
                     HELD_RSS_MIB above where it started; no thread added.
  million headers    a request with 1,000,000 headers (13 MiB): 431.
  chunked bodies     a 64 MiB chunked body: 413 once past the 20 MiB limit.
  gzip bombs         32 concurrent gzip bodies that decompress past the
                     64 MiB limit: each refused, 413 when it reached the
                     limit, 429 when the memory budget ran out first; RSS
                     at most the budget plus BOMB_MARGIN_MIB above where it
                     started.
  empty exporter     two plain scrapes and a gzip scrape of the empty
                     Prometheus exporter, data, a scrape: all answered.
  statsd burst       200,000 gauge names in 10 s, then 1,000 lines of an
                     ordinary counter: the counter reaches 1,000.
"""
import argparse
import asyncio
import gzip
import json
import re
import resource
import socket
import sys
import time
import urllib.request
import zlib

HOLD = 15           # seconds; beyond the default 10 s header and body timeouts
IDLE, SLOW_HEADER, SLOW_BODY = 2000, 200, 200
HELD_RSS_MIB = 96   # what 2,400 connections may cost
BOMB_MARGIN_MIB = 48  # beyond the memory budget: the bodies themselves, buffers, slack
MAX_LATENCY = 1.0

failures = []


def check(ok, what):
    print(("  ok: " if ok else "  FAIL: ") + what, flush=True)
    if not ok:
        failures.append(what)


class Sampler:
    """RSS (MiB) and thread count of a process, sampled every 50 ms."""

    def __init__(self, pid):
        self.pid = pid
        self.task = None

    def read(self):
        rss = threads = 0
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        return rss, threads

    async def _run(self):
        while True:
            rss, threads = self.read()
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_threads = max(self.peak_threads, threads)
            await asyncio.sleep(0.05)

    def start(self):
        self.before_rss, self.before_threads = self.read()
        self.peak_rss, self.peak_threads = self.before_rss, self.before_threads
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self):
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        self.after_rss, self.after_threads = self.read()
        print(f"  rss MiB before/peak/after: {self.before_rss:.0f}/{self.peak_rss:.0f}/"
              f"{self.after_rss:.0f}; threads {self.before_threads}/{self.peak_threads}/"
              f"{self.after_threads}", flush=True)


def metric(admin, name, labels):
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def request(port, raw, timeout=10.0):
    """Sends `raw` on a new connection and returns (status, seconds)."""
    start = time.monotonic()
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        writer.write(raw)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        status = int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else 0
        # Read the rest of the head and the body, so that keep-alive does not matter.
        length = 0
        while True:
            header = await asyncio.wait_for(reader.readline(), timeout)
            if header in (b"\r\n", b""):
                break
            if header.lower().startswith(b"content-length:"):
                length = int(header.split(b":")[1])
        if length:
            await asyncio.wait_for(reader.readexactly(length), timeout)
        return status, time.monotonic() - start
    finally:
        writer.close()


SPAN_JSON = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{
    "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
    "name": "valid", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}]}]}]}).encode()


def valid_request(kind):
    if kind == "otlp":
        return (b"POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(SPAN_JSON)).encode() + b"\r\n\r\n" + SPAN_JSON)
    path = b"/healthz" if kind == "admin" else b"/metrics"
    return b"GET " + path + b" HTTP/1.1\r\nHost: a\r\n\r\n"


async def hold_idle(port, conns):
    try:
        _, w = await asyncio.open_connection("127.0.0.1", port)
        conns.append(w)
    except OSError:
        pass


async def slow(port, head, conns, closed):
    """Sends `head`, then a byte a second until the server closes."""
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    conns.append(w)
    try:
        w.write(head)
        await w.drain()
        for _ in range(HOLD + 10):
            await asyncio.sleep(1)
            if r.at_eof() or w.is_closing():
                closed.append(1)
                return
            w.write(b"x")
            await w.drain()
    except (ConnectionError, OSError):
        closed.append(1)


async def held_connections(kind, port, admin, pid):
    server = {"otlp": "otlp/http", "admin": "admin", "prometheus": "prometheus"}[kind]
    print(f"held connections against {kind} (:{port}): {IDLE} idle, {SLOW_HEADER} slow-header, "
          f"{SLOW_BODY} slow-body for {HOLD}s", flush=True)
    labels = {"server": server}
    header_before = metric(admin, "tributary_http_refused_connections_total",
                           {**labels, "reason": "read_header_timeout"})
    # OTLP/HTTP reads a 1 MB body slowly until its timeout cuts it; admin and
    # the exporter refuse it at once (over their 64 KiB body limit).
    body_reason = "read_body_timeout" if kind == "otlp" else "body_too_large"
    body_before = metric(admin, "tributary_http_refused_connections_total",
                         {**labels, "reason": body_reason})
    sampler = Sampler(pid)
    sampler.start()
    conns, closed = [], []
    await asyncio.gather(*(hold_idle(port, conns) for _ in range(IDLE)))
    head_slow = b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: "
    body_slow = (b"POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000000\r\n\r\n{")
    tasks = [asyncio.create_task(slow(port, head_slow, conns, closed)) for _ in range(SLOW_HEADER)]
    tasks += [asyncio.create_task(slow(port, body_slow, conns, closed)) for _ in range(SLOW_BODY)]
    latencies, statuses = [], []
    end = time.monotonic() + HOLD
    while time.monotonic() < end:
        try:
            status, seconds = await request(port, valid_request(kind), timeout=5)
        except (asyncio.TimeoutError, OSError):
            status, seconds = 0, 5.0
        statuses.append(status)
        latencies.append(seconds)
        await asyncio.sleep(0.2)
    await asyncio.gather(*tasks)
    print(f"  connections opened: {len(conns)}", flush=True)
    for w in conns:
        w.close()
    await sampler.stop()
    print(f"  valid requests: {len(statuses)} sent, {statuses.count(200)} answered 200, "
          f"slowest {max(latencies) * 1000:.0f} ms", flush=True)
    check(len(conns) >= IDLE + SLOW_HEADER + SLOW_BODY - 10, f"{kind}: the attack connections opened")
    check(statuses.count(200) == len(statuses), f"{kind}: every valid request answered 200")
    check(max(latencies) < MAX_LATENCY, f"{kind}: every valid request answered within 1 s")
    check(len(closed) == SLOW_HEADER + SLOW_BODY, f"{kind}: the slow connections were cut")
    header_cut = metric(admin, "tributary_http_refused_connections_total",
                        {**labels, "reason": "read_header_timeout"}) - header_before
    body_cut = metric(admin, "tributary_http_refused_connections_total",
                      {**labels, "reason": body_reason}) - body_before
    print(f"  counted: read_header_timeout {header_cut:.0f}, {body_reason} {body_cut:.0f}")
    check(header_cut >= IDLE + SLOW_HEADER, f"{kind}: idle and slow-header connections counted")
    check(body_cut >= SLOW_BODY, f"{kind}: slow bodies counted ({body_reason})")
    check(sampler.peak_rss - sampler.before_rss <= HELD_RSS_MIB,
          f"{kind}: RSS grew at most {HELD_RSS_MIB} MiB")
    check(sampler.peak_threads <= sampler.before_threads, f"{kind}: no thread added")


def stream_until_answer(port, chunks):
    """Sends chunks, watching for an answer between them; (status, bytes sent)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    sent = 0
    try:
        for chunk in chunks:
            s.setblocking(False)
            try:
                data = s.recv(65536)
            except BlockingIOError:
                data = None
            s.setblocking(True)
            if data:
                return int(data.split()[1]), sent
            if data == b"":
                return 0, sent
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        s.settimeout(10)
        data = s.recv(65536)
        return (int(data.split()[1]) if data.startswith(b"HTTP/1.1") else 0), sent
    except (ConnectionResetError, socket.timeout):
        return 0, sent
    finally:
        s.close()


async def million_headers(port, pid):
    print("a request with 1,000,000 headers (13 MiB)", flush=True)
    sampler = Sampler(pid)
    sampler.start()

    def chunks():
        yield b"POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-protobuf\r\n"
        block = b"".join(b"X-H%07d: v\r\n" % i for i in range(4096))
        for _ in range(1_000_000 // 4096):
            yield block
        yield b"Content-Length: 0\r\n\r\n"
    status, sent = await asyncio.to_thread(stream_until_answer, port, chunks())
    await sampler.stop()
    print(f"  sent {sent} bytes, answer {status}")
    check(status == 431, "a million headers: 431")


async def chunked_body(port, pid):
    print("a 64 MiB chunked body", flush=True)
    sampler = Sampler(pid)
    sampler.start()

    def chunks():
        yield (b"POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-protobuf\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")
        piece = b"100000\r\n" + b"\x00" * (1 << 20) + b"\r\n"
        for _ in range(64):
            yield piece
        yield b"0\r\n\r\n"
    status, sent = await asyncio.to_thread(stream_until_answer, port, chunks())
    await sampler.stop()
    print(f"  sent {sent >> 20} MiB, answer {status}")
    check(status == 413, "64 MiB chunked body: 413")
    check(sent < (40 << 20), "the chunked body was refused before it was read in full")


async def gzip_bombs(port, pid, budget_mib):
    bomb = gzip.compress(b"\x00" * ((64 << 20) + 4096), 9)
    print(f"32 concurrent gzip bodies of {len(bomb)} bytes, each decompressing past 64 MiB, "
          f"under a memory budget of {budget_mib} MiB", flush=True)
    sampler = Sampler(pid)
    sampler.start()
    raw = (b"POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-protobuf\r\n"
           b"Content-Encoding: gzip\r\nContent-Length: " + str(len(bomb)).encode() +
           b"\r\n\r\n" + bomb)
    results = await asyncio.gather(*(request(port, raw, timeout=60) for _ in range(32)))
    await sampler.stop()
    statuses = [s for s, _ in results]
    print(f"  answers: {statuses.count(413)} x 413, {statuses.count(429)} x 429, others "
          f"{[s for s in statuses if s not in (413, 429)]}")
    check(statuses.count(413) + statuses.count(429) == 32, "gzip bombs: each refused, 413 or 429")
    check(sampler.peak_rss - sampler.before_rss <= budget_mib + BOMB_MARGIN_MIB,
          f"gzip bombs: RSS grew at most {budget_mib} + {BOMB_MARGIN_MIB} MiB")


async def empty_exporter(prom, otlp):
    print("scrapes of the empty Prometheus exporter, then data", flush=True)
    statuses = []
    for encoding in (b"", b"", b"Accept-Encoding: gzip\r\n"):
        status, _ = await request(prom, b"GET /metrics HTTP/1.1\r\nHost: a\r\n" + encoding + b"\r\n")
        statuses.append(status)
    metrics = json.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
        "name": "attack.marker", "gauge": {"dataPoints": [{"asInt": "7",
                                                            "timeUnixNano": "1"}]}}]}]}]}).encode()
    status, _ = await request(otlp, b"POST /v1/metrics HTTP/1.1\r\nHost: a\r\nContent-Type: "
                              b"application/json\r\nContent-Length: " + str(len(metrics)).encode() +
                              b"\r\n\r\n" + metrics)
    print(f"  empty scrapes answered {statuses}, data posted: {status}")
    check(statuses == [200, 200, 200], "scrapes of the empty exporter answered")
    check(status == 200, "metrics posted after them")
    body = ""
    for _ in range(100):
        body = urllib.request.urlopen(f"http://127.0.0.1:{prom}/metrics", timeout=10).read().decode()
        if "attack_marker" in body:
            break
        await asyncio.sleep(0.1)
    check(re.search(r"^attack_marker(\{.*\})? 7$", body, re.M) is not None,
          "the scrape after them shows the data")


async def statsd_burst(statsd, prom):
    print("200,000 StatsD gauge names in 10 s, then 1,000 ordinary counter lines", flush=True)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    for d in range(10_000):
        s.sendto(b"".join(b"burst.g%06d:1|g\n" % (d * 20 + i) for i in range(20)),
                 ("127.0.0.1", statsd))
        due = start + 10 * (d + 1) / 10_000
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
    await asyncio.sleep(2)  # the next interval
    for _ in range(50):
        s.sendto(b"attack.ordinary:1|c\n" * 20, ("127.0.0.1", statsd))
        await asyncio.sleep(0.01)
    value = None
    for _ in range(100):
        body = urllib.request.urlopen(f"http://127.0.0.1:{prom}/metrics", timeout=30).read().decode()
        m = re.search(r"^attack_ordinary_total(\{.*\})? (\S+)$", body, re.M)
        value = float(m.group(2)) if m else None
        if value == 1000:
            break
        await asyncio.sleep(0.2)
    print(f"  sent 200,000 gauge lines and 1,000 counter lines; the counter reads {value}")
    check(value == 1000, "the ordinary lines after the burst are aggregated")


async def main():
    p = argparse.ArgumentParser()
    for name in ("pid", "otlp", "admin", "prometheus", "statsd", "memory-budget-mib"):
        p.add_argument("--" + name, type=int, required=True)
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    await empty_exporter(a.prometheus, a.otlp)
    for kind, port in (("otlp", a.otlp), ("admin", a.admin), ("prometheus", a.prometheus)):
        await held_connections(kind, port, a.admin, a.pid)
    await million_headers(a.otlp, a.pid)
    await chunked_body(a.otlp, a.pid)
    await gzip_bombs(a.otlp, a.pid, a.memory_budget_mib)
    await statsd_burst(a.statsd, a.prometheus)
    if failures:
        print(f"FAILED: {len(failures)} checks: {failures}")
        sys.exit(1)
    print("all attack checks passed")


asyncio.run(main())
