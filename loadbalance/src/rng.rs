//! The random source of the strategies: a fast per-thread generator, replaceable by any
//! [`rand::Rng`] (a seeded one in tests) through
//! [`LoadBalance::select_with_rng`](crate::LoadBalance::select_with_rng).

use std::cell::Cell;
use std::convert::Infallible;

use rand::{Rng, TryRng};

thread_local! {
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// A handle to this thread's generator (wyrand, seeded once per thread from
/// [`rand::rng`]). Not cryptographic; about a nanosecond per number.
///
/// ```
/// use rand::RngExt;
/// use zkdubbo_loadbalance::FastRng;
/// let x: u32 = FastRng.random_range(0..10);
/// assert!(x < 10);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct FastRng;

#[cold]
fn seed() -> u64 {
    // Never 0: 0 marks "not seeded yet".
    rand::rng().next_u64() | 1
}

impl FastRng {
    #[inline]
    fn next(&mut self) -> u64 {
        STATE.with(|state| {
            let mut s = state.get();
            if s == 0 {
                s = seed();
            }
            s = s.wrapping_add(0xa076_1d64_78bd_642f);
            state.set(s);
            let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
            ((t >> 64) as u64) ^ (t as u64)
        })
    }
}

impl TryRng for FastRng {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.next() >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.next())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

/// A seeded, reproducible generator (wyrand) for tests, previews and the CLI's `--seed`.
///
/// ```
/// use rand::RngExt;
/// use zkdubbo_loadbalance::SeededRng;
/// let (mut a, mut b) = (SeededRng::new(7), SeededRng::new(7));
/// assert_eq!(a.random_range(0..1000u32), b.random_range(0..1000u32));
/// ```
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }
}

impl TryRng for SeededRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.next() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.next())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}
