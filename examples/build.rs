//! Generates the tonic client of `proto/greeter.proto` for `tonic-greeter-consumer`, with
//! protox (no `protoc` binary needed) and tonic-prost-build, as a tonic user's build does.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/greeter.proto");
    let descriptors = protox::compile(["proto/greeter.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(false)
        .compile_fds(descriptors)?;
    Ok(())
}
