//! Waiting for notifications in tests: bounded waits that panic with a message naming what
//! did not happen (test support, not library code).

use std::future::Future;
use std::time::Duration;

use zkdubbo_registry::{Category, Notification, Subscription};

/// `f`'s output, or a panic naming `what` if it takes longer than `d`.
pub async fn within<T>(what: &str, d: Duration, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(d, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {d:?}"))
}

/// The next notification of `category` satisfying `pred`, within `d`.
pub async fn wait_for(
    sub: &mut Subscription,
    category: Category,
    d: Duration,
    pred: impl Fn(&Notification) -> bool,
) -> Notification {
    within(&format!("{category} notification"), d, async {
        loop {
            let Some(n) = sub.next().await else {
                panic!("subscription closed while waiting for a {category} notification");
            };
            if n.category == category && pred(&n) {
                return n;
            }
        }
    })
    .await
}

/// Every notification up to and including the first one `is_sentinel` accepts (within `d`).
///
/// How a test shows that something did *not* happen: it makes a second change after the one
/// under test (the sentinel), waits for it, and checks what arrived before it, instead of
/// sleeping and hoping the unwanted notification would have come by then.
pub async fn until_sentinel(
    sub: &mut Subscription,
    d: Duration,
    is_sentinel: impl Fn(&Notification) -> bool,
) -> Vec<Notification> {
    within("the sentinel notification", d, async {
        let mut seen = Vec::new();
        loop {
            let Some(n) = sub.next().await else {
                panic!("subscription closed while waiting for the sentinel; got {seen:?}");
            };
            let done = is_sentinel(&n);
            seen.push(n);
            if done {
                return seen;
            }
        }
    })
    .await
}

/// The `host:port` of every URL in `n` (none for an `empty://` marker), sorted.
pub fn hosts(n: &Notification) -> Vec<String> {
    let mut h: Vec<String> = n.non_empty_urls().iter().map(|u| u.address()).collect();
    h.sort();
    h
}
