//! Bad node data: an error naming what is wrong, never a panic.

use proptest::prelude::*;
use zkdubbo_discovery::{DiscoveryError, MAX_INSTANCE_BYTES, MetadataInfo, ServiceInstance, mapping};

const GOOD: &str = r#"{"name":"demo","id":"10.0.0.1:20880","address":"10.0.0.1","port":20880,"sslPort":null,"payload":{"@class":"org.apache.dubbo.registry.zookeeper.ZookeeperInstance","id":"10.0.0.1:20880","name":"demo","metadata":{"dubbo.metadata.revision":"abc"}},"registrationTimeUTC":1700000000000,"serviceType":"DYNAMIC","uriSpec":null}"#;

proptest! {
    // The default config reads PROPTEST_CASES (scripts/fuzz.sh).
    #![proptest_config(ProptestConfig { rng_seed: proptest::test_runner::RngSeed::Fixed(14), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = ServiceInstance::from_json(&data);
        let _ = MetadataInfo::from_json(&data);
        let _ = mapping::applications(&String::from_utf8_lossy(&data));
    }

    #[test]
    fn a_mutated_instance_is_read_or_refused(at in 0..GOOD.len(), byte in any::<u8>()) {
        let mut data = GOOD.as_bytes().to_vec();
        data[at] = byte;
        match ServiceInstance::from_json(&data) {
            Ok(i) => prop_assert!(i.port > 0),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn what_is_wrong_is_named() {
    let read = |s: &str| ServiceInstance::from_json(s.as_bytes()).unwrap_err().to_string();
    assert!(read(&GOOD.replace("20880,\"sslPort", "0,\"sslPort")).contains("field port is 0"));
    assert!(read(&GOOD.replace("\"port\":20880,", "")).contains("field port is missing"));
    assert!(
        read(&GOOD.replace("org.apache.dubbo.registry.zookeeper.ZookeeperInstance", "com.x.Other"))
            .contains("com.x.Other")
    );
    assert!(read("{").contains("instance node is not valid"));
    let big = vec![b' '; MAX_INSTANCE_BYTES + 1];
    assert!(matches!(
        ServiceInstance::from_json(&big),
        Err(DiscoveryError::TooLarge { .. })
    ));
    let good = ServiceInstance::from_json(GOOD.as_bytes()).unwrap();
    assert_eq!(good.revision(), Some("abc"));
    assert_eq!(good.storage_type(), zkdubbo_discovery::StorageType::Local);
    assert!(good.endpoints().unwrap().is_empty());
}
