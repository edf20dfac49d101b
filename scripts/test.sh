#!/usr/bin/env bash
# Every check and test of the workspace, from a fresh clone.
#
# Installs ZooKeeper and Java from Debian's packages when they are missing (integration tests
# start their own throwaway servers on 127.0.0.1, or use ZK_ADDR when it is set), then runs
# rustfmt, clippy, the API docs (warnings denied), the packaging of every publishable crate,
# and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/zk.sh install
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
# Every crate a user can depend on must package (metadata, versions on path dependencies).
cargo package --no-verify --locked --allow-dirty --quiet \
    -p zkdubbo -p zkdubbo-common -p zkdubbo-registry -p zkdubbo-directory -p zkdubbo-loadbalance \
    -p zkdubbo-cluster -p zkdubbo-triple -p zkdubbo-cli
cargo test --workspace --locked
