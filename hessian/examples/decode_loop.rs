//! The codec benchmark's list of 1,000 orders decoded N times, alone in a process: what
//! BENCHMARKS.md's instruction counts and time breakdowns of decoding were measured on.
//!
//! `cargo build --profile bench -p zkdubbo-hessian --example decode_loop`, then e.g.
//! `valgrind --tool=callgrind target/release/examples/decode_loop 12` (and `2`: the difference
//! divided by 10,000 is the instructions per order), or `perf record -g … decode_loop 3000`.
//! A second argument decodes into borrowed `&str` fields instead of `String`s.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

include!("../benches/shared/order.rs");

fn main() -> Result<(), zkdubbo_hessian::Error> {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let borrowed = std::env::args().nth(2).is_some();
    let orders: Vec<Order> = (0..1000).map(order).collect();
    let bytes = zkdubbo_hessian::to_bytes(&orders)?;
    let mut decoded = 0;
    for _ in 0..rounds {
        decoded += if borrowed {
            zkdubbo_hessian::from_slice::<Vec<OrderRef<'_>>>(std::hint::black_box(&bytes))?.len()
        } else {
            zkdubbo_hessian::from_slice::<Vec<Order>>(std::hint::black_box(&bytes))?.len()
        };
    }
    println!("{decoded} orders decoded");
    Ok(())
}
