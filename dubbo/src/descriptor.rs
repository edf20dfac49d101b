//! Java parameter types as Dubbo sends them: JVM descriptors (`Ljava/lang/String;I`).

/// The descriptor of Java type names (`java.lang.String`, `int`, `int[]`, `[I`,
/// `java.lang.String[]`), concatenated as Dubbo's `ReflectUtils.getDesc(Class[])` does.
///
/// ```
/// assert_eq!(zkdubbo_dubbo::descriptor(&["java.lang.String", "int", "long[]"]), "Ljava/lang/String;I[J");
/// ```
pub fn descriptor<S: AsRef<str>>(types: &[S]) -> String {
    types.iter().map(|t| one(t.as_ref())).collect()
}

fn one(ty: &str) -> String {
    if let Some(inner) = ty.strip_suffix("[]") {
        return format!("[{}", one(inner));
    }
    if ty.starts_with('[') {
        // Already a JVM array name (`[I`, `[Ljava.lang.String;`).
        return ty.replace('.', "/");
    }
    match ty {
        "boolean" => "Z".into(),
        "byte" => "B".into(),
        "char" => "C".into(),
        "short" => "S".into(),
        "int" => "I".into(),
        "long" => "J".into(),
        "float" => "F".into(),
        "double" => "D".into(),
        "void" => "V".into(),
        _ => format!("L{};", ty.replace('.', "/")),
    }
}

/// The Java type names of a descriptor (`[I` → `int[]`), or `None` when it is malformed.
///
/// ```
/// assert_eq!(
///     zkdubbo_dubbo::parse_descriptor("Ljava/lang/String;I[J").unwrap(),
///     ["java.lang.String", "int", "long[]"]
/// );
/// ```
pub fn parse_descriptor(desc: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let b = desc.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while b.get(i) == Some(&b'[') {
            i += 1;
        }
        let dims = i - start;
        let base = match *b.get(i)? {
            b'Z' => "boolean".to_owned(),
            b'B' => "byte".to_owned(),
            b'C' => "char".to_owned(),
            b'S' => "short".to_owned(),
            b'I' => "int".to_owned(),
            b'J' => "long".to_owned(),
            b'F' => "float".to_owned(),
            b'D' => "double".to_owned(),
            b'L' => {
                let end = i + desc[i..].find(';')?;
                let name = desc[i + 1..end].replace('/', ".");
                i = end;
                name
            }
            _ => return None,
        };
        i += 1;
        out.push(format!("{base}{}", "[]".repeat(dims)));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generic_invoke_descriptor() {
        assert_eq!(
            descriptor(&["java.lang.String", "java.lang.String[]", "java.lang.Object[]"]),
            "Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/Object;"
        );
        assert_eq!(parse_descriptor("").unwrap(), Vec::<String>::new());
        assert!(parse_descriptor("Ljava/lang/String").is_none());
        assert!(parse_descriptor("Q").is_none());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse_descriptor(&s);
        }

        #[test]
        fn round_trip(types in proptest::collection::vec(
            prop_oneof![Just("int".to_owned()), Just("long[]".to_owned()), "[a-z]{1,5}(\\.[A-Z][a-z]{1,5}){1,2}(\\[\\]){0,2}"], 0..5)) {
            prop_assert_eq!(parse_descriptor(&descriptor(&types)).unwrap(), types);
        }
    }
}
