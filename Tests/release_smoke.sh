#!/usr/bin/env bash
# The release build of the demo server, really started: a cluster node against a redis-server of
# its own (loopback, free port, no persistence) must report the shared state available and
# answer an XMPP stream header. Debug builds (the tests) once hid a bug that only release builds
# had (a socket address written through a dangling pointer). Bounded: every wait has a deadline.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product GreylistDemoServer
binary="$(swift build -c release --show-bin-path)/GreylistDemoServer"
work="$(mktemp -d)"
redis_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --logfile "" --protected-mode no > /dev/null &
redis_pid=$!
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2> /dev/null || true
  kill -9 "$redis_pid" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
head -c 32 /dev/urandom | base64 > "$work/cluster.key"
chmod 600 "$work/cluster.key"
cat > "$work/config.json" <<JSON
{"server": {"port": 0, "adminSocket": ""},
 "greylist": {"stateDirectory": "$work/state",
              "cluster": {"redis": "redis://127.0.0.1:$redis_port/0", "namespace": "smoke", "keyFile": "$work/cluster.key"}}}
JSON
"$binary" --config "$work/config.json" 2> "$work/log" &
server_pid=$!
for _ in $(seq 100); do
  grep -q "shared state available" "$work/log" && grep -q "listening on" "$work/log" && break
  sleep 0.1
done
cat "$work/log"
grep -q "shared state available" "$work/log" || { echo "release demo: the Redis link never came up" >&2; exit 1; }
port="$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/log" | head -1)"
python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
data = b""
while b"</stream:features>" not in data:
    chunk = s.recv(4096)
    if not chunk:
        sys.exit("release demo: closed before its stream features")
    data += chunk
print("release demo: stream features received; cluster link up")
PY
