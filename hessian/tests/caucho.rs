//! Byte-for-byte agreement with Java: Caucho's Hessian (Debian's libhessian-java, the
//! implementation Dubbo's hessian-lite forked) writes golden vectors that we decode and must
//! reproduce exactly, and reads what we write into the same Java objects as its own bytes.
//!
//! Needs `javac` and `/usr/share/java/hessian.jar` (`scripts/zk.sh install` installs both).

use std::path::{Path, PathBuf};
use std::process::Command;

use zkdubbo_hessian::{JavaException, List, Map, Object, Value};

const JAR: &str = "/usr/share/java/hessian.jar";
/// Java 17 keeps java.base closed to reflection; Caucho (like Dubbo on 17) needs it open.
const OPENS: [&str; 6] = [
    "--add-opens",
    "java.base/java.lang=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.util=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.math=ALL-UNNAMED",
];

/// Compiles Vectors.java once per test binary (tests run in parallel).
fn java_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(compile).clone()
}

fn compile() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hessian-vectors");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java");
    assert!(
        Path::new(JAR).exists(),
        "{JAR} is missing: install Debian's libhessian-java (scripts/zk.sh install does)"
    );
    let classes = dir.join("classes");
    std::fs::create_dir_all(&classes).unwrap();
    let status = Command::new("javac")
        .args(["-d", classes.to_str().unwrap(), "-cp", JAR])
        .arg(src.join("Vectors.java"))
        .arg(src.join("com/example/User.java"))
        .arg(src.join("com/example/Color.java"))
        .status()
        .expect("javac is missing: install a JDK (scripts/zk.sh install does)");
    assert!(status.success(), "javac failed");
    dir
}

fn run_java(dir: &Path, mode: &str, data: &Path) -> String {
    let cp = format!("{}:{JAR}", dir.join("classes").display());
    let out = Command::new("java")
        .args(OPENS)
        .args(["-cp", &cp, "Vectors", mode, data.to_str().unwrap()])
        .output()
        .expect("java");
    assert!(
        out.status.success(),
        "java {mode}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7) as u8).collect()
}

fn user(name: &str, age: i32, tags: &[&str], created: Option<i64>) -> Value {
    Object::new("com.example.User")
        .field("name", name)
        .field("age", age)
        .field("tags", List::untyped(tags.iter().map(|t| Value::from(*t)).collect()))
        .field("created", created.map_or(Value::Null, Value::Date))
        .into()
}

/// The cases of Vectors.java, as values; `exact` when our bytes must equal Java's.
fn cases() -> Vec<(String, Value, bool)> {
    let mut c: Vec<(String, Value, bool)> = Vec::new();
    let mut put = |name: &str, v: Value| c.push((name.to_owned(), v, true));
    put("null", Value::Null);
    put("true", Value::Bool(true));
    put("false", Value::Bool(false));
    for i in [
        0,
        -16,
        47,
        -17,
        48,
        -2048,
        2047,
        -2049,
        2048,
        -262144,
        262143,
        -262145,
        262144,
        i32::MIN,
        i32::MAX,
    ] {
        put(&format!("int_{i}"), Value::Int(i));
    }
    let longs = [
        0,
        -8,
        15,
        -9,
        16,
        -2048,
        2047,
        -2049,
        2048,
        -262144,
        262143,
        -262145,
        262144,
        i64::from(i32::MIN),
        i64::from(i32::MAX),
        i64::from(i32::MIN) - 1,
        i64::from(i32::MAX) + 1,
        i64::MIN,
        i64::MAX,
    ];
    for l in longs {
        put(&format!("long_{l}"), Value::Long(l));
    }
    let doubles = [
        0.0,
        1.0,
        127.0,
        -128.0,
        128.0,
        -129.0,
        32767.0,
        -32768.0,
        32768.0,
        -32769.0,
        12.25,
        0.001,
        -2.5,
        3.15,
        1.5e300,
        f64::from(3.1f32),
        f64::NAN,
        f64::INFINITY,
        -0.0,
        2147483.647,
        2147483.648,
    ];
    for (i, d) in doubles.into_iter().enumerate() {
        put(&format!("double_{i}"), Value::Double(d));
    }
    put("string_empty", "".into());
    put("string_a", "a".into());
    put("string_31", "x".repeat(31).into());
    put("string_32", "x".repeat(32).into());
    put("string_1023", "y".repeat(1023).into());
    put("string_1024", "y".repeat(1024).into());
    put("string_32768", "z".repeat(32768).into());
    put("string_32769", "z".repeat(32769).into());
    put("string_70000", "w".repeat(70000).into());
    put("string_unicode", "h\u{e9}llo \u{4e2d}\u{6587} \u{1f600}!".into());
    put("string_emoji_31", format!("{}a", "\u{1f600}".repeat(15)).into());
    put(
        "string_pair_at_chunk",
        format!("{}\u{1f600}b", "a".repeat(32767)).into(),
    );
    for n in [0, 15, 16, 1023, 1024, 4000] {
        put(&format!("binary_{n}"), Value::Binary(bytes(n)));
    }
    put("date_minutes", Value::Date(1_700_000_040_000));
    put("date_ms", Value::Date(1_700_000_040_123));
    put("date_negative", Value::Date(-1));
    put("list_ints", List::untyped(vec![1.into(), 2.into(), 3.into()]).into());
    put(
        "list_nine",
        List::untyped("abcdefghi".chars().map(|c| Value::from(c.to_string())).collect()).into(),
    );
    put(
        "array_int",
        List::typed("[int", vec![1.into(), 2.into(), 300.into()]).into(),
    );
    put(
        "array_string",
        List::typed("[string", vec!["a".into(), Value::Null, "c".into()]).into(),
    );
    put(
        "array_long_9",
        List::typed("[long", (1..=9).map(Value::Long).collect()).into(),
    );
    put("list_empty", List::untyped(vec![]).into());
    put("map_hash", Map::untyped(vec![("k".into(), 1.into())]).into());
    put(
        "map_tree",
        Map {
            r#type: Some("java.util.TreeMap".into()),
            entries: vec![("a".into(), Value::Long(1)), ("b".into(), "two".into())],
        }
        .into(),
    );
    put("map_int_keys", Map::untyped(vec![(7.into(), "seven".into())]).into());
    let ada = user("Ada", 36, &["math", "engines"], Some(1_700_000_000_000));
    put("pojo", ada.clone());
    put(
        "pojo_list",
        List::untyped(vec![ada.clone(), user("Bob", 7, &[], None)]).into(),
    );
    put("pojo_shared", List::untyped(vec![ada, Value::Ref(1)]).into());
    put("list_self", List::untyped(vec!["me".into(), Value::Ref(0)]).into());
    put("enum", Object::new("com.example.Color").field("name", "GREEN").into());
    // BigInteger through its serde type: the bytes must be Java's.
    for (name, n) in [
        ("big_integer", "-123456789012345678901234567890"),
        ("big_integer_zero", "0"),
    ] {
        let big: zkdubbo_hessian::BigInteger = n.parse().unwrap();
        put(
            name,
            zkdubbo_hessian::decode(&zkdubbo_hessian::to_bytes(&big).unwrap()).unwrap(),
        );
    }
    let e = |class: &str, message: &str, cause: Option<JavaException>| JavaException {
        class: class.into(),
        message: Some(message.into()),
        cause: cause.map(Box::new),
    };
    // Java writes the stack trace and suppressed list; we write an empty trace: not exact.
    c.push((
        "exception".into(),
        e("java.lang.IllegalArgumentException", "bad name", None).to_value(),
        false,
    ));
    c.push((
        "exception_cause".into(),
        e(
            "java.lang.IllegalStateException",
            "outer",
            Some(e("java.lang.ArithmeticException", "inner", None)),
        )
        .to_value(),
        false,
    ));
    c
}

/// Equality with doubles compared by bits (NaN equals NaN; 0.0 and -0.0 differ).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => x.to_bits() == y.to_bits(),
        (Value::List(x), Value::List(y)) => {
            x.r#type == y.r#type
                && x.items.len() == y.items.len()
                && x.items.iter().zip(&y.items).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.class == y.class
                && x.fields.len() == y.fields.len()
                && x.fields
                    .iter()
                    .zip(&y.fields)
                    .all(|((n, a), (m, b))| n == m && same(a, b))
        }
        _ => a == b,
    }
}

#[test]
fn agrees_with_caucho_both_ways() {
    let dir = java_dir();
    let theirs = dir.join("java");
    let ours = dir.join("rust");
    let _ = std::fs::remove_dir_all(&ours);
    std::fs::create_dir_all(&ours).unwrap();
    run_java(&dir, "write", &theirs);

    let mut compared = 0;
    for (name, value, exact) in cases() {
        let java = std::fs::read(theirs.join(format!("{name}.bin"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let decoded = zkdubbo_hessian::decode(&java).unwrap_or_else(|e| panic!("{name}: decoding Java's bytes: {e}"));
        let mine = zkdubbo_hessian::encode(&value).unwrap();
        if exact {
            // -0.0: Java writes the 0.0 form, so the value read back is +0.0.
            let expected = match &value {
                Value::Double(d) if *d == 0.0 => Value::Double(0.0),
                v => v.clone(),
            };
            assert!(
                same(&decoded, &expected),
                "{name}: Java's bytes decode to {decoded:?}, expected {expected:?}"
            );
            assert!(
                mine == java,
                "{name}: our bytes differ from Java's\n ours: {mine:02x?}\njava: {java:02x?}"
            );
        } else {
            let stream = std::slice::from_ref(&decoded);
            let got = JavaException::from_value(&decoded, stream).unwrap();
            let want = JavaException::from_value(&value, std::slice::from_ref(&value)).unwrap();
            assert_eq!(got, want, "{name}: the exception read from Java's bytes");
        }
        std::fs::write(ours.join(format!("{name}.bin")), &mine).unwrap();
        compared += 1;
    }
    assert!(compared > 90, "only {compared} cases");

    // Java reads our bytes into the same objects as its own.
    let java_view = run_java(&dir, "read", &theirs);
    let our_view = run_java(&dir, "read", &ours);
    let java_lines: Vec<&str> = java_view.lines().filter(|l| !l.starts_with("big_decimal")).collect();
    let our_lines: Vec<&str> = our_view.lines().collect();
    assert_eq!(java_lines.len(), our_lines.len());
    for (j, o) in java_lines.iter().zip(&our_lines) {
        assert!(!o.contains("\tERROR"), "Java could not read our bytes: {o}");
        assert_eq!(j, o, "Java reads our bytes differently from its own");
    }
}

/// Caucho 4.0.38 writes a BigDecimal by reflection (and loses its value on Java 17); Dubbo's
/// hessian-lite, the one on the wire, writes an object with one field `value`. We follow
/// hessian-lite: these bytes are what its StringValueSerializer produces.
#[test]
fn big_decimal_is_hessian_lite_s() {
    let bytes = zkdubbo_hessian::to_bytes(&zkdubbo_hessian::BigDecimal::new("12.50")).unwrap();
    let mut want = vec![b'C', 0x14];
    want.extend_from_slice(b"java.math.BigDecimal");
    want.extend_from_slice(&[0x91, 0x05]);
    want.extend_from_slice(b"value");
    want.extend_from_slice(&[0x60, 0x05]);
    want.extend_from_slice(b"12.50");
    assert_eq!(bytes, want);
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename = "com.example.User")]
struct User {
    name: String,
    age: i32,
    tags: Vec<String>,
    created: Option<zkdubbo_hessian::Date>,
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename = "com.example.Color")]
enum Color {
    #[serde(rename = "RED")]
    Red,
    #[serde(rename = "GREEN")]
    Green,
}

#[test]
fn serde_types_read_java_s_objects_and_write_java_s_bytes() {
    let dir = java_dir();
    let theirs = dir.join("java-serde");
    run_java(&dir, "write", &theirs);
    let read = |name: &str| std::fs::read(theirs.join(format!("{name}.bin"))).unwrap();
    let ada = User {
        name: "Ada".into(),
        age: 36,
        tags: vec!["math".into(), "engines".into()],
        created: Some(zkdubbo_hessian::Date(1_700_000_000_000)),
    };
    assert_eq!(zkdubbo_hessian::from_slice::<User>(&read("pojo")).unwrap(), ada);
    // The second element is a reference to the first.
    let shared: Vec<User> = zkdubbo_hessian::from_slice(&read("pojo_shared")).unwrap();
    assert_eq!(shared, [ada.clone(), ada.clone()]);
    assert_eq!(
        zkdubbo_hessian::from_slice::<Color>(&read("enum")).unwrap(),
        Color::Green
    );
    assert_eq!(zkdubbo_hessian::from_slice::<i64>(&read("long_-2049")).unwrap(), -2049);
    assert_eq!(
        zkdubbo_hessian::from_slice::<Vec<i32>>(&read("array_int")).unwrap(),
        [1, 2, 300]
    );
    // Our serde bytes are Java's bytes.
    assert_eq!(zkdubbo_hessian::to_bytes(&ada).unwrap(), read("pojo"));
    assert_eq!(zkdubbo_hessian::to_bytes(&Color::Green).unwrap(), read("enum"));
    let bob = User {
        name: "Bob".into(),
        age: 7,
        tags: vec![],
        created: None,
    };
    assert_eq!(zkdubbo_hessian::to_bytes(&vec![&ada, &bob]).unwrap(), read("pojo_list"));
    let big: zkdubbo_hessian::BigInteger = zkdubbo_hessian::from_slice(&read("big_integer")).unwrap();
    assert_eq!(big.to_string(), "-123456789012345678901234567890");
    let cause = JavaException::from_value(&zkdubbo_hessian::decode(&read("exception_cause")).unwrap(), &[]);
    assert_eq!(
        cause.map(|e| e.to_string()).as_deref(),
        Some("java.lang.IllegalStateException: outer; caused by java.lang.ArithmeticException: inner")
    );
}
