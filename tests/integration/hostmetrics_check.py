#!/usr/bin/env python3
"""Compares the agent's host metrics with the Prometheus node exporter's.

  hostmetrics_check.py BEFORE OURS AFTER

BEFORE and AFTER are node exporter scrapes taken around OURS (the agent's
prometheus exporter, whose last collection fell between them). For every name
in COUNTERS and GAUGES (38) both must export it with the same label sets; a counter of ours must
lie between the node exporter's two readings, a gauge must agree within the
tolerance stated below.
"""
import os
import re
import sys

COUNTERS = [
    "node_cpu_seconds_total", "node_context_switches_total", "node_intr_total",
    "node_forks_total", "node_disk_reads_completed_total", "node_disk_read_bytes_total",
    "node_disk_writes_completed_total", "node_disk_written_bytes_total",
    "node_disk_io_time_seconds_total", "node_network_receive_bytes_total",
    "node_network_receive_packets_total", "node_network_transmit_bytes_total",
    "node_network_transmit_packets_total", "node_network_receive_errs_total",
    "node_network_receive_drop_total", "node_network_transmit_errs_total",
    "node_pressure_cpu_waiting_seconds_total", "node_pressure_io_waiting_seconds_total",
    "node_pressure_memory_waiting_seconds_total",
]
# Gauges: (name, relative tolerance, absolute tolerance).
GAUGES = [
    ("node_memory_MemTotal_bytes", 0, 0),
    ("node_memory_SwapTotal_bytes", 0, 0),
    ("node_memory_MemFree_bytes", 0.10, 128 << 20),
    ("node_memory_MemAvailable_bytes", 0.10, 128 << 20),
    ("node_memory_Buffers_bytes", 0.10, 64 << 20),
    ("node_memory_Cached_bytes", 0.10, 128 << 20),
    ("node_memory_Active_bytes", 0.10, 128 << 20),
    ("node_memory_Inactive_bytes", 0.10, 128 << 20),
    ("node_load1", 0.5, 1.0),
    ("node_load5", 0.2, 0.5),
    ("node_load15", 0.1, 0.3),
    ("node_boot_time_seconds", 0, 1.0),
    ("node_procs_running", 0, 8),
    ("node_procs_blocked", 0, 8),
    ("node_filesystem_size_bytes", 0, 0),
    ("node_filesystem_files", 0, 0),
    ("node_filesystem_readonly", 0, 0),
    ("node_filesystem_avail_bytes", 0.01, 256 << 20),
    ("node_filesystem_free_bytes", 0.01, 256 << 20),
]
IGNORED_LABELS = {"job", "instance", "otel_scope_name", "otel_scope_version"}
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(path):
    out = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            if not m:
                continue
            labels = tuple(sorted((k, v) for k, v in LABEL.findall(m.group(3) or "")
                                  if k not in IGNORED_LABELS))
            out.setdefault(m.group(1), {})[labels] = float(m.group(4))
    return out


def main():
    before, ours, after = (parse(p) for p in sys.argv[1:4])
    problems = 0
    checked = 0

    # Every name is compared; only the pressure counters may be absent, and
    # only on a kernel without PSI (no /proc/pressure).
    psi = os.path.exists("/proc/pressure/cpu")
    expected = len(COUNTERS) + len(GAUGES)
    if not psi:
        expected -= sum(name.startswith("node_pressure_") for name in COUNTERS)

    def series(name):
        nonlocal problems
        if name not in before:
            if name.startswith("node_pressure_") and not psi:
                print(f"{name}: this kernel has no PSI, skipped")
            else:
                print(f"{name}: MISSING from the node exporter")
                problems += 1
            return None
        if name not in ours:
            print(f"{name}: MISSING from ours")
            problems += 1
            return None
        if set(before[name]) != set(ours[name]):
            print(f"{name}: label sets differ: node exporter only {sorted(set(before[name]) - set(ours[name]))[:3]},"
                  f" ours only {sorted(set(ours[name]) - set(before[name]))[:3]}")
            problems += 1
            return None
        return before[name]

    for name in COUNTERS:
        if series(name) is None:
            continue
        checked += 1
        bad = 0
        for labels, ours_value in ours[name].items():
            lo, hi = before[name][labels], after[name].get(labels, before[name][labels])
            if not (lo - 1e-6 <= ours_value <= hi + 1e-6):
                if bad < 3:
                    print(f"{name}{dict(labels)}: ours {ours_value} not in [{lo}, {hi}]")
                bad += 1
        problems += bad > 0
        print(f"{name}: {len(ours[name])} series, {'OK' if not bad else 'MISMATCH'}")
    for name, rel, absolute in GAUGES:
        if series(name) is None:
            continue
        checked += 1
        bad = 0
        for labels, ours_value in ours[name].items():
            values = [before[name][labels], after[name].get(labels, before[name][labels])]
            tolerance = max(absolute, rel * max(abs(v) for v in values))
            if min(abs(ours_value - v) for v in values) > tolerance:
                if bad < 3:
                    print(f"{name}{dict(labels)}: ours {ours_value}, node exporter {values},"
                          f" tolerance {tolerance}")
                bad += 1
        problems += bad > 0
        print(f"{name}: {len(ours[name])} series, {'OK' if not bad else 'MISMATCH'}")
    print(f"{checked} metric names compared (of {expected} expected), {problems} problems")
    if checked != expected or problems:
        sys.exit(1)


main()
