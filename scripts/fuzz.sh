#!/usr/bin/env bash
# A long run of the property tests that feed untrusted bytes to the parsers: the Hessian2
# decoder and deserializers (random bytes, mutated valid streams, round trips) and the dubbo://
# parameter-descriptor parser. CI runs the same tests with 512 cases each; this runs
# CASES (default 200000) in release mode. A failure prints the minimal input proptest found.
#
#   scripts/fuzz.sh [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-200000}"
export PROPTEST_CASES="$cases"
echo "fuzz.sh: $cases cases per property" >&2
cargo test --release --locked -p zkdubbo-hessian --test props
cargo test --release --locked -p zkdubbo-dubbo --lib descriptor
