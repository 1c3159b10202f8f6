#!/usr/bin/env bash
# Applies a list of deliberate bugs, one at a time, to a scratch copy of the package
# (.build-mutants/) and runs the whole suite against each; prints which bugs it caught.
# Not run by CI: about a minute per mutant on 2 cores. See Tests/Mutants/mutants.py for the list.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 Tests/Mutants/mutants.py "$@"
