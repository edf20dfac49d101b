//! Following a category path with one persistent recursive watch (ZooKeeper 3.6+): each
//! child created or deleted arrives as one event carrying its name, which *is* the URL, so a
//! change costs the consumer one decode and ZooKeeper a few hundred bytes, whatever the size
//! of the list. The list is read in full only to start, after a reconnection (events are
//! lost while disconnected, ZOOKEEPER-4698) and when the category node itself is re-created.
//! Servers that refuse persistent watches (before 3.6, or with a custom watch manager) are
//! followed the classic way (`watcher.rs`), said once.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use zkdubbo_common::Url;
use zkdubbo_common::text::excerpt;
use zookeeper_client::{AddWatchMode, EventType, WatchedEvent};

use super::config::WatchMode;
use super::retry::Backoff;
use super::state::{Conn, Inner, timed};
use super::watcher::{CategoryWatch, GarbageReport, decode_child, wait_conn};
use crate::error::RegistryError;
use crate::notification::{ListVersion, consumer_in, matches_in};

/// How long a list that the latest events would leave empty waits for another event (see
/// `run_persistent`).
const EMPTYING_GRACE: Duration = Duration::from_millis(200);

/// A list read already sent.
type ListRequest = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<(Vec<String>, zookeeper_client::Stat), zookeeper_client::Error>> + Send,
    >,
>;

/// How a persistent watch ended.
pub(super) enum Ended {
    /// The registry is gone or the task should stop.
    Stop,
    /// The server refuses persistent watches: follow the classic way.
    Refused,
}

/// Whether `e` is a server's refusal of `addWatch` (unknown request before 3.6; a watch
/// manager without persistent modes fails it as a marshalling error).
pub(super) fn refuses_persistent(e: &RegistryError) -> bool {
    matches!(
        e.zookeeper_error(),
        Some(zookeeper_client::Error::Unimplemented | zookeeper_client::Error::MarshallingError)
    )
}

impl Inner {
    /// Whether subscriptions should try persistent watches.
    pub(super) fn wants_persistent(&self) -> bool {
        match self.config.watch {
            WatchMode::Children => false,
            WatchMode::Persistent => true,
            WatchMode::Auto => !self.persistent_refused.load(Ordering::Acquire),
        }
    }

    /// Note that the server refused a persistent watch (logged once per registry).
    pub(super) fn refuse_persistent(&self, error: &RegistryError) {
        if !self.persistent_refused.swap(true, Ordering::AcqRel) {
            tracing::info!(
                registry = %self.registry_name(),
                %error,
                "the server refuses persistent watches (ZooKeeper before 3.6, or a watch manager without them): \
                 following lists with one-shot child watches"
            );
        }
    }

    /// The watch mode in use: persistent, or children after a refusal or when configured.
    pub(super) fn effective_watch(&self) -> WatchMode {
        if self.wants_persistent() {
            WatchMode::Persistent
        } else {
            WatchMode::Children
        }
    }
}

/// Check that the server of `conn` accepts persistent watches (for `watch=persistent`).
pub(super) async fn probe(inner: &Inner, conn: &Conn) -> Result<(), RegistryError> {
    let root = inner.layout.root();
    let watcher = timed(
        "watch",
        root,
        inner.config.timeout,
        conn.client.watch(root, AddWatchMode::Persistent),
    )
    .await?;
    drop(watcher);
    Ok(())
}

/// The children of one category path, by node name: the URL (`None` for a name that is not
/// one) and whether it matches the subscriber.
#[derive(Default)]
struct Children {
    by_name: BTreeMap<String, Option<(Url, bool)>>,
}

impl CategoryWatch {
    /// Follow the category with a persistent recursive watch until the registry is gone, or
    /// the server refuses the watch.
    pub(super) async fn run_persistent(&self) -> Ended {
        let inner = self.inner.clone();
        let path = inner.layout.category(&self.interface, self.category);
        let t = inner.config.timeout;
        let mut live = inner.live.subscribe();
        let mut backoff = Backoff::for_retries(inner.config.retry_period);
        let consumer_here = consumer_in(self.sink.consumer(), self.category);
        let wanted = |u: &Url| matches_in(&consumer_here, self.category, u);
        let mut children = Children::default();
        let mut version: Option<ListVersion> = None;
        'session: loop {
            let Some(conn) = wait_conn(&mut live).await else {
                return Ended::Stop;
            };
            // The watch first, then the list: every change after the read is an event. Both
            // are sent at once (the client sends a request when it is made, and ZooKeeper
            // answers a session's requests in order): one round trip, not two, for each of
            // the thousands of categories a reconnection reconciles.
            let watch_request = conn.client.watch(&path, AddWatchMode::PersistentRecursive);
            let list_request: ListRequest = Box::pin(conn.client.get_children(&path));
            let mut watcher = match timed("watch", &path, t, watch_request).await {
                Ok(w) => w,
                Err(e) if refuses_persistent(&e) && inner.config.watch == WatchMode::Auto => {
                    inner.refuse_persistent(&e);
                    return Ended::Refused;
                }
                Err(e) => {
                    if self.retry_after(&path, &e, &mut backoff, &mut live).await {
                        continue;
                    }
                    return Ended::Stop;
                }
            };
            if let Err(e) = self
                .reconcile(&conn, &path, Some(list_request), &mut children, &mut version, &wanted)
                .await
            {
                if self.retry_after(&path, &e, &mut backoff, &mut live).await {
                    continue;
                }
                return Ended::Stop;
            }
            backoff.reset();
            self.failing(&path, None);
            // Whether the list last delivered had a matching URL.
            let mut had_match = children.has_match();
            loop {
                tokio::select! {
                    event = watcher.changed() => {
                        match event.event_type {
                            EventType::Session if event.session_state.is_terminated() => {
                                // Never poll the watcher again; wait for the next session.
                                if live.changed().await.is_err() {
                                    return Ended::Stop;
                                }
                                continue 'session;
                            }
                            // Reconnections are followed through the supervisor (below).
                            EventType::Session => {}
                            _ => {
                                // This event and those already queued behind it, one delivery:
                                // a burst (a provider restarting is a delete and a create)
                                // costs the subscriber one list, not one per event.
                                let mut pending = false;
                                let mut next = Some(event);
                                let mut ended = false;
                                while let Some(event) = next.take() {
                                    if event.event_type == EventType::Session {
                                        ended = event.session_state.is_terminated();
                                        if ended {
                                            break;
                                        }
                                    } else {
                                        match self
                                            .on_event(&conn, &path, &event, &mut children, &mut version, &wanted)
                                            .await
                                        {
                                            Ok(changed) => pending |= changed,
                                            Err(e) => {
                                                tracing::warn!(%path, error = %e, "cannot re-read a category; retrying");
                                                continue 'session;
                                            }
                                        }
                                    }
                                    // Polled once, not with a zero timeout: tokio's timer
                                    // fires on its next 1 ms tick, which every event waited.
                                    next = tokio::select! {
                                        biased;
                                        event = watcher.changed() => Some(event),
                                        () = std::future::ready(()) => None,
                                    };
                                    // A list about to go empty waits a moment for a creation:
                                    // a provider taking its node over from its previous
                                    // session deletes it and creates it again, and consumers
                                    // must not see it missing in between (a re-list is slow
                                    // enough to miss that gap; an event is not).
                                    if next.is_none() && pending && !ended && had_match && !children.has_match() {
                                        next = tokio::time::timeout(EMPTYING_GRACE, watcher.changed()).await.ok();
                                    }
                                }
                                if pending {
                                    had_match = children.has_match();
                                    let v = version.unwrap_or(ListVersion { czxid: 0, cversion: 1 });
                                    self.deliver(children.list(), v);
                                }
                                if ended {
                                    if live.changed().await.is_err() {
                                        return Ended::Stop;
                                    }
                                    continue 'session;
                                }
                            }
                        }
                    }
                    changed = live.changed() => {
                        if changed.is_err() {
                            return Ended::Stop;
                        }
                        // A reconnection within the session, or a new session: events were lost
                        // meanwhile (ZOOKEEPER-4698). As Curator does, the watch is added again
                        // (the client re-sends it, but on another server of the ensemble that
                        // is not to be relied on) and the list read again.
                        continue 'session;
                    }
                }
            }
        }
    }

    /// Log `error`, wait the next backoff (or less if the session changes); `false` once the
    /// registry is gone.
    async fn retry_after(
        &self,
        path: &str,
        error: &RegistryError,
        backoff: &mut Backoff,
        live: &mut tokio::sync::watch::Receiver<super::state::Live>,
    ) -> bool {
        let wait = backoff.next_delay();
        tracing::warn!(%path, %error, retry_in_ms = wait.as_millis() as u64, "cannot follow a subscribed category; retrying");
        self.failing(path, Some(error));
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            changed = live.changed() => changed.is_ok(),
        }
    }

    /// Read the whole list and deliver it (`first`: its read, already sent). Events queued
    /// meanwhile are applied after it: those already reflected in the list change nothing (a
    /// name added twice or removed when absent), and the others are changes made after the
    /// read.
    async fn reconcile(
        &self,
        conn: &Conn,
        path: &str,
        mut first: Option<ListRequest>,
        children: &mut Children,
        version: &mut Option<ListVersion>,
        wanted: &impl Fn(&Url) -> bool,
    ) -> Result<(), RegistryError> {
        let t = self.inner.config.timeout;
        loop {
            let read = match first.take() {
                Some(sent) => timed("list", path, t, sent).await,
                None => timed("list", path, t, conn.client.get_children(path)).await,
            };
            match read {
                Ok((names, stat)) => {
                    children.reset(&self.interface, path, names, wanted);
                    let read = ListVersion {
                        czxid: stat.czxid,
                        cversion: stat.cversion,
                    };
                    // Never behind what was delivered: a list is then never dropped as stale.
                    let next = match *version {
                        Some(v) if v.czxid == read.czxid && v.cversion >= read.cversion => ListVersion {
                            czxid: v.czxid,
                            cversion: v.cversion.saturating_add(1),
                        },
                        _ => read,
                    };
                    *version = Some(next);
                    self.deliver(children.list(), next);
                    return Ok(());
                }
                Err(e) if e.is_no_node() && self.create_missing => {
                    self.inner.forget_path(path);
                    Box::pin(self.inner.ensure_path(conn, path)).await?;
                }
                Err(e) if e.is_no_node() => {
                    children.by_name.clear();
                    *version = None;
                    self.deliver_missing();
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Apply one node event under the watched path; `true` when a child came or went and
    /// the list is still to be delivered (the caller batches the events already queued).
    async fn on_event(
        &self,
        conn: &Conn,
        path: &str,
        event: &WatchedEvent,
        children: &mut Children,
        version: &mut Option<ListVersion>,
        wanted: &impl Fn(&Url) -> bool,
    ) -> Result<bool, RegistryError> {
        if event.path == path {
            return match event.event_type {
                // Re-created: read it from scratch (unless already read since: the event of
                // a creation the last read already saw, such as the subscription's own).
                EventType::NodeCreated if version.is_none() => self
                    .reconcile(conn, path, None, children, version, wanted)
                    .await
                    .map(|()| false),
                EventType::NodeDeleted => {
                    children.by_name.clear();
                    *version = None;
                    self.deliver_missing();
                    if self.create_missing {
                        // As the classic watch does: the subscription keeps its path.
                        self.reconcile(conn, path, None, children, version, wanted).await?;
                    }
                    Ok(false)
                }
                _ => Ok(false),
            };
        }
        // Only direct children are URLs; deeper nodes and data changes are not this list's.
        let Some(name) = event
            .path
            .strip_prefix(path)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|n| !n.is_empty() && !n.contains('/'))
        else {
            return Ok(false);
        };
        let changed = match event.event_type {
            EventType::NodeCreated => children.add(&self.interface, path, name, wanted),
            EventType::NodeDeleted => children.remove(name),
            _ => return Ok(false),
        };
        if changed {
            // Each child created or deleted moves the server's child version by one; an event
            // already reflected in the last read changes nothing and counts nothing.
            if let Some(v) = version.as_mut() {
                v.cversion = v.cversion.saturating_add(1);
            }
        }
        Ok(changed)
    }
}

impl Children {
    /// Replace the whole list with `names` (new names that are not URLs are warned about a
    /// few at a time, then summed up).
    fn reset(&mut self, interface: &str, path: &str, names: Vec<String>, wanted: &impl Fn(&Url) -> bool) {
        let mut previous = std::mem::take(&mut self.by_name);
        let mut report = GarbageReport::default();
        for name in names {
            let entry = match previous.remove(&name) {
                Some(e) => e,
                None => match decode_child(interface, &name) {
                    Ok(url) => {
                        let keep = wanted(&url);
                        Some((url, keep))
                    }
                    Err(e) => {
                        report.add(&name, path, &e);
                        None
                    }
                },
            };
            self.by_name.insert(name, entry);
        }
        report.finish(path);
    }

    /// Add child `name`; whether the delivered list changes.
    fn add(&mut self, interface: &str, path: &str, name: &str, wanted: &impl Fn(&Url) -> bool) -> bool {
        if self.by_name.contains_key(name) {
            return false;
        }
        let entry = decode(interface, path, name, wanted);
        let matters = matches!(entry, Some((_, true)));
        self.by_name.insert(name.to_owned(), entry);
        matters
    }

    /// Remove child `name`; whether the delivered list changes.
    fn remove(&mut self, name: &str) -> bool {
        matches!(self.by_name.remove(name), Some(Some((_, true))))
    }

    /// Whether some child matches the subscriber.
    fn has_match(&self) -> bool {
        self.by_name.values().any(|e| matches!(e, Some((_, true))))
    }

    /// The URLs that match the subscriber, in node-name order.
    fn list(&self) -> Vec<Url> {
        self.by_name
            .values()
            .filter_map(|e| match e {
                Some((url, true)) => Some(url.clone()),
                _ => None,
            })
            .collect()
    }
}

fn decode(interface: &str, path: &str, name: &str, wanted: &impl Fn(&Url) -> bool) -> Option<(Url, bool)> {
    match decode_child(interface, name) {
        Ok(url) => {
            let keep = wanted(&url);
            Some((url, keep))
        }
        Err(error) => {
            tracing::warn!(node = %excerpt(name), %path, %error, "skipping a child node that is not a URL");
            None
        }
    }
}
