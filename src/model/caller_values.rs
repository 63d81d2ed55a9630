//! The caller's own values in encoded queries: the `javascript:gs.getUserID()` family that the
//! platform's condition builder and its clients write where they mean "me".
//!
//! As with the date functions ([`super::dates`]), a function is read as data, by its name from a
//! fixed list, and stands for a value of the user the query is resolved for; nothing is run.

/// What a caller function stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerValue {
    /// The caller's sys_id.
    SysId,
    /// The caller's `user_name`.
    UserName,
}

/// A function read: a chain of calls without arguments after `gs.`, and what it gives.
#[derive(Debug, PartialEq, Eq)]
pub struct Function {
    pub calls: &'static [&'static str],
    pub value: CallerValue,
}

/// The functions read: `gs.getUserID()` (the platform's own, in its condition builder and its
/// docs), `gs.getUser().getID()`, and `gs.getUserName()` and `gs.getUser().getName()` (what
/// clients send to find their own `sys_user` record: `user_name=javascript:gs.getUserName()`).
pub const FUNCTIONS: [Function; 4] = [
    Function {
        calls: &["getUserID"],
        value: CallerValue::SysId,
    },
    Function {
        calls: &["getUser", "getID"],
        value: CallerValue::SysId,
    },
    Function {
        calls: &["getUserName"],
        value: CallerValue::UserName,
    },
    Function {
        calls: &["getUser", "getName"],
        value: CallerValue::UserName,
    },
];

impl Function {
    /// How the list writes it: `gs.getUser().getID()`.
    pub fn spelling(&self) -> String {
        let calls: Vec<String> = self.calls.iter().map(|name| format!("{name}()")).collect();
        format!("gs.{}", calls.join("."))
    }
}

impl CallerValue {
    /// What the value is, as an error message says it.
    pub fn what(self) -> &'static str {
        match self {
            CallerValue::SysId => "sys_id",
            CallerValue::UserName => "user_name",
        }
    }
}

/// The function `script` (what follows `javascript:`) is, if it is one of the [`FUNCTIONS`]:
/// `gs.` and the calls, spaces allowed around each name and parenthesis.
pub fn function(script: &str) -> Option<&'static Function> {
    let mut parts = script.split('.');
    if parts.next()?.trim() != "gs" {
        return None;
    }
    // Longer chains than any on the list are not read past their third call.
    let mut names = Vec::with_capacity(2);
    for part in parts.take(3) {
        names.push(no_argument_call(part)?);
    }
    FUNCTIONS.iter().find(|f| f.calls == names.as_slice())
}

/// `name()` (spaces allowed around the name and inside the parentheses): the name.
fn no_argument_call(part: &str) -> Option<&str> {
    let open = part
        .trim()
        .strip_suffix(')')?
        .trim_end()
        .strip_suffix('(')?;
    let name = open.trim_end();
    let plain = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric());
    plain.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_functions() {
        for (script, expected) in [
            ("gs.getUserID()", CallerValue::SysId),
            ("gs.getUser().getID()", CallerValue::SysId),
            ("gs.getUserName()", CallerValue::UserName),
            ("gs.getUser().getName()", CallerValue::UserName),
            (" gs.getUserID( ) ", CallerValue::SysId),
            ("gs.getUser ().getID ()", CallerValue::SysId),
        ] {
            assert_eq!(
                function(script).map(|f| f.value),
                Some(expected),
                "{script}"
            );
        }
    }

    #[test]
    fn anything_else_is_not_read() {
        for script in [
            "",
            "gs",
            "gs.",
            "gs.getUserID",
            "gs.getUserID(1)",
            "gs.getUserID('x')",
            "gs.getUserID();",
            "gs.getUserID(); gs.log('x')",
            "gs.getuserid()",
            "gs.getUserId()",
            "gs.getUser()",
            "gs.getUser().getID",
            "gs.getUser().getID().toString()",
            "gs.getUser().getDisplayName()",
            "gs.getUserDisplayName()",
            "gs.getUser().getMyGroups()",
            "gs.getUser.getID()",
            "getUserID()",
            "g_user.userID",
            "new GlideUser().getID()",
            "gs.get User ID()",
            "gs.daysAgo(1)",
            "gs..getUserID()",
        ] {
            assert_eq!(function(script), None, "{script}");
        }
    }

    #[test]
    fn each_function_reads_as_it_is_spelt() {
        for f in &FUNCTIONS {
            assert_eq!(function(&f.spelling()), Some(f), "{}", f.spelling());
        }
        assert_eq!(FUNCTIONS[1].spelling(), "gs.getUser().getID()");
    }

    #[test]
    fn long_chains_stop_early() {
        let chain = format!("gs{}", ".getUser()".repeat(10_000));
        assert_eq!(function(&chain), None);
    }
}
