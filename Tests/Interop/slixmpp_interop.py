#!/usr/bin/env python3
"""Interop test: a real, unmodified third-party XMPP client (slixmpp) against the demo server.

1. logs in as the demo user (SASL PLAIN, resource binding) from 127.0.0.1;
2. fails a login as bad_user_12345 from 127.0.0.3, which the rule bans;
3. checks that the next connection from 127.0.0.3 is closed before the server sends a byte;
4. checks that a client bound to 127.0.0.2, outside the ban, still logs in;
5. fails a login as bad_user_12345 from 127.0.0.1, whose earlier login made it trusted: the ban
   is soft, and the demo user still logs in from there (a bot behind a user's NAT).

Usage: slixmpp_interop.py PATH/TO/GreylistDemoServer
Loopback only, every wait bounded; prints 'N passed, N failed' and exits non-zero on failure.
"""
import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile

import slixmpp

TIMEOUT = 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def attempt_login(jid: str, password: str, port: int, source: str | None = None, transport: str = "plain") -> str:
    """Returns 'session_start', 'failed_auth', 'disconnected' or 'timeout'.

    transport: 'plain' (the demo: no TLS, PLAIN in the clear), 'starttls' or 'direct' (TLS, the
    server's self-signed certificate not verified, everything else at slixmpp's defaults)."""
    if transport == "plain":
        client = slixmpp.ClientXMPP(jid, password, plugin_config={"feature_mechanisms": {"unencrypted_plain": True}})
    else:
        client = slixmpp.ClientXMPP(jid, password)
        client.ssl_context.check_hostname = False
        client.ssl_context.verify_mode = ssl.CERT_NONE
    client.enable_starttls = transport == "starttls"
    client.enable_direct_tls = transport == "direct"
    client.enable_plaintext = transport == "plain"
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future = loop.create_future()

    def settle(result: str):
        if not outcome.done():
            outcome.set_result(result)

    async def on_session_start(_event):
        settle("session_start")

    client.add_event_handler("session_start", on_session_start)
    client.add_event_handler("failed_auth", lambda _event: settle("failed_auth"))
    client.add_event_handler("failed_all_auth", lambda _event: settle("failed_auth"))
    client.add_event_handler("disconnected", lambda _event: settle("disconnected"))
    original = loop.create_connection
    if source is not None:
        # slixmpp has no source-address option: bind the client socket through the event loop.
        async def bound_connection(*args, **kwargs):
            kwargs.setdefault("local_addr", (source, 0))
            return await original(*args, **kwargs)
        loop.create_connection = bound_connection
    try:
        client.connect("127.0.0.1", port)
        return await asyncio.wait_for(outcome, TIMEOUT)
    except asyncio.TimeoutError:
        return "timeout"
    finally:
        if source is not None:
            loop.create_connection = original
        client.disconnect(wait=False)
        await asyncio.sleep(0)


STREAM_HEADER = (b"<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
                 b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")


def first_bytes(port: int, source: str, tls: bool = False) -> bytes:
    """What a new connection from `source` receives before the server closes it (a reset too is 0
    bytes). The client speaks first, so a served connection answers at once: a stream header on a
    plain port; on a direct-TLS port a ClientHello, whose completed handshake returns b"TLS"."""
    with socket.socket() as raw:
        raw.settimeout(TIMEOUT)
        raw.bind((source, 0))
        raw.connect(("127.0.0.1", port))
        try:
            if tls:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                with context.wrap_socket(raw, server_hostname="localhost"):
                    return b"TLS"
            raw.sendall(STREAM_HEADER)
            return raw.recv(1024)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            return b""
        except ssl.SSLError as error:
            # A handshake cut short by the peer's close is reported as EOF by some OpenSSL builds
            # and as an "unexpected eof" protocol error by others: both are 0 bytes.
            return b"" if "EOF" in str(error).upper() else repr(error).encode()


def stop_server(server: subprocess.Popen, results: list[tuple[str, bool, str]]) -> None:
    """SIGTERM, then a bounded wait (SIGKILL past it); the exit status is a result of its own."""
    server.terminate()
    try:
        status = server.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        server.kill()
        status = "killed"
    results.append(("server exits 0 on SIGTERM", status == 0, str(status)))


def report(results: list[tuple[str, bool, str]]) -> int:
    """Prints each result and the totals; the exit status."""
    for name, ok, detail in results:
        print(f"{'PASS' if ok else 'FAIL'}: {name} ({detail})")
    passed = sum(1 for _, ok, _ in results if ok)
    failed = len(results) - passed
    print(f"interop: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


async def main(server_binary: str) -> int:
    port = free_port()
    state = tempfile.mkdtemp(prefix="greylist-interop-")
    config_path = os.path.join(state, "config.json")
    with open(config_path, "w") as config:
        json.dump({"server": {"port": port, "adminSocket": os.path.join(state, "admin.sock")},
                   "greylist": {"stateDirectory": os.path.join(state, "greylist-state"),
                                "rules": [{"name": "botnet", "pattern": "^bad_user_[0-9]{5,}$", "banFor": "4h"}]}}, config)
    server = subprocess.Popen([server_binary, "--config", config_path], stderr=subprocess.PIPE, text=True)
    results: list[tuple[str, bool, str]] = []
    try:
        line = server.stderr.readline()
        if "listening on" not in line:
            print(f"server did not start: {line}")
            return 1
        result = await attempt_login("demo@localhost", "demo-password", port)
        results.append(("demo logs in through bind", result == "session_start", result))
        result = await attempt_login("bad_user_12345@localhost", "wrong", port, source="127.0.0.3")
        results.append(("bad_user_12345 fails to log in from 127.0.0.3", result in ("failed_auth", "disconnected"), result))
        received = first_bytes(port, "127.0.0.3")
        results.append(("next connection from 127.0.0.3 closed before any server byte", received == b"", repr(received)))
        result = await attempt_login("demo@localhost", "demo-password", port, source="127.0.0.2")
        results.append(("demo logs in from 127.0.0.2, outside the ban", result == "session_start", result))
        result = await attempt_login("bad_user_12345@localhost", "wrong", port, source="127.0.0.1")
        results.append(("bad_user_12345 fails to log in from trusted 127.0.0.1", result in ("failed_auth", "disconnected"), result))
        result = await attempt_login("demo@localhost", "demo-password", port, source="127.0.0.1")
        results.append(("demo still logs in from 127.0.0.1 (soft ban)", result == "session_start", result))
    finally:
        stop_server(server, results)
    return report(results)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
