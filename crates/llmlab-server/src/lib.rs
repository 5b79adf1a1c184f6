//! LLMLab's HTTP server: the API contract of `API.md` over the catalog, engine, store and
//! recommendations. The only crate that knows HTTP.

pub mod access;
pub mod app;
pub mod auth;
pub mod body;
pub mod config;
pub mod credentials;
pub mod dto;
pub mod error;

pub mod metrics;
pub mod notify;
pub mod openapi;
pub mod query;
pub mod replica;
pub mod routes;
pub mod startup;
pub mod state;

pub mod web;
pub mod webhooks;
