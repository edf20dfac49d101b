//! Text from outside (node names, URLs, rules) made safe to show: shortened for a log line,
//! control characters escaped for a terminal.

use std::borrow::Cow;

/// Longest excerpt of an outside string quoted in a message or a log line.
pub const EXCERPT_CHARS: usize = 200;

/// `s` quoted for a message: as is when short, else its first [`EXCERPT_CHARS`] characters
/// and its length (a 900 KB node name must not become a 900 KB log line).
///
/// ```
/// use zkdubbo_common::text::excerpt;
/// assert_eq!(excerpt("abc"), "\"abc\"");
/// let long = "x".repeat(10_000);
/// assert!(excerpt(&long).ends_with("… (10000 bytes)"));
/// assert!(excerpt(&long).len() < 300);
/// ```
pub fn excerpt(s: &str) -> String {
    match s.char_indices().nth(EXCERPT_CHARS) {
        None => format!("{s:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &s[..cut], s.len()),
    }
}

/// `s` with its control characters escaped (`\n`, `\u{1b}`...), for printing decoded names on
/// a terminal: a node name must not move the cursor or recolour the screen.
///
/// ```
/// use zkdubbo_common::text::printable;
/// assert_eq!(printable("plain"), "plain");
/// assert_eq!(printable("a\u{1b}[31mred\nx"), "a\\u{1b}[31mred\\nx");
/// ```
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}
