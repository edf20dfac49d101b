//! One module per `zkdubbo` subcommand.

pub mod apps;
pub mod call;
pub mod describe;
pub mod encode;
pub mod hessian;
pub mod pick;
pub mod providers;
pub mod register;
pub mod rules;
pub mod services;
pub mod status;
pub mod watch;
