#!/usr/bin/env python3
"""Legitimate logins on the demo server (plain XMPP: stream, PLAIN, restart, bind), idle and then
during a flood of connections from banned sources (127.1.0.0/16, banned through the admin
command) from FLOOD threads: p50 / p99 latency, ratios against idle in the same run.

Usage: demo_flood_latency.py PATH/TO/release/GreylistDemoServer [ROUNDS] [FLOOD_PROCESSES]
Loopback only; every socket has a timeout and every loop a bound.
"""
import base64
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nio_load import HEADER, Flood, percentile, until  # noqa: E402


def login(port: int) -> float:
    begin = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as stream:
        stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream.sendall(HEADER)
        until(stream, b"</stream:features>")
        token = base64.b64encode(b"\0demo\0demo-password").decode()
        stream.sendall(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>".encode())
        if b"success" not in until(stream, b"/>"):
            sys.exit("a legitimate login failed")
        stream.sendall(HEADER)
        until(stream, b"</stream:features>")
        stream.sendall(b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>")
        until(stream, b"</iq>")
    return (time.perf_counter() - begin) * 1000


def run(binary: str, rounds: int, flood_threads: int) -> tuple[list[float], float]:
    state = tempfile.mkdtemp(prefix="greylist-latency-")
    socket_path = os.path.join(state, "admin.sock")
    config = os.path.join(state, "config.json")
    with open(config, "w") as file:
        json.dump({"server": {"port": 0, "adminSocket": socket_path, "maxConnectionsPerAddress": 1000000,
                              "maxUnauthenticatedPerAddress": 1000000},
                   "greylist": {"stateDirectory": ""}}, file)
    server = subprocess.Popen([binary, "--config", config], stderr=subprocess.PIPE, text=True)
    port = None
    deadline = time.time() + 30
    while port is None and time.time() < deadline:
        found = re.search(r"listening on 127\.0\.0\.1:(\d+)", server.stderr.readline())
        port = int(found.group(1)) if found else None
    if port is None:
        sys.exit("the demo did not start")
    threading.Thread(target=lambda: server.stderr.read(), daemon=True).start()
    subprocess.run([binary, "admin", "ban", "127.1.0.0/16", "--for", "1d", "--socket", socket_path], check=True,
                   stdout=subprocess.DEVNULL, timeout=20)
    flood = Flood(port, flood_threads)
    try:
        times = sorted(login(port) for _ in range(rounds))
    finally:
        rate = flood.end()
        server.terminate()
        server.wait(timeout=20)
    return times, rate


def main() -> None:
    binary = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    flood_threads = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    idle, _ = run(binary, rounds, 0)
    loaded, rate = run(binary, rounds, flood_threads)
    print(f"demo logins (plain, through bind), {rounds} each: idle p50 {statistics.median(idle):.2f} ms p99 {percentile(idle, 0.99):.2f} ms; "
          f"during a flood of {rate:.0f} banned connections/s p50 {statistics.median(loaded):.2f} ms "
          f"({statistics.median(loaded) / statistics.median(idle):.2f}×) p99 {percentile(loaded, 0.99):.2f} ms "
          f"({percentile(loaded, 0.99) / percentile(idle, 0.99):.2f}×)")


if __name__ == "__main__":
    main()
