//! Hessian2 encode/decode throughput beside Caucho's Java implementation in the same run.
//!
//! `cargo bench -p zkdubbo-hessian --bench codec [-- SECONDS]` prints one table: for a typical
//! request object (strings, a list, a map, numbers, a date) and a list of 1,000 of them, ns per
//! object graph, MB/s and the ratio to Caucho (compiled with `javac` against Debian's
//! libhessian-java and run in the JVM after warm-up). Without Java the Caucho column is empty.

include!("shared/codec_body.rs");
