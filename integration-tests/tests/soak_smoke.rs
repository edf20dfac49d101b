//! A one-minute run of the randomized fault soak (`scripts/soak.sh` runs longer ones): every
//! check after every fault passes.

use std::process::Command;

#[test]
fn a_minute_of_random_faults_breaks_nothing() {
    let out = Command::new(env!("CARGO_BIN_EXE_soak"))
        .args(["--seconds", "60", "--seed", "1"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run the soak");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        out.status.success() && last.ends_with(" 0 failed"),
        "soak failed: {last}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
