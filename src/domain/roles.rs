//! Roles: the built-in set, containment, and each user's effective roles.
//!
//! A user's effective roles (granted directly or contained by a granted role) are kept in the
//! read-only `sys_user.roles` field, recomputed in the same transaction as any write that changes
//! them, so authentication reads one row and never walks the role graph.

use std::collections::{BTreeSet, HashMap};

use super::{Result, input::Changes};
use crate::model::filter::{Filter, Select};
use crate::model::registry::{self, field};
use crate::model::value::Value;
use crate::storage::Tx;

pub use crate::model::roles::ADMIN;
use crate::model::roles::{BUILT_IN, BUILT_IN_CONTAINS};

/// Whether a user whose effective roles are `roles` (the `sys_user.roles` list) holds `role`.
pub fn holds(roles: &str, role: &str) -> bool {
    roles.split(',').any(|r| r == role || r == ADMIN)
}

/// Every role reachable from `direct` through containment (role ids in, role ids out).
pub fn closure<'a>(
    direct: impl IntoIterator<Item = &'a str>,
    contains: &HashMap<&'a str, Vec<&'a str>>,
) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> = direct.into_iter().collect();
    while let Some(role) = stack.pop() {
        if seen.insert(role) {
            stack.extend(contains.get(role).into_iter().flatten().copied());
        }
    }
    seen
}

/// The role graph, loaded once per recomputation: role id to name, and containment edges.
struct Graph {
    names: HashMap<String, String>,
    edges: Vec<(String, String)>,
}

impl Graph {
    async fn load(tx: &mut Tx) -> Result<Graph> {
        let names = tx
            .select(&registry::SYS_USER_ROLE, &Select::all())
            .await?
            .into_iter()
            .map(|r| {
                (
                    r.sys_id().to_owned(),
                    r.str("name").unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let edges = tx
            .select(&registry::SYS_USER_ROLE_CONTAINS, &Select::all())
            .await?
            .into_iter()
            .filter_map(|r| Some((r.str("role")?.to_owned(), r.str("contains")?.to_owned())))
            .collect();
        Ok(Graph { names, edges })
    }

    /// The `sys_user.roles` text for a user granted `direct` role ids.
    fn effective(&self, direct: &[String]) -> Value {
        let mut contains: HashMap<&str, Vec<&str>> = HashMap::new();
        for (role, inner) in &self.edges {
            contains
                .entry(role.as_str())
                .or_default()
                .push(inner.as_str());
        }
        let names: BTreeSet<&str> = closure(direct.iter().map(String::as_str), &contains)
            .into_iter()
            .filter_map(|id| self.names.get(id).map(String::as_str))
            .collect();
        Value::text(names.into_iter().collect::<Vec<_>>().join(","))
    }
}

/// Recomputes `sys_user.roles` for the given users, or for every user when `users` is None.
pub async fn recompute(tx: &mut Tx, users: Option<&[&str]>) -> Result<()> {
    // Serialised, so that two concurrent grants (on two nodes) cannot each compute the roles
    // without the other's grant: the second waits, then reads the first's committed rows.
    tx.lock("roles").await?;
    let graph = Graph::load(tx).await?;
    let user_table = &registry::SYS_USER;
    let grants_table = &registry::SYS_USER_HAS_ROLE;
    let (user_filter, grant_filter) = match users {
        Some(ids) => {
            let ids: Vec<Value> = ids.iter().map(|id| Value::text(*id)).collect();
            (
                Filter::one_of(field!(SYS_USER, sys_id), ids.clone()),
                Filter::one_of(field!(SYS_USER_HAS_ROLE, user), ids),
            )
        }
        None => (Filter::All, Filter::All),
    };
    let mut direct: HashMap<String, Vec<String>> = HashMap::new();
    for grant in tx
        .select(grants_table, &Select::filter(grant_filter))
        .await?
    {
        if let (Some(user), Some(role)) = (grant.str("user"), grant.str("role")) {
            direct
                .entry(user.to_owned())
                .or_default()
                .push(role.to_owned());
        }
    }
    for user in tx.select(user_table, &Select::filter(user_filter)).await? {
        let roles = graph.effective(direct.get(user.sys_id()).map_or(&[][..], Vec::as_slice));
        if *user.get("roles") != roles {
            let change = crate::model::value::Record::new().with("roles", roles);
            tx.update(user_table, user.sys_id(), &change).await?;
        }
    }
    Ok(())
}

/// Makes sure every built-in role and containment exists; returns whether anything was added.
pub async fn ensure_builtin(tx: &mut Tx) -> Result<bool> {
    let roles = &registry::SYS_USER_ROLE;
    let mut added = false;
    let mut ids = HashMap::new();
    for (name, description) in BUILT_IN {
        let existing = tx
            .select(
                roles,
                &Select::filter(Filter::eq(field!(SYS_USER_ROLE, name), (*name).into())),
            )
            .await?;
        let id = match existing.first() {
            Some(r) => r.sys_id().to_owned(),
            None => {
                added = true;
                let changes = Changes::default()
                    .set(field!(SYS_USER_ROLE, name), Value::text(*name))
                    .set(
                        field!(SYS_USER_ROLE, description),
                        Value::text(*description),
                    );
                let rec = super::insert(tx, roles, None, changes, "system").await?;
                rec.sys_id().to_owned()
            }
        };
        ids.insert(*name, id);
    }
    let contains = &registry::SYS_USER_ROLE_CONTAINS;
    for (role, inner) in BUILT_IN_CONTAINS {
        let (role, inner) = (&ids[role], &ids[inner]);
        let filter =
            Filter::eq(field!(SYS_USER_ROLE_CONTAINS, role), role.as_str().into()).and(Filter::eq(
                field!(SYS_USER_ROLE_CONTAINS, contains),
                inner.as_str().into(),
            ));
        if tx
            .select(contains, &Select::filter(filter))
            .await?
            .is_empty()
        {
            added = true;
            let changes = Changes::default()
                .set(field!(SYS_USER_ROLE_CONTAINS, role), Value::text(role))
                .set(field!(SYS_USER_ROLE_CONTAINS, contains), Value::text(inner));
            let _ = super::insert(tx, contains, None, changes, "system").await?;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closure_follows_containment_and_survives_cycles() {
        let contains = HashMap::from([("a", vec!["b"]), ("b", vec!["c", "a"]), ("x", vec!["y"])]);
        let got: Vec<_> = closure(["a"], &contains).into_iter().collect();
        assert_eq!(got, ["a", "b", "c"]);
        assert!(closure([], &contains).is_empty());
    }

    #[test]
    fn admin_holds_everything() {
        assert!(holds("admin", "awa_manager"));
        assert!(holds("interaction_agent,awa_manager", "awa_manager"));
        assert!(!holds("interaction_agent", "awa_manager"));
        assert!(!holds("", "awa_manager"));
        assert!(!holds("awa_manager_x", "awa_manager"));
    }
}
