#!/usr/bin/env python3
"""Interop test: slixmpp (unmodified, at its defaults but for certificate verification, since the
example's certificate is self-signed) against the SwiftNIO example server.

1. logs in through STARTTLS (RFC 6120 §5) on the plain port;
2. logs in through direct TLS (XEP-0368) on the TLS port;
3. fails a login as bad_user_12345 from 127.0.0.3 (over STARTTLS), which the rule bans;
4. the next connection from 127.0.0.3 is closed before the server sends a byte, on both ports
   (before any TLS handshake);
5. a client from 127.0.0.2 still logs in through direct TLS;
6. TLS 1.1, and TLS 1.2 with only CBC or SHA-1 suites, are refused; TLS 1.2 gets an AEAD suite;
7. the server exits 0 on SIGTERM.
All of it twice: behind GreylistAcceptor (the example's default) and with --nio-acceptor
(GreylistAcceptHandler in a ServerBootstrap).
8. Out of descriptors (the example started with RLIMIT_NOFILE 64 and held connections past it),
   GreylistAcceptor logs "pausing accepts" once instead of spinning, and once the connections
   are let go the waiting ones are served and slixmpp logs in.

Usage: slixmpp_nio_tls.py PATH/TO/GreylistNIOExample
Loopback only, every wait bounded; prints 'N passed, N failed' and exits non-zero on failure.
"""
import asyncio
import os
import re
import resource
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from slixmpp_interop import attempt_login, first_bytes, report, stop_server  # noqa: E402


def listening_ports(server: subprocess.Popen, lines: list[str]) -> tuple[int, int] | None:
    """The STARTTLS and direct-TLS ports from the server's first lines (kept in `lines`)."""
    for _ in range(20):
        line = server.stderr.readline()
        lines.append(line)
        found = re.search(r"listening on 127\.0\.0\.1:(\d+) \(STARTTLS\) and 127\.0\.0\.1:(\d+) \(direct TLS\)", line)
        if found:
            return int(found.group(1)), int(found.group(2))
    return None


async def scenario(binary: str, label: str, extra: list[str], results: list[tuple[str, bool, str]]) -> None:
    server = subprocess.Popen([binary, "--port", "0", "--tls-port", "0", *extra], stderr=subprocess.PIPE, text=True)
    first = len(results)
    try:
        ports = listening_ports(server, [])
        if ports is None:
            results.append(("the example server starts", False, "no listening line"))
            return
        plain, direct = ports
        result = await attempt_login("demo@localhost", "demo-password", plain, transport="starttls")
        results.append(("demo logs in through STARTTLS", result == "session_start", result))
        result = await attempt_login("demo@localhost", "demo-password", direct, transport="direct")
        results.append(("demo logs in through direct TLS", result == "session_start", result))
        result = await attempt_login("bad_user_12345@localhost", "wrong", plain, transport="starttls", source="127.0.0.3")
        results.append(("bad_user_12345 fails to log in from 127.0.0.3", result in ("failed_auth", "disconnected"), result))
        for name, port, tls in (("STARTTLS", plain, False), ("direct TLS", direct, True)):
            received = first_bytes(port, "127.0.0.3", tls=tls)
            results.append((f"next connection from 127.0.0.3 to the {name} port gets 0 bytes", received == b"", repr(received)))
        result = await attempt_login("demo@localhost", "demo-password", direct, transport="direct", source="127.0.0.2")
        results.append(("demo logs in from 127.0.0.2 through direct TLS", result == "session_start", result))
        received = first_bytes(direct, "127.0.0.2", tls=True)
        results.append(("a new connection from 127.0.0.2 completes its TLS handshake (the check above can fail)",
                        received == b"TLS", repr(received)))
        tls_policy(direct, results)
    finally:
        stop_server(server, results)
        results[first:] = [(f"{label}: {name}", passed, detail) for name, passed, detail in results[first:]]


def tls_handshake(port: int, maximum: ssl.TLSVersion | None = None, ciphers: str | None = None) -> str:
    """The version and suite a TLS client with these limits gets from the direct-TLS port, or why not."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if maximum is not None:
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = maximum
    # SECLEVEL=0 lets this client offer what an old one would; the server must refuse it.
    context.set_ciphers((ciphers or "DEFAULT") + ":@SECLEVEL=0")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as secured:
                return f"{secured.version()} {secured.cipher()[0]}"
    except (ssl.SSLError, OSError) as error:
        return f"refused: {error}"


def tls_policy(direct: int, results: list[tuple[str, bool, str]]) -> None:
    old = tls_handshake(direct, maximum=ssl.TLSVersion.TLSv1_1)
    results.append(("a TLS 1.1 client is refused", old.startswith("refused"), old))
    weak = tls_handshake(direct, maximum=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:AES128-SHA:AES256-SHA")
    results.append(("a TLS 1.2 client offering only CBC/SHA-1 suites is refused", weak.startswith("refused"), weak))
    modern = tls_handshake(direct, maximum=ssl.TLSVersion.TLSv1_2)
    results.append(("a TLS 1.2 client gets an ECDHE AEAD suite", modern.startswith("TLSv1.2 ECDHE-") and ("GCM" in modern or "CHACHA20" in modern), modern))
    current = tls_handshake(direct)
    results.append(("a current client gets TLS 1.3", current.startswith("TLSv1.3"), current))


def wait_for(condition, seconds: float) -> bool:
    """Polls `condition` every 50 ms until it holds or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


async def out_of_descriptors(binary: str, results: list[tuple[str, bool, str]]) -> None:
    limit = 64
    server = subprocess.Popen([binary, "--port", "0", "--tls-port", "0"], stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit)))
    first = len(results)
    lines: list[str] = []
    held: list[socket.socket] = []
    try:
        ports = listening_ports(server, lines)
        if ports is None:
            results.append(("the example server starts", False, "no listening line"))
            return
        threading.Thread(target=lambda: lines.extend(iter(server.stderr.readline, "")), daemon=True).start()
        plain, direct = ports
        # More connections than descriptors: the kernel completes them (the backlog), the acceptor
        # runs out. Each stays open, silent, well inside the stream-header deadline.
        # From many addresses, so the per-address caps (8 unauthenticated) leave them all open.
        for index in range(limit + 16):
            held.append(socket.create_connection(("127.0.0.1", plain), timeout=5, source_address=(f"127.0.1.{index + 1}", 0)))

        def pausing() -> int:
            return sum("pausing accepts" in line for line in list(lines))
        paused = wait_for(lambda: pausing() > 0, 10)
        time.sleep(1)  # ten more 100 ms pauses: a loop that logged each would show them
        results.append(("out of descriptors, the acceptor logs one pause line, not one per try", paused and pausing() == 1,
                        f"{pausing()} line(s)"))
        for connection in held:
            connection.close()
        held.clear()
        result = await attempt_login("demo@localhost", "demo-password", direct, transport="direct")
        results.append(("once descriptors are free, demo logs in through direct TLS", result == "session_start", result))
    finally:
        for connection in held:
            connection.close()
        stop_server(server, results)
        results[first:] = [(f"RLIMIT_NOFILE {limit}: {name}", passed, detail) for name, passed, detail in results[first:]]


async def main(binary: str) -> int:
    results: list[tuple[str, bool, str]] = []
    await scenario(binary, "GreylistAcceptor", [], results)
    await scenario(binary, "GreylistAcceptHandler", ["--nio-acceptor"], results)
    await out_of_descriptors(binary, results)
    return report(results)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
