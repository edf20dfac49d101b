//! `list` and `with_route` allocate nothing on the call path (refresh-time routing and tag
//! groups), checked with a counting global allocator.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use support::*;
use zkdubbo_common::Invocation;
use zkdubbo_directory::Directory;
use zkdubbo_registry::Category;

struct Counting;

thread_local! {
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| {
            if let Some(n) = c.get() {
                c.set(Some(n + 1));
            }
        });
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(Some(0)));
    f();
    COUNT.with(|c| c.take()).unwrap_or(0)
}

#[test]
fn list_does_not_allocate() {
    let (dir, _) = directory("");
    dir.notify(&note(
        Category::Providers,
        &[
            provider("10.0.0.5", "dubbo.tag=gray"),
            provider("10.0.0.6", ""),
            provider("10.0.0.7", ""),
        ],
        1,
    ));
    dir.notify(&note(
        Category::Routers,
        &[condition("host = 10.0.0.1 => host != 10.0.0.7", "")],
        1,
    ));
    let lb = zkdubbo_loadbalance::by_name("random").unwrap();
    let plain = Invocation::new("get");
    let tagged = Invocation::new("put").with_attachment("dubbo.tag", "gray");
    let unknown = Invocation::new("notDeclared");
    // Warm up thread-locals (arc-swap debt slots, the load balancer's generator).
    for inv in [&plain, &tagged, &unknown] {
        let _ = dir.list(inv).unwrap();
        let _ = dir.with_route(inv, |r| r.prepared().select(&*lb, inv).map(Arc::clone));
    }
    assert_eq!(
        allocations(|| drop(std::hint::black_box(vec![1u8]))),
        1,
        "the counter counts"
    );
    let n = allocations(|| {
        for _ in 0..10_000 {
            for inv in [&plain, &tagged, &unknown] {
                let l = dir.list(inv).unwrap();
                assert!(l.is_shared());
                std::hint::black_box(l.prepared().select(&*lb, inv));
                std::hint::black_box(
                    dir.with_route(inv, |r| r.prepared().select(&*lb, inv).map(Arc::clone))
                        .unwrap(),
                );
            }
        }
    });
    assert_eq!(n, 0, "allocations on the call path");
    assert_eq!(hosts(&dir.list(&plain).unwrap()), ["10.0.0.6"]);
    assert_eq!(hosts(&dir.list(&tagged).unwrap()), ["10.0.0.5"]);
}
