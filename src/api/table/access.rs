//! Who may use the Table API on which table.
//!
//! `admin` may read and write every table. Anyone else may only read, and only the tables whose
//! registry entry names one of their roles (or that any authenticated user may read).

use crate::auth::Caller;
use crate::http::ApiError;
use crate::model::registry::{ReadAccess, Table};

pub fn can_read(caller: &Caller, table: &Table) -> bool {
    caller.is_admin()
        || match table.read {
            ReadAccess::Authenticated => true,
            ReadAccess::Roles(roles) => roles.iter().any(|r| caller.has_role(r)),
            ReadAccess::AdminOnly => false,
        }
}

pub fn require_read(caller: &Caller, table: &Table) -> Result<(), ApiError> {
    if can_read(caller, table) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "ACL Exception Read Failed due to security constraints",
        ))
    }
}

/// `verb` names the operation in the platform's message: Insert, Update or Delete.
pub fn require_write(caller: &Caller, verb: &str) -> Result<(), ApiError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "ACL Exception {verb} Failed due to security constraints"
        )))
    }
}
