//! Node.js binding for the `disruptor-core` engine.
//!
//! This crate is only conversion and thread-safe-function plumbing between JavaScript and the
//! pure-Rust engine; no Disruptor algorithm lives here. The generated JavaScript loader is
//! `binding.js` (with `binding.d.ts`); the public API is the hand-written `index.ts`.
#![deny(clippy::all)]

mod engine;
mod error;
mod registry;
mod ring;
mod waker;

use napi_derive::napi;

/// Version of the native engine, as built (the crate version, kept equal to the npm version).
///
/// Used to check that the loaded `.node` binary matches the JavaScript package.
#[napi]
pub fn engine_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
