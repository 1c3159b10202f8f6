#!/usr/bin/env bash
# Builds every libFuzzer harness (release, with AddressSanitizer) into .build/release/.
set -euo pipefail
cd "$(dirname "$0")"
# SwiftPM can keep a stale build plan for the root package (a path dependency) after files are
# added to it; planning again is cheap.
rm -f .build/*.yaml
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library "$@"
