//! Well-known Dubbo parameter keys, values and defaults (ARCHITECTURE: URLs and matching).

/// `interface`: the service interface name.
pub const INTERFACE: &str = "interface";
/// `group`: the service group.
pub const GROUP: &str = "group";
/// `version`: the service version.
pub const VERSION: &str = "version";
/// `classifier`: an optional extra service qualifier.
pub const CLASSIFIER: &str = "classifier";
/// `side`: `provider` or `consumer`.
pub const SIDE: &str = "side";
/// `category`: `providers`, `consumers`, `routers` or `configurators`.
pub const CATEGORY: &str = "category";
/// `methods`: comma list of the methods a provider serves.
pub const METHODS: &str = "methods";
/// `weight`: load-balancing weight.
pub const WEIGHT: &str = "weight";
/// `timestamp`: provider start time in ms since the epoch.
pub const TIMESTAMP: &str = "timestamp";
/// `discovery-level`: `application` on provider URLs made from Dubbo 3 application
/// instances (absent on interface-level registrations).
pub const DISCOVERY_LEVEL: &str = "discovery-level";
/// `warmup`: warm-up period in ms.
pub const WARMUP: &str = "warmup";
/// `loadbalance`: the load-balancing strategy name.
pub const LOADBALANCE: &str = "loadbalance";
/// `cluster`: the cluster strategy name.
pub const CLUSTER: &str = "cluster";
/// `retries`: failover retries.
pub const RETRIES: &str = "retries";
/// `timeout`: call timeout in ms.
pub const TIMEOUT: &str = "timeout";
/// `dynamic`: `false` makes a registration persistent.
pub const DYNAMIC: &str = "dynamic";
/// `enabled`.
pub const ENABLED: &str = "enabled";
/// `disabled`.
pub const DISABLED: &str = "disabled";
/// `application`.
pub const APPLICATION: &str = "application";
/// `protocol`: on a consumer, the accepted provider protocols (comma list).
pub const PROTOCOL: &str = "protocol";
/// `check`.
pub const CHECK: &str = "check";
/// `register`: `false` stops a consumer registering itself.
pub const REGISTER: &str = "register";
/// `dubbo.tag`: the tag of a provider or a request.
pub const TAG: &str = "dubbo.tag";
/// `dubbo.force.tag`.
pub const FORCE_TAG: &str = "dubbo.force.tag";
/// `anyhost`.
pub const ANYHOST: &str = "anyhost";
/// `dubbo`: the Dubbo protocol version the process speaks (`2.0.2`).
pub const DUBBO_VERSION: &str = "dubbo";
/// `release`: the framework release that wrote the URL.
pub const RELEASE: &str = "release";
/// `generic`: whether the service is called generically.
pub const GENERIC: &str = "generic";
/// `deprecated`: whether the service is deprecated.
pub const DEPRECATED: &str = "deprecated";
/// The Dubbo protocol version zkdubbo speaks, sent as [`DUBBO_VERSION`].
pub const DUBBO_PROTOCOL_VERSION: &str = "2.0.2";
/// `pid`.
pub const PID: &str = "pid";
/// `service`: the interface name as some third-party clients write it.
pub const SERVICE: &str = "service";

/// Category of provider registrations.
pub const PROVIDERS_CATEGORY: &str = "providers";
/// Category of consumer registrations.
pub const CONSUMERS_CATEGORY: &str = "consumers";
/// Category of routing rules.
pub const ROUTERS_CATEGORY: &str = "routers";
/// Category of override rules.
pub const CONFIGURATORS_CATEGORY: &str = "configurators";
/// The default category of a URL without `category`.
pub const DEFAULT_CATEGORY: &str = PROVIDERS_CATEGORY;

/// `side=provider`.
pub const PROVIDER_SIDE: &str = "provider";
/// `side=consumer`.
pub const CONSUMER_SIDE: &str = "consumer";

/// The wildcard value.
pub const ANY_VALUE: &str = "*";
/// Prefix that excludes a value from a list (`-routers`).
pub const REMOVE_VALUE_PREFIX: &str = "-";
/// Protocol of the placeholder URL that says a category is empty.
pub const EMPTY_PROTOCOL: &str = "empty";
/// Protocol of a consumer's own registration.
pub const CONSUMER_PROTOCOL: &str = "consumer";
/// Protocol of override configurators.
pub const OVERRIDE_PROTOCOL: &str = "override";
/// Protocol of absent configurators.
pub const ABSENT_PROTOCOL: &str = "absent";
/// Protocol of condition routers.
pub const CONDITION_PROTOCOL: &str = "condition";
/// The any-host address of rules that apply to everyone.
pub const ANYHOST_VALUE: &str = "0.0.0.0";

/// Default `weight`.
pub const DEFAULT_WEIGHT: u32 = 100;
/// Default `warmup` in ms (10 minutes).
pub const DEFAULT_WARMUP_MS: u64 = 600_000;
/// Default `retries`.
pub const DEFAULT_RETRIES: u32 = 2;
/// Default `timeout` in ms.
pub const DEFAULT_TIMEOUT_MS: u64 = 1000;
/// Default `loadbalance`.
pub const DEFAULT_LOADBALANCE: &str = "random";
/// Default `cluster`.
pub const DEFAULT_CLUSTER: &str = "failover";
