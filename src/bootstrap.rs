//! What every database holds from its first start: the built-in roles and a first admin.

use crate::filter::{Filter, Select};
use crate::record::Value;
use crate::records::{self, Changes, RecordError, roles};
use crate::registry::table;
use crate::storage::Storage;

/// The sys_id `admin` has on every instance of the platform (it appears in the documentation's
/// samples as `closed_by`), so samples and scripts that hard-code it work here too.
pub const ADMIN_SYS_ID: &str = "6816f79cc0a8016401c5a33be04be441";

/// Makes sure the built-in roles exist and, on a database with no users, creates `admin`.
pub async fn run(store: &dyn Storage, admin_password: Option<&str>) -> Result<(), RecordError> {
    let users = table("sys_user").expect("sys_user");
    let needs_admin = store.count(users, &Filter::All).await? == 0;
    let (password, generated) = match admin_password {
        Some(p) if !p.is_empty() => (p.to_owned(), false),
        _ => (crate::record::new_sys_id(), true),
    };
    let hash = if needs_admin {
        Some(crate::auth::password::hash(password.clone()).await?)
    } else {
        None
    };
    let mut tx = store.begin().await?;
    // Nodes starting together take turns, so the roles and the admin are created once.
    tx.lock("bootstrap").await?;
    roles::ensure_builtin(&mut *tx).await?;
    // Checked again inside the transaction: another node may have created the admin meanwhile.
    let still_empty = tx.select(users, &Select::all().limit(1)).await?.is_empty();
    if let (Some(hash), true) = (hash, still_empty) {
        let field = |name| users.field(name).expect("sys_user field");
        let changes = Changes::default()
            .set(field("user_name"), Value::text("admin"))
            .set(field("first_name"), Value::text("System"))
            .set(field("last_name"), Value::text("Administrator"))
            .set(field("user_password"), Value::Text(hash));
        let id = Some(ADMIN_SYS_ID.to_owned());
        let (admin, _) = records::insert(&mut *tx, users, id, changes, "system").await?;
        grant(&mut *tx, admin.sys_id(), roles::ADMIN).await?;
        if generated {
            tracing::warn!(
                "created user 'admin' with password '{password}' (shown once; set SWITCHBOARD_ADMIN_PASSWORD to choose it)"
            );
        } else {
            tracing::info!(
                "created user 'admin' with the password from SWITCHBOARD_ADMIN_PASSWORD"
            );
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Grants a role (by name) to a user, if not already granted.
pub async fn grant(
    tx: &mut dyn crate::storage::Tx,
    user: &str,
    role: &str,
) -> Result<(), RecordError> {
    let grants = table("sys_user_has_role").expect("sys_user_has_role");
    let role_id = records::resolve_reference(tx, "role", "sys_user_role", role).await?;
    let filter = Filter::eq(grants, "user", user.into()).and(Filter::eq(
        grants,
        "role",
        role_id.as_str().into(),
    ));
    if tx
        .select(grants, &Select::filter(filter).limit(1))
        .await?
        .is_empty()
    {
        let changes = Changes::default()
            .set(grants.field("user").expect("user"), Value::text(user))
            .set(grants.field("role").expect("role"), Value::Text(role_id));
        let _ = records::insert(tx, grants, None, changes, "system").await?;
    }
    Ok(())
}
