//! `zkdubbo hessian decode [FILE|-]`: print each value of a Hessian2 stream as one line of
//! JSON, like `protoc --decode_raw`, for an operator holding a captured payload.

use std::io::{Read, Write};

use anyhow::Context;
use zkdubbo::hessian::{Decoder, Limits};

use crate::json::to_json;

/// `zkdubbo hessian` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum HessianCommand {
    /// Print each value of a Hessian2 stream as one line of JSON: numbers as numbers (longs
    /// beyond ±2^53 as strings), binary as base64, dates as ISO-8601, lists as arrays, maps as
    /// objects (non-string keys as their JSON text), objects as maps with a "class" entry.
    Decode(DecodeArgs),
}

/// Arguments of `zkdubbo hessian decode`.
#[derive(clap::Args, Debug)]
pub struct DecodeArgs {
    /// The file to read; `-` or nothing for stdin.
    pub file: Option<String>,
    /// Keep each value's Java type: `{"type": ..., "value": ...}`.
    #[arg(long)]
    pub typed: bool,
    /// Refuse streams larger than this many bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub max_bytes: usize,
}

/// Run `zkdubbo hessian decode`.
pub fn decode(args: &DecodeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    let limit = args.max_bytes as u64 + 1;
    match args.file.as_deref() {
        None | Some("-") => std::io::stdin()
            .take(limit)
            .read_to_end(&mut bytes)
            .context("reading stdin")?,
        Some(path) => std::fs::File::open(path)
            .and_then(|f| f.take(limit).read_to_end(&mut bytes))
            .with_context(|| format!("reading {path}"))?,
    };
    let limits = Limits {
        max_bytes: args.max_bytes,
        ..Limits::default()
    };
    let mut dec = Decoder::with_limits(&bytes, limits)?;
    while !dec.is_at_end() {
        let value = dec.read_value()?;
        writeln!(out, "{}", to_json(&value, args.typed))?;
    }
    Ok(())
}
