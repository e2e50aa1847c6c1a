//! openai-to-workers-ai: an OpenAI-compatible API gateway for Cloudflare Workers AI.
//!
//! The pure core (`error`, `models`, `policy`, `transform`) builds and is tested natively; the
//! wasm shell (`entry`, `handlers`, `platform`) exists only in the Workers build, so the core
//! provably never touches runtime types.

pub mod error;
pub mod models;
pub mod policy;
pub mod transform;

#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
mod handlers;
#[cfg(target_arch = "wasm32")]
mod platform;
