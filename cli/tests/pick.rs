//! `zkdubbo pick` end to end: the binary on a temporary providers file.

use std::io::Write;
use std::process::Command;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(text.as_bytes()).expect("write");
    path
}

fn pick(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zkdubbo"))
        .arg("pick")
        .args(args)
        .output()
        .expect("run zkdubbo");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn consistenthash_keys_map_to_the_known_hosts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let providers: String = std::iter::once("# five providers\n\n".to_string())
        .chain((1..=5).map(|i| format!("dubbo://10.0.0.{i}:20880/com.foo.Bar?side=provider\n")))
        .collect();
    let providers = write(&dir, "providers.txt", &providers);
    let keys = write(&dir, "keys.txt", "user-1\nalice\nbob\n42\nuser-1\n");
    let (ok, stdout, stderr) = pick(&[
        "--providers",
        providers.to_str().expect("utf-8 path"),
        "--strategy",
        "consistenthash",
        "--keys",
        keys.to_str().expect("utf-8 path"),
    ]);
    assert!(ok, "{stderr}");
    // Computed from the Ketama algorithm (MD5, 160 points per address).
    assert_eq!(
        stdout,
        "10.0.0.3:20880\n10.0.0.1:20880\n10.0.0.5:20880\n10.0.0.2:20880\n10.0.0.3:20880\n"
    );
}

#[test]
fn roundrobin_follows_dubbos_sequence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let providers = write(
        &dir,
        "providers.txt",
        "dubbo://10.0.0.1:20880/S?weight=5\ndubbo://10.0.0.2:20880/S?weight=1\ndubbo://10.0.0.3:20880/S?weight=1\n",
    );
    let (ok, stdout, stderr) = pick(&[
        "--providers",
        providers.to_str().expect("utf-8 path"),
        "--strategy",
        "roundrobin",
        "--count",
        "7",
    ]);
    assert!(ok, "{stderr}");
    let hosts: Vec<&str> = stdout.lines().map(|l| l.trim_end_matches(":20880")).collect();
    assert_eq!(
        hosts,
        [
            "10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.3", "10.0.0.1", "10.0.0.1"
        ]
    );
}

#[test]
fn seeded_random_is_reproducible_and_honours_weight_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let providers = write(
        &dir,
        "providers.txt",
        "dubbo://10.0.0.1:20880/S?weight=0\ndubbo://10.0.0.2:20880/S?weight=10\ndubbo://10.0.0.3:20880/S?weight=30\n",
    );
    let path = providers.to_str().expect("utf-8 path");
    let args = ["--providers", path, "--count", "200", "--seed", "9"];
    let (ok, first, stderr) = pick(&args);
    assert!(ok, "{stderr}");
    let (_, second, _) = pick(&args);
    assert_eq!(first, second);
    assert_eq!(first.lines().count(), 200);
    assert!(!first.contains("10.0.0.1:"));
    let heavy = first.lines().filter(|l| *l == "10.0.0.3:20880").count();
    assert!((120..=180).contains(&heavy), "{heavy}");
}

#[test]
fn bad_lines_and_names_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let providers = write(&dir, "providers.txt", "dubbo://10.0.0.1:20880/S\n# ok\nnot a url\n");
    let (ok, _, stderr) = pick(&["--providers", providers.to_str().expect("utf-8 path")]);
    assert!(!ok);
    assert!(stderr.contains("line 3"), "{stderr}");

    let providers = write(&dir, "good.txt", "dubbo://10.0.0.1:20880/S\n");
    let (ok, _, stderr) = pick(&[
        "--providers",
        providers.to_str().expect("utf-8 path"),
        "--strategy",
        "fastest",
    ]);
    assert!(!ok);
    assert!(stderr.contains("unknown load balance"), "{stderr}");
}
