//! The platform's REST conventions: envelopes, negotiation, bodies, errors.

pub mod admission;
pub mod base_url;
pub mod body;
pub mod connection;
pub mod conventions;
pub mod error;
pub mod faults;
pub mod metrics;
pub mod negotiate;
pub mod records_writer;
pub mod replay;
pub mod respond;
pub mod spool;
pub mod xml;

pub use base_url::{BaseUrl, PublicUrl};
pub use body::{Body, BodyLimits, BodyRejection};
pub use connection::Connection;
pub use error::{ApiError, ErrorEnvelope};
pub use negotiate::Format;
pub use records_writer::RecordsWriter;
