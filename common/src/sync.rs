//! Lock helpers shared by the crates.

use std::sync::{Mutex, MutexGuard};

/// Lock `m`, taking the data even if another thread panicked while holding it: every value
/// zkdubbo keeps under a mutex is valid after each single update, so poisoning carries no
/// information here.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
