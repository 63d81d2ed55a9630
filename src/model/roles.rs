//! The built-in roles, named once: the registry's read rules, the APIs' role guards, the
//! bootstrap, the demo and the benchmark data all use these constants, so a misspelt role is
//! a compile error rather than a check that never passes.

/// Passes every role check.
pub const ADMIN: &str = "admin";
/// Creates and edits interactions; maps agents.
pub const INTERACTION_AGENT: &str = "interaction_agent";
pub const INTERACTION_ADMIN: &str = "interaction_admin";
/// A contact-center integration calling the AWA integration APIs (conversation members).
pub const AWA_INTEGRATION_USER: &str = "awa_integration_user";
pub const AWA_AGENT: &str = "awa_agent";
/// A supervisor: may observe conversations.
pub const AWA_MANAGER: &str = "awa_manager";
pub const AWA_ADMIN: &str = "awa_admin";
/// An agent whose work a third-party contact center routes (external routing): the Offer Work
/// API offers work only to agents holding it and `awa_agent`. The platform's installed
/// components list no containment for it, so it contains nothing and nothing contains it.
pub const AWA_EXTERNAL_USER: &str = "awa_external_user";
/// Administers the Contact Center Integration Core: reads and writes external id mappings.
pub const SN_CT_CTR_IT_CORE_ADMIN: &str = "sn_ct_ctr_it_core.admin";

/// A contact-center integration calling the Wrap Up API (wrap-up codes and segments).
pub const INTERACTION_INTEGRATION_USER: &str = "interaction_integration_user";

/// Roles present in every database, with their descriptions.
pub const BUILT_IN: &[(&str, &str)] = &[
    (ADMIN, "Full access to every table and API"),
    (INTERACTION_AGENT, "Creates and edits interactions"),
    (INTERACTION_ADMIN, "Administers interactions"),
    (
        AWA_INTEGRATION_USER,
        "Calls the Advanced Work Assignment integration APIs",
    ),
    (AWA_AGENT, "Receives work through Advanced Work Assignment"),
    (
        AWA_MANAGER,
        "Supervises agents and may observe conversations",
    ),
    (AWA_ADMIN, "Administers Advanced Work Assignment"),
    (
        AWA_EXTERNAL_USER,
        "Receives work routed by an external contact center",
    ),
    (
        SN_CT_CTR_IT_CORE_ADMIN,
        "Administers the Contact Center Integration Core (external id mappings)",
    ),
    (
        INTERACTION_INTEGRATION_USER,
        "Calls the Wrap Up API (wrap-up codes and segments)",
    ),
];

/// (role, contained role) pairs present in every database.
pub const BUILT_IN_CONTAINS: &[(&str, &str)] = &[
    (INTERACTION_ADMIN, INTERACTION_AGENT),
    (AWA_MANAGER, INTERACTION_AGENT),
    (AWA_ADMIN, AWA_MANAGER),
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_contained_role_is_built_in() {
        for (role, inner) in super::BUILT_IN_CONTAINS {
            for name in [role, inner] {
                assert!(super::BUILT_IN.iter().any(|(r, _)| r == name), "{name}");
            }
        }
    }
}
