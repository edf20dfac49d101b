//! Generates the tonic clients and servers of `proto/` (the Greeter, for
//! `tonic-greeter-consumer`; the streaming Counter of `counter-provider`/`counter-consumer`),
//! with their zkdubbo bindings, as a zkdubbo user's build does: `zkdubbo-build` runs protox
//! (no `protoc` binary needed) and tonic-prost-build.

fn main() -> Result<(), zkdubbo_build::Error> {
    zkdubbo_build::compile_protos(&["proto/greeter.proto", "proto/counter.proto"], &["proto"])
}
