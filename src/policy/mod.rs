//! Request policy shared by every route: which route, who is calling, CORS, limits. Pure.

pub mod auth;
pub mod cache;
pub mod config;
pub mod cors;
pub mod idempotency;
pub mod limits;
pub mod log;
pub mod rate_limit;
pub mod routes;
pub mod upstream;
