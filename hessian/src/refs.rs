//! Reference numbering: Java counts every list, map and object in the order it begins.

use crate::value::Value;

/// Every list, map and object of `stream` in pre-order: reference `n` points to `table[n]`.
pub(crate) fn table(stream: &[Value]) -> Vec<&Value> {
    let mut table = Vec::new();
    stream.iter().for_each(|v| collect(v, &mut table));
    table
}

/// What reference `n` of `stream` points to.
pub(crate) fn nth(stream: &[Value], n: usize) -> Option<&Value> {
    table(stream).get(n).copied()
}

fn collect<'v>(v: &'v Value, table: &mut Vec<&'v Value>) {
    match v {
        Value::List(l) => {
            table.push(v);
            l.items.iter().for_each(|i| collect(i, table));
        }
        Value::Map(m) => {
            table.push(v);
            for (k, x) in &m.entries {
                collect(k, table);
                collect(x, table);
            }
        }
        Value::Object(o) => {
            table.push(v);
            o.fields.iter().for_each(|(_, x)| collect(x, table));
        }
        _ => {}
    }
}
