#!/usr/bin/env python3
"""Reads the collector's file sink (OTLP/JSON lines) and compares the log
bodies with what tail_writer.py wrote: lost, duplicated, out of order.

  tail_check.py SINK_FILE FILES LINES_PER_FILE MAX_DUPLICATES
"""
import glob
import json
import re
import sys

sink, files, per_file, max_duplicates = sys.argv[1], *map(int, sys.argv[2:5])
pattern = re.compile(r"^file=(\d+) seq=(\d+) ")
seen = [dict() for _ in range(files)]
first_order = [[] for _ in range(files)]
bad = 0
total = 0
for path in sorted(glob.glob(sink + "*")):
    with open(path) as f:
        for line in f:
            request = json.loads(line)
            for rl in request.get("resourceLogs", []):
                for sl in rl.get("scopeLogs", []):
                    for r in sl.get("logRecords", []):
                        total += 1
                        m = pattern.match(r.get("body", {}).get("stringValue", ""))
                        if not m:
                            bad += 1
                            continue
                        k, seq = int(m.group(1)), int(m.group(2))
                        count = seen[k].get(seq, 0)
                        if count == 0:
                            first_order[k].append(seq)
                        seen[k][seq] = count + 1
lost = sum(per_file - len(s) for s in seen)
duplicated = sum(c - 1 for s in seen for c in s.values())
out_of_order = sum(
    sum(1 for a, b in zip(order, order[1:]) if b < a) for order in first_order)
print(f"tail e2e: expected={files * per_file} delivered={total} lost={lost} "
      f"duplicated={duplicated} out_of_order={out_of_order} unparsed={bad}")
if duplicated > max_duplicates:
    print(f"more duplicates than the unacknowledged window allows ({max_duplicates})")
sys.exit(0 if lost == 0 and out_of_order == 0 and bad == 0 and duplicated <= max_duplicates
         else 1)
