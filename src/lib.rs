//! switchboard: a self-hosted stand-in for the ServiceNow contact-center REST APIs.
//!
//! The map, from the outside in:
#![forbid(unsafe_code)]

/// Shared state and the router.
pub mod app;
/// Authentication (Basic, OAuth bearer tokens), login throttling and role guards.
pub mod auth;
/// The benchmark data set of `bench-data`.
pub mod bench_data;
/// Built-in roles and the first admin, present from a database's first start.
pub mod bootstrap;
/// The command line (`serve`, `migrate`).
pub mod cli;
/// The demo data set of `serve --demo`.
pub mod demo;
/// Typed, table-checked query conditions.
pub mod filter;
/// The platform's REST conventions: envelopes, negotiation, bodies, errors, XML.
pub mod http;
/// The Interaction Management API.
pub mod interaction_api;
/// The Agent Mapping API.
pub mod mapping_api;
/// The Conversation Member API.
pub mod member_api;
/// OAuth 2.0: the token and revocation endpoints.
pub mod oauth;
/// The OpenAPI document of every route.
pub mod openapi;
/// The encoded-query (`sysparm_query`) parser.
pub mod query;
/// Inbound rate limits per user and API, as the platform's rate limit rules.
pub mod ratelimit;
/// Record values, sys_ids and timestamps.
pub mod record;
/// Rules about records, applied on every write path.
pub mod records;
/// Every table and field switchboard stores.
pub mod registry;
/// Serving HTTP: connection limits, timeouts, graceful shutdown.
pub mod server;
/// Storage behind one trait: embedded SQLite, or PostgreSQL for several nodes.
pub mod storage;
/// The Table API over every registry table.
pub mod table_api;
/// TLS (rustls) for `serve --tls-cert --tls-key`.
pub mod tls;

#[cfg(test)]
mod proptest_config;
