//! The random source of the strategies: a fast per-thread generator, replaceable by any
//! [`rand::Rng`] (a seeded one in tests) through
//! [`LoadBalance::select_with_rng`](crate::LoadBalance::select_with_rng).

use std::convert::Infallible;

use rand::TryRng;

/// A handle to this thread's generator (`fastrand`'s wyrand, seeded once per thread from the
/// system). Not cryptographic; about a nanosecond per number.
///
/// ```
/// use rand::RngExt;
/// use zkdubbo_loadbalance::FastRng;
/// let x: u32 = FastRng.random_range(0..10);
/// assert!(x < 10);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct FastRng;

impl FastRng {
    #[inline]
    fn next(&mut self) -> u64 {
        fastrand::u64(..)
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

/// A seeded, reproducible generator (`fastrand`'s wyrand) for tests, previews and the CLI's
/// `--seed`.
///
/// ```
/// use rand::RngExt;
/// use zkdubbo_loadbalance::SeededRng;
/// let (mut a, mut b) = (SeededRng::new(7), SeededRng::new(7));
/// assert_eq!(a.random_range(0..1000u32), b.random_range(0..1000u32));
/// ```
#[derive(Debug, Clone)]
pub struct SeededRng(fastrand::Rng);

impl SeededRng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRng(fastrand::Rng::with_seed(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.u64(..)
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
