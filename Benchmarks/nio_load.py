#!/usr/bin/env python3
"""Load against the SwiftNIO example server (Integrations/), ratios against baselines from the same run.

  refused    connections from banned sources (127.1.0.0/16, --ban): closed by GreylistAcceptor's
             accept thread before they become channels (the example's default)
  refused-nio  the same with --nio-acceptor: closed by GreylistAcceptHandler in a ServerBootstrap,
             before the child pipeline exists
  baseline   the same flood against the example in --baseline mode: a server-channel handler that
             closes every connection with no check (a bare NIO accept-and-close server)
  tls-bot    a not-yet-banned bot's attempt on the direct TLS port: TLS handshake, stream header,
             SASL PLAIN with a wrong password, the failure (each from its own source in
             127.2.0.0/16, so no rule trips); with the example's P-256 certificate and an RSA-2048 one,
             on each acceptor
  starttls-bot  the same attempt on the c2s port through STARTTLS (stream, <starttls/>, handshake,
             a new stream, PLAIN, the failure), sources in 127.3.0.0/16
Server CPU per connection is utime+stime of the server process (/proc/<pid>/stat) over the run.

  login      legitimate logins (direct TLS: handshake, stream, PLAIN, restart, bind) one after
             another, idle and then during a flood of banned connections from FLOOD client processes;
             p50 / p99 latency, on each acceptor

Usage: nio_load.py PATH/TO/release/GreylistNIOExample [CONNECTIONS] [FLOOD_PROCESSES] [LOGINS]
Loopback only; every socket has a timeout and every loop a bound.
"""
import base64
import multiprocessing
import os
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HEADER = (b"<stream:stream to='localhost' xmlns='jabber:client' "
          b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start(binary: str, *arguments: str):
    process = subprocess.Popen([binary, "--port", "0", "--tls-port", "0", "--ban", "127.1.0.0/16", *arguments],
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        found = re.search(r":(\d+) \(STARTTLS\) and [0-9.]+:(\d+) \(direct TLS\)", process.stderr.readline())
        if found:
            threading.Thread(target=lambda: process.stderr.read(), daemon=True).start()
            return process, int(found.group(1)), int(found.group(2))
    process.kill()
    sys.exit("the example server did not start")


def source(block: int, index: int) -> str:
    return f"127.{block}.{(index // 250) % 250}.{index % 250 + 1}"


def refused_attempt(port: int, address: str) -> bool:
    with socket.socket() as raw:
        raw.settimeout(5)
        raw.bind((address, 0))
        raw.connect(("127.0.0.1", port))
        try:
            return raw.recv(64) == b""
        except ConnectionResetError:
            return True


def until(stream, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = stream.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


CONTEXT = ssl.create_default_context()
CONTEXT.check_hostname = False
CONTEXT.verify_mode = ssl.CERT_NONE


def tls_attempt(port: int, address: str, password: str, bind: bool = False) -> bool:
    raw = socket.socket()
    raw.settimeout(5)
    # As an XMPP client would: without it, Nagle holds the stream header that follows the TLS
    # Finished until the server's delayed ACK (40 ms a login).
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    raw.bind((address, 0))
    raw.connect(("127.0.0.1", port))
    with CONTEXT.wrap_socket(raw, server_hostname="localhost") as stream:
        stream.sendall(HEADER)
        until(stream, b"</stream:features>")
        token = base64.b64encode(f"\0demo\0{password}".encode()).decode()
        stream.sendall(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>".encode())
        answer = until(stream, b"/>")
        if not bind:
            return b"failure" in answer
        stream.sendall(HEADER)
        until(stream, b"</stream:features>")
        stream.sendall(b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>")
        return b"<jid>" in until(stream, b"</iq>")


def starttls_attempt(port: int, address: str, password: str) -> bool:
    """A bot's attempt on the c2s port as most clients make it: stream, STARTTLS, handshake, a
    new stream, PLAIN, the failure."""
    raw = socket.socket()
    raw.settimeout(5)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    raw.bind((address, 0))
    raw.connect(("127.0.0.1", port))
    raw.sendall(HEADER)
    until(raw, b"</stream:features>")
    raw.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    if b"proceed" not in until(raw, b"/>"):
        raw.close()
        return False
    with CONTEXT.wrap_socket(raw, server_hostname="localhost") as stream:
        stream.sendall(HEADER)
        until(stream, b"</stream:features>")
        token = base64.b64encode(f"\0demo\0{password}".encode()).decode()
        stream.sendall(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>".encode())
        return b"failure" in until(stream, b"/>")


def flood(count: int, threads: int, attempt) -> tuple[int, float]:
    done = [0] * threads

    def worker(number: int):
        for index in range(number, count, threads):
            if attempt(index):
                done[number] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for worker_thread in workers:
        worker_thread.start()
    for worker_thread in workers:
        worker_thread.join()
    return sum(done), time.perf_counter() - started


def rsa_certificate() -> tuple[str, ...]:
    """An RSA-2048 self-signed certificate (what many XMPP servers deploy), made with openssl."""
    directory = tempfile.mkdtemp(prefix="greylist-rsa-")
    key, certificate = os.path.join(directory, "key.pem"), os.path.join(directory, "certificate.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate,
                    "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True, timeout=60)
    return ("--certificate", certificate, "--key", key)


def measure(binary: str, count: int, scenario: str, extra: tuple[str, ...] = ()) -> float:
    arguments = {"baseline": ("--baseline",), "refused-nio": ("--nio-acceptor",)}.get(scenario, ()) + extra
    process, plain, direct = start(binary, *arguments)
    try:
        before = server_cpu(process.pid)
        if scenario == "tls-bot":
            done, _ = flood(count, 3, lambda i: tls_attempt(direct, source(2, i), "wrong"))
        elif scenario == "starttls-bot":
            done, _ = flood(count, 3, lambda i: starttls_attempt(plain, source(3, i), "wrong"))
        else:
            done, _ = flood(count, 3, lambda i: refused_attempt(plain, source(1, i)))
        spent = server_cpu(process.pid) - before
        if done < count * 0.99:
            sys.exit(f"{scenario}: only {done} of {count} attempts completed as expected")
        return spent / done * 1e6
    finally:
        process.terminate()
        process.wait(timeout=20)


def flood_worker(port: int, number: int, processes: int, stop, counter) -> None:
    index, done = number, 0
    while not stop.is_set():
        refused_attempt(port, source(1, index % 60_000))
        done += 1
        index += processes
    with counter.get_lock():
        counter.value += done


class Flood:
    """Banned connections as fast as PROCESSES client processes drive them (processes, not
    threads: the login being timed must not wait for the flood's interpreter lock)."""

    def __init__(self, port: int, processes: int):
        self.stop = multiprocessing.Event()
        self.counter = multiprocessing.Value("q", 0)
        self.workers = [multiprocessing.Process(target=flood_worker, args=(port, n, processes, self.stop, self.counter), daemon=True)
                        for n in range(processes)]
        self.started = time.perf_counter()
        for worker in self.workers:
            worker.start()

    def end(self) -> float:
        """Stops the flood; returns its rate in connections per second."""
        self.stop.set()
        for worker in self.workers:
            worker.join(timeout=10)
        return self.counter.value / (time.perf_counter() - self.started)


def logins(binary: str, rounds: int, flood_processes: int, extra: tuple[str, ...] = ()) -> tuple[list[float], float]:
    process, plain, direct = start(binary, *extra)
    flood = Flood(plain, flood_processes)
    times = []
    try:
        for index in range(rounds):
            begin = time.perf_counter()
            if not tls_attempt(direct, "127.0.0.1", "demo-password", bind=True):
                sys.exit("a legitimate login failed")
            times.append((time.perf_counter() - begin) * 1000)
    finally:
        rate = flood.end()
        process.terminate()
        process.wait(timeout=20)
    return sorted(times), rate


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(len(values) * fraction))]


def main() -> None:
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    flood_threads = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 1_000
    nio = ("--nio-acceptor",)
    bots = max(count // 10, 500)
    refused = measure(binary, count, "refused")
    refused_nio = measure(binary, count, "refused-nio")
    baseline = measure(binary, count, "baseline")
    bot = measure(binary, bots, "tls-bot")
    bot_nio = measure(binary, bots, "tls-bot", nio)
    rsa = rsa_certificate()
    rsa_bot = measure(binary, bots, "tls-bot", rsa)
    rsa_bot_nio = measure(binary, bots, "tls-bot", rsa + nio)
    starttls_bot = measure(binary, bots, "starttls-bot")
    starttls_bot_nio = measure(binary, bots, "starttls-bot", nio)
    print(f"server CPU per refused connection: GreylistAcceptor {refused:.1f} µs ({refused / baseline:.2f}× bare NIO), "
          f"GreylistAcceptHandler {refused_nio:.1f} µs ({refused_nio / baseline:.2f}× bare NIO), "
          f"bare NIO accept-and-close {baseline:.1f} µs")
    for name, thread_cost, nio_cost in (("direct TLS, P-256", bot, bot_nio), ("direct TLS, RSA-2048", rsa_bot, rsa_bot_nio),
                                        ("STARTTLS, P-256", starttls_bot, starttls_bot_nio)):
        print(f"a not-yet-banned bot's attempt ({name}): {thread_cost:.1f} µs behind GreylistAcceptor "
              f"(a banned attempt is {thread_cost / refused:.1f}× cheaper), {nio_cost:.1f} µs behind GreylistAcceptHandler "
              f"({nio_cost / refused_nio:.1f}× cheaper)")
    for label, extra in (("GreylistAcceptor", ()), ("GreylistAcceptHandler", nio)):
        idle, _ = logins(binary, rounds, 0, extra)
        loaded, rate = logins(binary, rounds, flood_threads, extra)
        print(f"{label}: legitimate logins (direct TLS, through bind), {rounds} each: idle p50 {statistics.median(idle):.2f} ms "
              f"p99 {percentile(idle, 0.99):.2f} ms; during a flood of {rate:.0f} banned connections/s "
              f"p50 {statistics.median(loaded):.2f} ms ({statistics.median(loaded) / statistics.median(idle):.2f}×) "
              f"p99 {percentile(loaded, 0.99):.2f} ms ({percentile(loaded, 0.99) / percentile(idle, 0.99):.2f}×)")


if __name__ == "__main__":
    main()
