//! Node.js binding for the `disruptor-core` engine.
//!
//! This crate is only conversion and thread-safe-function plumbing between JavaScript and the
//! pure-Rust engine; no Disruptor algorithm lives here. The generated JavaScript loader is
//! `binding.js` (with `binding.d.ts`); the public API is the hand-written TypeScript.
//!
//! Modules, from the engine up: `engine` (one object-safe face over the engine), `waker`,
//! `shared` (a ring's state every thread shares), `registry` (rings by id, for `attach`),
//! `instance` (one thread's consumers and waits), then `NativeRing`, the class JavaScript
//! sees: `ring` (life cycle), `produce`, `consume`, `views` (native memory handed to
//! JavaScript), `stats`, `removal` (live removal from any thread), `fast` (the hot calls as raw
//! N-API functions), `checksum` (CRC-32C for the journal), `shm` (rings shared between processes); and `protocol`, the numbers both
//! sides agree on.
#![deny(clippy::all)]

pub mod checksum;
mod consume;
mod engine;
mod error;
mod fast;
mod instance;
mod produce;
mod protocol;
mod registry;
mod removal;
mod ring;
mod shared;
#[cfg(unix)]
mod shm;
mod stats;
mod views;
mod wait;
mod waker;

use napi_derive::napi;

/// Version of the native engine, as built (the crate version, kept equal to the npm version).
///
/// Used to check that the loaded `.node` binary matches the JavaScript package.
#[napi]
pub fn engine_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
