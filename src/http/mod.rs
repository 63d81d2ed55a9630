//! The platform's REST conventions: envelopes, negotiation, bodies, errors.

pub mod body;
pub mod conventions;
pub mod error;
pub mod negotiate;
pub mod records_writer;
pub mod replay;
pub mod respond;
pub mod xml;

pub use body::Body;
pub use error::ApiError;
pub use negotiate::Format;
pub use records_writer::RecordsWriter;
