//! The caller's values in a condition: a caller function (`javascript:gs.getUserID()` and its
//! kin, [`crate::model::caller_values`]) or the `DYNAMIC` "Me" option, on a field that can hold
//! them.

use super::Typing;
use crate::model::caller_values::{CallerValue, Function};
use crate::model::filter::{Asker, FilterError};
use crate::model::query::DynamicOption;
use crate::model::registry::{FieldType, SYS_USER};
use crate::model::value::Value;

impl Typing<'_> {
    /// Whether the field is a reference to users, where the caller is a record.
    fn refers_to_users(&self) -> bool {
        matches!(self.field.ty, FieldType::Reference(target) if *target == SYS_USER)
    }

    /// What a caller function stands for here: on a text field its text (`sys_id`,
    /// `user_name`); on a reference to users, the caller's record, whichever of the two the
    /// function names (a user name names one user, `user_name` being unique).
    pub(super) fn caller_value(&self, function: &Function) -> Result<Value, FilterError> {
        let to_user = self.refers_to_users();
        if !to_user && self.field.ty != FieldType::String {
            return Err(self.refuse(&format!(
                "{} is the caller's {}, for a text field or a reference to sys_user",
                function.spelling(),
                function.value.what()
            )));
        }
        let Asker::User { sys_id, user_name } = self.context.asker else {
            return Err(self.refuse(&format!(
                "{} is the caller's {}, and this query has no caller",
                function.spelling(),
                function.value.what()
            )));
        };
        let value = match function.value {
            _ if to_user => sys_id,
            CallerValue::SysId => sys_id,
            CallerValue::UserName => user_name,
        };
        Ok(Value::Text(value.to_owned()))
    }

    /// `DYNAMIC`: the caller's sys_id for "Me", on a reference to users.
    pub(super) fn dynamic(&self, option: DynamicOption) -> Result<Value, FilterError> {
        let DynamicOption::Me = option;
        if !self.refers_to_users() {
            return Err(self.refuse("DYNAMIC Me needs a reference to sys_user"));
        }
        match self.context.asker {
            Asker::User { sys_id, .. } => Ok(Value::Text(sys_id.to_owned())),
            Asker::Nobody => {
                Err(self.refuse("DYNAMIC Me is the caller, and this query has no caller"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{MY_SYS_ID, MY_USER_NAME, op, refused, resolved, resolved_for, text};
    use crate::model::filter::{Asker, Filter, Op};
    use crate::model::registry::field;

    #[test]
    fn caller_functions_on_a_reference_to_users_are_the_callers_record() {
        let me = || text(MY_SYS_ID);
        for function in [
            "gs.getUserID()",
            "gs.getUser().getID()",
            // A user name names one user: the caller.
            "gs.getUserName()",
            "gs.getUser().getName()",
        ] {
            let q = |op: &str| format!("assigned_to{op}javascript:{function}");
            assert_eq!(op("interaction", &q("=")), Op::Eq(me()), "{function}");
            assert_eq!(op("interaction", &q("!=")), Op::Ne(me()), "{function}");
            let listed = format!("assigned_toINabc,javascript:{function}");
            assert_eq!(
                op("interaction", &listed),
                Op::In(vec![text("abc"), me()]),
                "{function}"
            );
            let listed = format!("assigned_toNOT INjavascript:{function}");
            assert_eq!(
                op("interaction", &listed),
                Op::NotIn(vec![me()]),
                "{function}"
            );
        }
        // Walked to a reference to users, and from one.
        let walked = "conversation.interaction.opened_by=javascript:gs.getUserID()";
        assert!(matches!(
            resolved("sys_cs_conversation_member", walked),
            Ok(Filter::Refers(_))
        ));
        let Ok(Filter::Refers(through)) = resolved(
            "sys_user_has_role",
            "user.user_name=javascript:gs.getUserName()",
        ) else {
            panic!()
        };
        assert_eq!(
            *through.matching,
            Filter::Cond(field!(SYS_USER, user_name), Op::Eq(text(MY_USER_NAME)))
        );
    }

    #[test]
    fn caller_functions_on_a_text_field_are_its_text() {
        for (t, q, expected) in [
            // How clients find their own user record.
            ("sys_user", "sys_id=javascript:gs.getUserID()", MY_SYS_ID),
            (
                "sys_user",
                "user_name=javascript:gs.getUserName()",
                MY_USER_NAME,
            ),
            (
                "sys_user",
                "user_name=javascript:gs.getUser().getName()",
                MY_USER_NAME,
            ),
            (
                "interaction",
                "sys_created_by=javascript:gs.getUserName()",
                MY_USER_NAME,
            ),
            // The text is compared whatever the field holds.
            (
                "interaction",
                "short_description=javascript:gs.getUserID()",
                MY_SYS_ID,
            ),
        ] {
            assert_eq!(op(t, q), Op::Eq(text(expected)), "{q}");
        }
        assert_eq!(
            op("sys_user", "user_name!=javascript:gs.getUserName()"),
            Op::Ne(text(MY_USER_NAME))
        );
    }

    #[test]
    fn caller_functions_elsewhere_are_refused() {
        for (t, q, words) in [
            (
                "interaction",
                "queue=javascript:gs.getUserID()",
                "gs.getUserID() is the caller's sys_id, for a text field or a reference to sys_user",
            ),
            (
                "interaction",
                "opened_at<javascript:gs.getUserID()",
                "the caller's sys_id, for a text field",
            ),
            (
                "interaction",
                "active=javascript:gs.getUser().getName()",
                "gs.getUser().getName() is the caller's user_name, for a text field",
            ),
            (
                "sys_user",
                "sys_mod_count=javascript:gs.getUserName()",
                "the caller's user_name, for a text field",
            ),
            (
                "interaction_json_blob",
                "value=javascript:gs.getUserID()",
                "for a text field",
            ),
            // Text tests compare no function's value.
            (
                "interaction",
                "assigned_toLIKEjavascript:gs.getUserName()",
                "runs no script",
            ),
            (
                "sys_user",
                "user_nameSTARTSWITHjavascript:gs.getUserName()",
                "runs no script",
            ),
            // Not on the list.
            (
                "interaction",
                "assigned_to=javascript:gs.getUser().getDisplayName()",
                "not a function switchboard reads",
            ),
            (
                "interaction",
                "assigned_to=javascript:gs.getUserID(); gs.log('x')",
                "not a function switchboard reads",
            ),
        ] {
            let detail = refused(t, q);
            assert!(detail.contains(words), "{q}: {detail}");
        }
    }

    #[test]
    fn dynamic_me_is_the_callers_record_on_a_reference_to_users() {
        for id in [
            "90d1921e5f510100a9ad2572f2b477fe",
            "54635e965f510100a9ad2572f2b4774c",
        ] {
            let q = format!("assigned_toDYNAMIC{id}");
            assert_eq!(op("interaction", &q), Op::Eq(text(MY_SYS_ID)), "{q}");
        }
        let walked = "interaction.opened_byDYNAMIC90d1921e5f510100a9ad2572f2b477fe";
        assert!(resolved("sys_cs_conversation", walked).is_ok());
        for (t, q) in [
            (
                "interaction",
                "queueDYNAMIC90d1921e5f510100a9ad2572f2b477fe",
            ),
            (
                "interaction",
                "short_descriptionDYNAMIC90d1921e5f510100a9ad2572f2b477fe",
            ),
            ("sys_user", "sys_idDYNAMIC90d1921e5f510100a9ad2572f2b477fe"),
        ] {
            let detail = refused(t, q);
            assert!(
                detail.contains("DYNAMIC Me needs a reference to sys_user"),
                "{q}: {detail}"
            );
        }
    }

    #[test]
    fn without_a_caller_the_callers_values_are_refused() {
        for q in [
            "assigned_to=javascript:gs.getUserID()",
            "assigned_toDYNAMIC90d1921e5f510100a9ad2572f2b477fe",
            "sys_created_by=javascript:gs.getUserName()",
        ] {
            let detail = resolved_for(Asker::Nobody, "interaction", q).unwrap_err().0;
            assert!(detail.contains("this query has no caller"), "{q}: {detail}");
        }
        // Dates need no caller.
        let q = "opened_at>javascript:gs.beginningOfToday()";
        assert!(resolved_for(Asker::Nobody, "interaction", q).is_ok());
    }
}
