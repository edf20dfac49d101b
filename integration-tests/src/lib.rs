//! Tests and benchmarks of zkdubbo against a real ZooKeeper: the [`harness`] that runs
//! servers, and the [`scale`] benchmark (`scale-bench`).

pub mod harness;
pub mod log_capture;
pub mod scale;
pub mod wait;
