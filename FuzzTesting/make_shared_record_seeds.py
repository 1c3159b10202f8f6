#!/usr/bin/env python3
"""Writes FuzzTesting/Corpus/FuzzSharedRecord from the format in SharedRecord.swift, encoded here
independently (Python's hmac and hashlib): a test decodes every seed, so the format's documentation,
this encoder and the Swift decoder cannot drift apart. The key is the tests' and the harness's."""
import hashlib
import hmac
import os

KEY = b"greylist-test-cluster-key-0123456789"
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Corpus", "FuzzSharedRecord")


def value(network: str, body: str) -> bytes:
    tag = hmac.new(KEY, f"g2 {network} {body}".encode(), hashlib.sha256).hexdigest()
    return f"g2 {tag} {body}".encode()


def message(node: str, network: str, body: str) -> bytes:
    return f"{node} {network} ".encode() + value(network, body)


SEEDS = {
    # An even first byte: a channel message; an odd one: a value stored under 192.0.2.1/32.
    "message-ban-manual": b"\x00" + message("node-1", "2001:db8::/64", "b 1800000000000 1800003600000 3 m =abuse%20desk -"),
    "message-ban-rule": b"\x00" + message("node-2", "203.0.113.7/32", "b 1800000000000 1800000600000 1 r =botnet =bad_user_12345"),
    "message-distrust": b"\x00" + message("n", "198.51.100.4/32", "d"),
    "message-failure": b"\x00" + message("node-3", "203.0.113.7/32", "f 1800000000000 =slow =admin"),
    "message-trust": b"\x00" + message("node-1", "198.51.100.4/32", "t 1800000000000"),
    "message-unban": b"\x00" + message("node-1", "192.0.2.0/24", "u 1800000000000"),
    "value-ban": b"\x01" + value("192.0.2.1/32", "b 1800000000000 1800003600000 2 r =botnet =bad_user_54321"),
    "value-trust": b"\x01" + value("192.0.2.1/32", "t 1800000000000"),
    "message-account": b"\x00" + message("node-1", "198.51.100.4/32", "a 1800000000000 =alice"),
    "value-blocked": b"\x01" + value("192.0.2.1/32", "l 1800000000000 =b%C3%B6b%20smith"),
}

if __name__ == "__main__":
    os.makedirs(HERE, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(HERE, name), "wb") as seed:
            seed.write(data)
    print(f"wrote {len(SEEDS)} seeds to {HERE}")
