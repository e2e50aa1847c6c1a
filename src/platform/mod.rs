//! The Workers-runtime side: the `env.AI` binding, streams and HTTP responses. wasm32 only.

pub mod ai;
pub mod catalogue;
pub mod fetch;
pub mod http;
pub mod rate_limit;
pub mod store;
