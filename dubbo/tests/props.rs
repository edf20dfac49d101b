//! The dubbo:// parsers on untrusted bytes: frames, request and response bodies never panic,
//! whatever arrives (random bytes and mutated valid bodies).

use bytes::Bytes;
use proptest::prelude::*;
use zkdubbo_dubbo::hessian::{Encoder, Limits};

fn valid_request() -> Vec<u8> {
    let mut enc = Encoder::new();
    for s in ["2.0.2", "com.foo.Bar", "1.0", "sayHello", "Ljava/lang/String;I"] {
        enc.write_str(s);
    }
    enc.write_str("ada");
    enc.write_int(3);
    enc.write_map_begin(None).unwrap();
    enc.write_str("path");
    enc.write_str("com.foo.Bar");
    enc.write_end();
    enc.into_bytes()
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, b, op) in edits {
        if bytes.is_empty() {
            break;
        }
        let i = at % bytes.len();
        match op {
            0 => bytes[i] = b,
            1 => bytes.truncate(i),
            _ => bytes.insert(i, b),
        }
    }
    bytes
}

proptest! {
    // 256 cases; PROPTEST_CASES (scripts/fuzz.sh) sets more.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn frames_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let _ = rt.block_on(zkdubbo_dubbo::frame::read_frame(&mut &bytes[..], 1024));
    }

    #[test]
    fn request_bodies_never_panic(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 0..6),
                                  random in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = zkdubbo_dubbo::decode_request(&mutate(valid_request(), &edits), Limits::default());
        let _ = zkdubbo_dubbo::decode_request(&random, Limits::default());
    }

    #[test]
    fn response_bodies_never_panic(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 0..6),
                                   random in proptest::collection::vec(any::<u8>(), 0..128)) {
        let mut enc = Encoder::new();
        enc.write_int(4);
        enc.write_str("Hello, ada!");
        enc.write_map_begin(None).unwrap();
        enc.write_str("dubbo");
        enc.write_str("2.0.2");
        enc.write_end();
        let body = Bytes::from(mutate(enc.into_bytes(), &edits));
        let _ = zkdubbo_dubbo::decode_response(&body, Limits::default());
        let _ = zkdubbo_dubbo::decode_response(&Bytes::from(random), Limits::default());
    }
}
