//! Integration tests: a real server (in-process on a free port, or the binary) on a fresh
//! database, driven over HTTP as a client would.

mod helpers;

mod attachment;
mod auth;
mod auth_races;
mod awa_agent;
mod awa_races;
mod awa_states;
mod backends;
mod base_urls;
mod batch;
mod binary;
mod conventions;
mod crash;
mod demo;
mod dot_walking;
mod durability;
mod hostile;
mod http2;
mod interaction_api;
mod layers;
mod limits;
mod mapping_api;
mod member_api;
mod migrations;
mod multi_node;
mod negotiation;
mod oauth;
mod openapi;
mod page_admission;
mod query;
mod query_caller;
mod query_operators;
mod races;
mod rate_limits;
mod references;
mod schema;
mod stats;
mod storage_faults;
mod table_api;
mod throttle;
mod tiny_url;
mod tls;
