// The codec benchmark, shared by codec.rs and codec_mimalloc.rs (see their docs).

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

include!("order.rs");

/// ns per call of `f`, measured for `time` after as long a warm-up.
fn measure(time: Duration, mut f: impl FnMut() -> usize) -> f64 {
    let mut sink = 0usize;
    let mut result = 0.0;
    for _ in 0..2 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < time {
            for _ in 0..16 {
                sink = sink.wrapping_add(f());
            }
            n += 16;
        }
        result = start.elapsed().as_nanos() as f64 / n as f64;
    }
    black_box(sink);
    result
}

fn caucho(millis: u64) -> BTreeMap<(String, String), f64> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hessian-bench");
    let jar = "/usr/share/java/hessian.jar";
    let _ = std::fs::create_dir_all(&out);
    let compiled = Command::new("javac")
        .args(["-d", out.to_str().unwrap_or("."), "-cp", jar])
        .arg(src.join("Bench.java"))
        .arg(src.join("com/example/Order.java"))
        .status()
        .is_ok_and(|s| s.success());
    if !compiled {
        eprintln!("codec bench: javac or {jar} missing; Caucho not measured");
        return BTreeMap::new();
    }
    let cp = format!("{}:{jar}", out.display());
    let Ok(run) = Command::new("java")
        .args([
            "--add-opens",
            "java.base/java.lang=ALL-UNNAMED",
            "--add-opens",
            "java.base/java.util=ALL-UNNAMED",
        ])
        .args(["-cp", &cp, "Bench", &millis.to_string()])
        .output()
    else {
        return BTreeMap::new();
    };
    String::from_utf8_lossy(&run.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some(((f.first()?.to_string(), f.get(1)?.to_string()), f.get(2)?.parse().ok()?))
        })
        .collect()
}

fn main() {
    let secs: f64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1.0);
    let time = Duration::from_secs_f64(secs);
    let java = caucho(time.as_millis() as u64);

    let one = order(1);
    let many: Vec<Order> = (0..1000).map(order).collect();
    let one_bytes = zkdubbo_hessian::to_bytes(&one).unwrap();
    let many_bytes = zkdubbo_hessian::to_bytes(&many).unwrap();

    let rows: Vec<(&str, &str, usize, f64)> = vec![
        (
            "order",
            "encode",
            one_bytes.len(),
            measure(time, || zkdubbo_hessian::to_bytes(black_box(&one)).unwrap().len()),
        ),
        (
            "order",
            "decode",
            one_bytes.len(),
            measure(time, || {
                zkdubbo_hessian::from_slice::<Order>(black_box(&one_bytes))
                    .unwrap()
                    .items
                    .len()
            }),
        ),
        (
            "orders_1000",
            "encode",
            many_bytes.len(),
            measure(time, || zkdubbo_hessian::to_bytes(black_box(&many)).unwrap().len()),
        ),
        (
            "orders_1000",
            "decode",
            many_bytes.len(),
            measure(time, || {
                zkdubbo_hessian::from_slice::<Vec<Order>>(black_box(&many_bytes))
                    .unwrap()
                    .len()
            }),
        ),
        (
            "orders_1000",
            "decode borrowed",
            many_bytes.len(),
            measure(time, || {
                zkdubbo_hessian::from_slice::<Vec<OrderRef<'_>>>(black_box(&many_bytes))
                    .unwrap()
                    .len()
            }),
        ),
        (
            "orders_1000",
            "decode Value",
            many_bytes.len(),
            measure(time, || {
                usize::from(zkdubbo_hessian::decode(black_box(&many_bytes)).is_ok())
            }),
        ),
    ];

    println!("| case | op | bytes | zkdubbo ns | zkdubbo MB/s | objects/s | Caucho ns | ratio (Caucho ns / ours) |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for (case, op, bytes, ns) in rows {
        let objects = if case == "order" { 1.0 } else { 1000.0 };
        // Every way of decoding is compared with Caucho's one way.
        let java_op = op.split(' ').next().unwrap_or(op);
        let caucho = java.get(&(case.to_owned(), java_op.to_owned()));
        println!(
            "| {case} | {op} | {bytes} | {ns:.0} | {:.0} | {:.0} | {} | {} |",
            bytes as f64 / ns * 1e3,
            objects / ns * 1e9,
            caucho.map_or("-".into(), |c| format!("{c:.0}")),
            caucho.map_or("-".into(), |c| format!("{:.2}", c / ns)),
        );
    }
}
