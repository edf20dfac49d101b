#!/usr/bin/env bash
# A long run of the property tests that feed untrusted input to every parser that takes it:
#   Hessian2 decoder and deserializers (random bytes, mutated valid streams, round trips),
#   dubbo:// frames and request/response bodies, parameter descriptors,
#   condition rules and override/condition URLs, the cache file, URLs and node names,
#   gRPC (Triple) frames, application-level discovery's instance nodes and metadata.
# CI runs the same tests with a few hundred cases each; this runs CASES (default 1000000)
# per property in release mode. A failure prints the minimal input proptest found; keep it
# as a regression case.
#
#   scripts/fuzz.sh [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-1000000}"
export PROPTEST_CASES="$cases"
echo "fuzz.sh: $cases cases per property" >&2
start=$(date +%s)
cargo test --release --locked -p zkdubbo-hessian --test props
cargo test --release --locked -p zkdubbo-dubbo --test props
cargo test --release --locked -p zkdubbo-dubbo --lib descriptor
cargo test --release --locked -p zkdubbo-directory --test parser_props
cargo test --release --locked -p zkdubbo-registry --test cache_props
cargo test --release --locked -p zkdubbo-common --lib -- url encoding params
cargo test --release --locked -p zkdubbo-discovery --test props
echo "fuzz.sh: done in $(( $(date +%s) - start )) s, $cases cases per property, no failure" >&2
