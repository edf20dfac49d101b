#!/usr/bin/env bash
# Every check and test of the workspace, from a fresh clone.
#
# Installs ZooKeeper and Java from Debian's packages when they are missing (integration tests
# start their own throwaway servers on 127.0.0.1, or use ZK_ADDR when it is set), then runs
# rustfmt, clippy and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/zk.sh install
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
