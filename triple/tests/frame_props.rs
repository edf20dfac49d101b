//! The gRPC length-prefixed frame decoder on untrusted bytes never panics, and decodes what
//! the encoder wrote.

use bytes::Bytes;
use proptest::prelude::*;
use zkdubbo_triple::codec::{decode_unary_request, encode_frame};

proptest! {
    // 256 cases; PROPTEST_CASES (scripts/fuzz.sh) sets more.
    #![proptest_config(ProptestConfig::default())]

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
