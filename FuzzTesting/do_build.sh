#!/usr/bin/env bash
# Builds every libFuzzer harness (release, with AddressSanitizer) into .build/release/.
set -euo pipefail
cd "$(dirname "$0")"
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library "$@"
