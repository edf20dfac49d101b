//! `zkdubbo console`: a web page over a ZooKeeper registry — the services, their providers and
//! consumers, live — with the governance actions of `zkdubbo weight` / `disable` / `enable`
//! (the same code writes them, as dubbo-admin does).
//!
//! The page is plain HTML and JavaScript embedded in the binary (`page.html`); it reads JSON
//! from `/api/...`, follows `/api/events` (server-sent events: a change of the model's version)
//! and only ever puts text in the page as text, so node names and rules cannot inject markup.

mod follow;
mod model;
mod server;
mod writes;

pub use server::{ConsoleArgs, run};
