//! The codec benchmark (`codec.rs`) with mimalloc as the global allocator: how fast the codec
//! is when allocation costs what it does in an application that chose a faster allocator.
//! Decoding allocates each string, list and map, so the allocator decides much of its speed.
//!
//! `cargo bench -p zkdubbo-hessian --bench codec_mimalloc [-- SECONDS]`

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

include!("shared/codec_body.rs");
