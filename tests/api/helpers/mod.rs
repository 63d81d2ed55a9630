//! What the tests share: the server under test and its database, requests and the reading of
//! answers, records, raw HTTP/1.1. A step that two test modules take the same way belongs here,
//! named for what it does.

mod answers;
mod app;
pub mod awa;
mod backend;
pub mod provider;
mod queries;
mod raw;
mod records;
mod requests;
mod seed;

pub use answers::*;
pub use app::*;
pub use backend::*;
pub use queries::*;
pub use raw::*;
pub use records::*;
pub use requests::*;
pub use seed::*;
