//! Generates the tonic clients and servers of `proto/` (the Greeter, for
//! `tonic-greeter-consumer`; a streaming Counter for the tests), with protox (no `protoc`
//! binary needed) and tonic-prost-build, as a tonic user's build does.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(["proto/greeter.proto", "proto/counter.proto"], ["proto"])?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
