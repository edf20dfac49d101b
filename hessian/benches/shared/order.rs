// The benchmark's order, shared by the codec benchmarks (through codec_body.rs) and the
// decode loop example (what BENCHMARKS.md's instruction counts were measured on).

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename = "com.example.Order")]
struct Order {
    id: String,
    customer: String,
    items: Vec<String>,
    // A HashMap, as Caucho reads the Java side's `Map` into a `java.util.HashMap`.
    attrs: HashMap<String, String>,
    total: i64,
    price: f64,
    created: Option<zkdubbo_hessian::Date>,
}

/// The same order read without copying its strings: what a Rust consumer can do that a Java
/// one cannot.
#[derive(Debug, Deserialize)]
#[serde(rename = "com.example.Order")]
#[allow(dead_code)] // read to be decoded, never looked at
struct OrderRef<'a> {
    id: &'a str,
    customer: &'a str,
    #[serde(borrow)]
    items: Vec<&'a str>,
    #[serde(borrow)]
    attrs: HashMap<&'a str, &'a str>,
    total: i64,
    price: f64,
    created: Option<zkdubbo_hessian::Date>,
}

fn order(i: i64) -> Order {
    Order {
        id: format!("order-{i}"),
        customer: format!("customer-{}@example.com", i % 97),
        items: vec!["sku-1001".into(), "sku-2002".into(), "sku-3003".into()],
        attrs: [("channel", "web"), ("region", "eu-west")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        total: 123_456 + i,
        price: 99.95,
        created: Some(zkdubbo_hessian::Date(1_700_000_000_000 + i)),
    }
}
