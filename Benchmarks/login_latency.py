"""Full-login latency against a demo server binary: connect, PLAIN, restart, bind. Loopback only."""
import base64, socket, subprocess, sys, time, statistics, os, tempfile, json

def run(binary, n=30):
    state = tempfile.mkdtemp()
    cfg = os.path.join(state, "c.json")
    json.dump({"server": {"port": 0, "adminSocket": ""}, "greylist": {"stateDirectory": ""}}, open(cfg, "w"))
    p = subprocess.Popen([binary, "--config", cfg, "--port", "0"], stderr=subprocess.PIPE, text=True)
    port = None
    deadline = time.time() + 20
    while time.time() < deadline:
        line = p.stderr.readline()
        if "listening on" in line:
            port = int(line.split("listening on ")[1].split(" ")[0].rsplit(":", 1)[1]); break
    assert port
    header = b"<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
    auth = base64.b64encode(b"\0demo\0demo-password").decode()
    def until(s, marker):
        data = b""
        while marker not in data:
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        return data
    times = []
    for _ in range(n):
        start = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(header); until(s, b"</stream:features>")
        s.sendall(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{auth}</auth>".encode()); until(s, b"/>")
        s.sendall(header); until(s, b"</stream:features>")
        s.sendall(b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>"); until(s, b"</iq>")
        times.append((time.perf_counter() - start) * 1000)
        s.close()
    p.terminate(); p.wait(timeout=10)
    return times

for name, binary in zip(sys.argv[1::2], sys.argv[2::2]):
    t = sorted(run(binary))
    print(f"{name}: {len(t)} logins, p50 {statistics.median(t):.2f} ms, p90 {t[int(len(t)*0.9)]:.2f} ms, max {t[-1]:.2f} ms")
