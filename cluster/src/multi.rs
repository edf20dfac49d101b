//! Composition: several registries joined under one cluster (zone-aware by default), and the
//! groups of a multi-group reference joined under `mergeable` (ARCHITECTURE: Directory, Cluster).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zkdubbo_common::sync::lock;
use zkdubbo_common::{Invocation, Invoker, Url, keys};
use zkdubbo_directory::Route;
use zkdubbo_directory::{Directory, Listed, Member, NoProviderError, RegistryDirectory, StaticDirectory};

use crate::join::Cluster;
use crate::strategy::RegistryInvoker;

/// Join the cluster invokers of several registries into one invoker: each becomes a
/// [`RegistryInvoker`] member (carrying the registry's `preferred`, `zone` and `weight`) of a
/// [`StaticDirectory`] joined by `cluster` (`zone-aware` or `available`).
///
/// ```
/// use std::sync::Arc;
/// use zkdubbo_cluster::{by_name, join_registries};
/// use zkdubbo_common::{Invoker, Url};
/// # use zkdubbo_common::{Invocation, Response};
/// # use zkdubbo_common::InvokeFuture;
/// # struct Fixed(Url);
/// # impl Invoker for Fixed {
/// #     fn url(&self) -> &Url { &self.0 }
/// #     fn invoke<'a>(&'a self, _: &'a Invocation) -> InvokeFuture<'a> { Box::pin(async { Ok(Response::new("x")) }) }
/// # }
/// let consumer: Url = "consumer://10.0.0.1/com.foo.Bar".parse().unwrap();
/// let hz: Url = "zookeeper://10.0.1.1:2181?zone=hz&preferred=true".parse().unwrap();
/// let sh: Url = "zookeeper://10.0.2.1:2181?zone=sh".parse().unwrap();
/// let joined = join_registries(
///     &consumer,
///     vec![(hz, Arc::new(Fixed(consumer.clone())) as Arc<dyn Invoker>), (sh, Arc::new(Fixed(consumer.clone())))],
///     &*by_name("zone-aware").unwrap(),
/// );
/// assert!(joined.is_available());
/// ```
pub fn join_registries(
    consumer: &Url,
    members: Vec<(Url, Arc<dyn Invoker>)>,
    cluster: &dyn Cluster,
) -> Arc<dyn Invoker> {
    let members: Vec<Arc<dyn Invoker>> = members
        .into_iter()
        .map(|(registry, inner)| Arc::new(RegistryInvoker::new(&registry, inner)) as Arc<dyn Invoker>)
        .collect();
    cluster.join(Arc::new(StaticDirectory::new(consumer.clone(), members)))
}

/// The groups of a multi-group [`RegistryDirectory`] (`group=a,b` or `*`) as a directory whose
/// members are one cluster invoker per group (each over
/// [`RegistryDirectory::group`]), for the `mergeable` cluster. Members are created when a
/// group appears and re-used while it stays.
pub struct GroupsDirectory {
    directory: Arc<RegistryDirectory>,
    cluster: Arc<dyn Cluster>,
    consumer: Url,
    state: Mutex<GroupsState>,
}

#[derive(Default)]
struct GroupsState {
    invokers: HashMap<String, Arc<Member>>,
    groups: Vec<String>,
    route: Option<Arc<Route>>,
}

impl GroupsDirectory {
    /// One `cluster` invoker per group of `directory`.
    pub fn new(directory: Arc<RegistryDirectory>, cluster: Arc<dyn Cluster>) -> Self {
        GroupsDirectory {
            consumer: directory.consumer_url().clone(),
            directory,
            cluster,
            state: Mutex::new(GroupsState::default()),
        }
    }

    /// The groups that have providers now.
    pub fn groups(&self) -> Vec<String> {
        self.directory.groups()
    }
}

impl Directory for GroupsDirectory {
    fn list(&self, inv: &Invocation) -> Result<Listed, NoProviderError> {
        let groups = self.directory.groups();
        if groups.is_empty() {
            return self.directory.list(inv);
        }
        let mut state = lock(&self.state);
        if state.groups != groups || state.route.is_none() {
            let mut members = Vec::with_capacity(groups.len());
            for g in &groups {
                let member = state.invokers.entry(g.clone()).or_insert_with(|| {
                    let invoker = self.cluster.join(Arc::new(self.directory.group(g)));
                    let url = self.consumer.clone().with_param(keys::GROUP, g.as_str());
                    let identity: Arc<str> = format!("group://{g}/{}", self.consumer.interface()).into();
                    Arc::new(Member::new(url.clone(), url, identity, invoker))
                });
                members.push(Arc::clone(member));
            }
            state.invokers.retain(|g, _| groups.contains(g));
            state.groups = groups;
            state.route = Some(Arc::new(Route::new(members.into(), keys::ANY_VALUE, None)));
        }
        match &state.route {
            Some(route) => Ok(Listed::new(Arc::clone(route), true)),
            None => self.directory.list(inv),
        }
    }

    fn is_available(&self) -> bool {
        self.directory.is_available()
    }

    fn consumer_url(&self) -> &Url {
        &self.consumer
    }

    fn destroy(&self) {
        self.directory.destroy();
    }
}

impl std::fmt::Debug for GroupsDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupsDirectory")
            .field("consumer", &self.consumer.to_string())
            .finish_non_exhaustive()
    }
}
