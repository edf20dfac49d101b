//! One module per `zkdubbo` subcommand.

pub mod encode;
