#!/usr/bin/env bash
# The randomized fault soak: a 3-node ZooKeeper ensemble, three providers and two consumers in
# processes of their own (one consumer behind a proxy per server), calls every 20 ms, and a
# seeded schedule of faults: kill/restart, SIGSTOP/SIGCONT or wipe a server; SIGSTOP (past the
# session timeout or not) or kill -9 and restart a provider; partition the proxied consumer
# (refused, dropped or frozen connections); delete a provider's node by hand; write hostile
# rules. After each heal it checks that every live provider is registered within 3 s, that
# every consumer's view equals ZooKeeper's within 2 s (plus the consumers' 250 ms report
# interval) and that no process crashed, and reports the calls that failed and why. The last
# line is `N passed, M failed`; the exit status is non-zero when a check failed.
#
#   scripts/soak.sh [--seconds N] [--seed S]      (default 60 s, seed 1)
#
# CI runs a 60 s smoke version (integration-tests/tests/soak_smoke.rs); RELIABILITY.md has a
# 10-minute run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/zk.sh install
cargo build --release --locked -p zkdubbo-integration-tests --bin soak
exec "${CARGO_TARGET_DIR:-target}/release/soak" "$@"
