//! The gRPC length-prefixed frame decoder on untrusted bytes never panics, and decodes what
//! the encoder wrote.

use bytes::Bytes;
use proptest::prelude::*;
use zkdubbo_triple::codec::{decode_unary_request, encode_frame};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_unary_request(Bytes::from(bytes));
    }

    #[test]
    fn frames_round_trip_and_mutations_never_panic(
        message in proptest::collection::vec(any::<u8>(), 0..200),
        at in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let frame = encode_frame(&message).unwrap();
        prop_assert_eq!(decode_unary_request(frame.clone()).unwrap(), Bytes::from(message));
        let mut mutated = frame.to_vec();
        let i = at % mutated.len();
        mutated[i] = byte;
        let _ = decode_unary_request(Bytes::from(mutated.clone()));
        mutated.truncate(i);
        let _ = decode_unary_request(Bytes::from(mutated));
    }
}
