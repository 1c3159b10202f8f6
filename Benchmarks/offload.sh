#!/usr/bin/env bash
# Whole-machine CPU per refused attempt: user-space refusal vs kernel offload (nftables), in one
# run, inside a network namespace this script creates and deletes (root, nftables, iproute2).
#   ./offload.sh [ATTEMPTS]   (default 60000 per scenario)
set -euo pipefail
cd "$(dirname "$0")"
rm -f .build/*.yaml
swift build -c release --package-path .. --product GreylistDemoServer
swift build -c release --product GreylistLoad
namespace="greylist-bench-$$"
ip netns add "$namespace"
trap 'ip netns delete "$namespace"' EXIT
ip -n "$namespace" link set lo up
ip netns exec "$namespace" .build/release/GreylistLoad --offload --server "$(cd .. && swift build -c release --show-bin-path)/GreylistDemoServer" \
  --connections "${1:-60000}" --seconds 30 --threads 2
