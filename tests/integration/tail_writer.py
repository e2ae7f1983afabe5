#!/usr/bin/env python3
"""Writes numbered CRI lines to K container log files in the kubelet layout,
rotating each file now and then, alternately by rename-and-create (as the
kubelet does) and by copytruncate (as logrotate does).

  tail_writer.py ROOT FILES LINES_PER_FILE ROTATE_EVERY LINES_PER_SECOND

Each line's message is `file=<k> seq=<i> <padding>`; a long line split by the
runtime into P/F parts is written now and then, to be reassembled.
"""
import datetime
import os
import shutil
import sys
import time

root, files, per_file, rotate_every, rate = sys.argv[1], *map(int, sys.argv[2:6])
paths = []
for k in range(files):
    d = os.path.join(root, f"ns{k % 3}_pod-{k}_uid-{k:04d}", "app")
    os.makedirs(d, exist_ok=True)
    paths.append(os.path.join(d, "0.log"))
handles = [open(p, "a") for p in paths]
rotations = [0] * files


def stamp():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rotate(k):
    handles[k].close()
    rotations[k] += 1
    path = paths[k]
    if rotations[k] % 2:
        os.rename(path, f"{path}.{rotations[k]:04d}")
    else:
        shutil.copyfile(path, f"{path}.{rotations[k]:04d}")
        os.truncate(path, 0)
    handles[k] = open(path, "a")


start = time.monotonic()
written = 0
for seq in range(per_file):
    for k in range(files):
        pad = "x" * (40 + (seq * 7 + k) % 120)
        if seq % 97 == 5:
            # A line the runtime split in two.
            handles[k].write(f"{stamp()} stdout P file={k} seq={seq} ")
            handles[k].write(f"\n{stamp()} stdout F {pad}\n")
        else:
            handles[k].write(f"{stamp()} stdout F file={k} seq={seq} {pad}\n")
        written += 1
    if seq % 50 == 49:
        for h in handles:
            h.flush()
        ahead = written / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
    if seq % rotate_every == rotate_every - 1 and seq + 1 < per_file:
        for k in range(files):
            handles[k].flush()
            rotate(k)
for h in handles:
    h.close()
print(f"writer: {written} lines in {files} files, {sum(rotations)} rotations", flush=True)
