//! Skeleton; filled by a later issue.

pub mod harness;
