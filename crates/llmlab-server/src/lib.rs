//! LLMLab's HTTP server: the API contract of `API.md` and the dashboard, both thin over
//! the use cases of `llmlab-app`. The only crate that knows HTTP.

pub mod access;
pub mod auth;
pub mod body;
pub mod delivery;
pub mod dto;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod query;
pub mod routes;
pub mod startup;
pub mod web;
