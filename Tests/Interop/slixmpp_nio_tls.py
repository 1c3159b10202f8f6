#!/usr/bin/env python3
"""Interop test: slixmpp (unmodified, at its defaults but for certificate verification, since the
example's certificate is self-signed) against the SwiftNIO example server.

1. logs in through STARTTLS (RFC 6120 §5) on the plain port;
2. logs in through direct TLS (XEP-0368) on the TLS port;
3. fails a login as bad_user_12345 from 127.0.0.3 (over STARTTLS), which the rule bans;
4. the next connection from 127.0.0.3 is closed before the server sends a byte, on both ports
   (before any TLS handshake);
5. a client from 127.0.0.2 still logs in through direct TLS.

Usage: slixmpp_nio_tls.py PATH/TO/GreylistNIOExample
Loopback only, every wait bounded; prints 'N passed, N failed' and exits non-zero on failure.
"""
import asyncio
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from slixmpp_interop import attempt_login, first_bytes, report, stop_server  # noqa: E402


async def main(binary: str) -> int:
    server = subprocess.Popen([binary, "--port", "0", "--tls-port", "0"], stderr=subprocess.PIPE, text=True)
    results: list[tuple[str, bool, str]] = []
    try:
        ports = None
        for _ in range(20):
            line = server.stderr.readline()
            found = re.search(r"listening on 127\.0\.0\.1:(\d+) \(STARTTLS\) and 127\.0\.0\.1:(\d+) \(direct TLS\)", line)
            if found:
                ports = (int(found.group(1)), int(found.group(2)))
                break
        if ports is None:
            print("the example server did not start")
            return 1
        plain, direct = ports
        result = await attempt_login("demo@localhost", "demo-password", plain, transport="starttls")
        results.append(("demo logs in through STARTTLS", result == "session_start", result))
        result = await attempt_login("demo@localhost", "demo-password", direct, transport="direct")
        results.append(("demo logs in through direct TLS", result == "session_start", result))
        result = await attempt_login("bad_user_12345@localhost", "wrong", plain, transport="starttls", source="127.0.0.3")
        results.append(("bad_user_12345 fails to log in from 127.0.0.3", result in ("failed_auth", "disconnected"), result))
        for name, port in (("STARTTLS", plain), ("direct TLS", direct)):
            received = first_bytes(port, "127.0.0.3")
            results.append((f"next connection from 127.0.0.3 to the {name} port gets 0 bytes", received == b"", repr(received)))
        result = await attempt_login("demo@localhost", "demo-password", direct, transport="direct", source="127.0.0.2")
        results.append(("demo logs in from 127.0.0.2 through direct TLS", result == "session_start", result))
    finally:
        stop_server(server, results)
    return report(results)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
