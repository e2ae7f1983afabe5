#!/usr/bin/env python3
"""Holds N idle TCP connections to 127.0.0.1:PORT (opening again any the
server closes) until killed; prints `ready N` once all are open.

  idle.py PORT N
"""
import asyncio
import resource
import sys


async def hold(port, ready, opened):
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        opened.append(1)
        if len(opened) == ready[0]:
            print(f"ready {ready[0]}", flush=True)
        await reader.read()  # returns when the server closes it
        writer.close()


async def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    opened = []
    await asyncio.gather(*(hold(port, [n], opened) for _ in range(n)))


asyncio.run(main())
