//! `java.math.BigInteger` as Java's Hessian writes it: an object of its fields `signum` and
//! `mag` (the magnitude as big-endian 32-bit words, an `int[]`), beside four cached values
//! written as 0 ("not computed yet").

use std::fmt;

use serde::de::Deserializer;
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A `java.math.BigInteger`.
///
/// ```
/// use zkdubbo_hessian::BigInteger;
/// let n: BigInteger = "-123456789012345678901234567890".parse().unwrap();
/// let bytes = zkdubbo_hessian::to_bytes(&n).unwrap();
/// assert_eq!(zkdubbo_hessian::from_slice::<BigInteger>(&bytes).unwrap().to_string(), "-123456789012345678901234567890");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BigInteger {
    negative: bool,
    /// Big-endian 32-bit words without leading zeros (empty for zero).
    magnitude: Vec<u32>,
}

impl BigInteger {
    /// The value from Java's fields: `signum` (-1, 0, 1) and `mag` (big-endian words).
    pub fn from_parts(signum: i32, mag: &[i32]) -> BigInteger {
        let magnitude: Vec<u32> = mag.iter().map(|&w| w as u32).skip_while(|&w| w == 0).collect();
        BigInteger {
            negative: signum < 0 && !magnitude.is_empty(),
            magnitude,
        }
    }

    /// Java's `signum`.
    pub fn signum(&self) -> i32 {
        match (self.magnitude.is_empty(), self.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        }
    }

    /// Java's `mag`: the magnitude as big-endian 32-bit words.
    pub fn mag(&self) -> Vec<i32> {
        self.magnitude.iter().map(|&w| w as i32).collect()
    }
}

impl From<i128> for BigInteger {
    fn from(v: i128) -> Self {
        let mut m = v.unsigned_abs();
        let mut words = Vec::new();
        while m > 0 {
            words.push(m as u32);
            m >>= 32;
        }
        words.reverse();
        BigInteger {
            negative: v < 0,
            magnitude: words,
        }
    }
}

impl std::str::FromStr for BigInteger {
    type Err = Error;

    /// A decimal integer, optionally signed.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::Message(format!("{s:?} is not a decimal integer"));
        let (negative, digits) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        // Little-endian words while computing; multiply by 10^9 and add, nine digits at once.
        let mut words: Vec<u32> = Vec::new();
        let first = digits.len() % 9;
        let chunks = std::iter::once(&digits[..first]).filter(|c| !c.is_empty()).chain(
            digits.as_bytes()[first..]
                .chunks(9)
                .map(|c| std::str::from_utf8(c).unwrap_or("0")),
        );
        for chunk in chunks {
            let add: u64 = chunk.parse().map_err(|_| bad())?;
            let mul = 10u64.pow(chunk.len() as u32);
            let mut carry = add;
            for w in words.iter_mut() {
                let v = u64::from(*w) * mul + carry;
                *w = v as u32;
                carry = v >> 32;
            }
            while carry > 0 {
                words.push(carry as u32);
                carry >>= 32;
            }
        }
        while words.last() == Some(&0) {
            words.pop();
        }
        words.reverse();
        Ok(BigInteger {
            negative: negative && !words.is_empty(),
            magnitude: words,
        })
    }
}

impl fmt::Display for BigInteger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.magnitude.is_empty() {
            return f.write_str("0");
        }
        // Divide by 10^9 repeatedly; each remainder is nine decimal digits.
        let mut words = self.magnitude.clone();
        let mut groups = Vec::new();
        while !words.is_empty() {
            let mut rem = 0u64;
            for w in words.iter_mut() {
                let v = (rem << 32) | u64::from(*w);
                *w = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            groups.push(rem as u32);
            while words.first() == Some(&0) {
                words.remove(0);
            }
        }
        if self.negative {
            f.write_str("-")?;
        }
        let mut groups = groups.into_iter().rev();
        if let Some(top) = groups.next() {
            write!(f, "{top}")?;
        }
        for g in groups {
            write!(f, "{g:09}")?;
        }
        Ok(())
    }
}

/// The `int[]` of `mag`, written as Java writes an array (a list typed `[int`).
struct IntArray<'a>(&'a [i32]);

impl Serialize for IntArray<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(crate::ser::INT_ARRAY, self.0)
    }
}

impl Serialize for BigInteger {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("java.math.BigInteger", 6)?;
        st.serialize_field("signum", &self.signum())?;
        // Java's caches, "not computed yet".
        st.serialize_field("bitCountPlusOne", &0)?;
        st.serialize_field("bitLengthPlusOne", &0)?;
        st.serialize_field("lowestSetBitPlusTwo", &0)?;
        st.serialize_field("firstNonzeroIntNumPlusTwo", &0)?;
        st.serialize_field("mag", &IntArray(&self.mag()))?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for BigInteger {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// What writers send: Java's fields, or a decimal `value` (as BigDecimal is written).
        #[derive(Deserialize)]
        struct Fields {
            #[serde(default)]
            signum: i32,
            #[serde(default)]
            mag: Vec<i32>,
            #[serde(default)]
            value: Option<String>,
        }
        let f = Fields::deserialize(d)?;
        match f.value {
            Some(v) => v.parse().map_err(serde::de::Error::custom),
            None => Ok(BigInteger::from_parts(f.signum, &f.mag)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_round_trips() {
        for s in [
            "0",
            "1",
            "-1",
            "4294967295",
            "4294967296",
            "-123456789012345678901234567890",
            "1000000000000000000",
        ] {
            assert_eq!(s.parse::<BigInteger>().unwrap().to_string(), s);
        }
        assert_eq!(
            BigInteger::from(-(1i128 << 100)).to_string(),
            "-1267650600228229401496703205376"
        );
        assert!("12a".parse::<BigInteger>().is_err());
        assert!("-".parse::<BigInteger>().is_err());
        assert_eq!("-0".parse::<BigInteger>().unwrap().signum(), 0);
    }
}
