//! A user's own protobuf message needs no `prost` dependency of its own: `zkdubbo::prost` and
//! the `prost_path` attribute are enough. (This crate does not depend on `prost`.)

use zkdubbo::prost::Message;

#[derive(Clone, PartialEq, zkdubbo::prost::Message)]
#[prost(prost_path = "zkdubbo::prost")]
struct AddRequest {
    #[prost(int32, tag = "1")]
    a: i32,
    #[prost(string, tag = "2")]
    note: String,
}

#[test]
fn a_message_derived_through_zkdubbo_encodes_as_protobuf() {
    let request = AddRequest { a: 7, note: "x".into() };
    let bytes = request.encode_to_vec();
    assert_eq!(bytes, [0x08, 7, 0x12, 1, b'x']);
    assert_eq!(AddRequest::decode(&bytes[..]).unwrap(), request);
}
