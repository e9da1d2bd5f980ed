//! Roles and what each may do.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including users, API keys and webhook subscriptions.
    Admin,
    /// Contacts, campaigns, calls and do-not-call lists.
    Operator,
    /// Read only.
    Viewer,
}

crate::named_enum!(Role {
    Admin => "admin",
    Operator => "operator",
    Viewer => "viewer",
});

impl Role {
    /// Whether this role may change contacts, campaigns, calls and do-not-call entries.
    pub fn can_operate(self) -> bool {
        matches!(self, Role::Admin | Role::Operator)
    }

    /// Whether this role may manage users, API keys and webhook subscriptions.
    pub fn can_administer(self) -> bool {
        self == Role::Admin
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s).ok_or_else(|| format!("unknown role `{s}` (admin, operator, viewer)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_follow_the_role_ladder() {
        assert!(Role::Admin.can_administer() && Role::Admin.can_operate());
        assert!(!Role::Operator.can_administer() && Role::Operator.can_operate());
        assert!(!Role::Viewer.can_administer() && !Role::Viewer.can_operate());
    }

    #[test]
    fn roles_round_trip_through_text() {
        for &r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }
}
