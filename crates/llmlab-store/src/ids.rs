//! Typed ids: a workspace, a user, a budget and a key are different things, so a call
//! such as `budgets::get(conn, workspace, id)` cannot take its two integers swapped.
//! Each is a BIGINT in both databases and a plain number on the wire.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::BigInt;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = BigInt)]
        pub struct $name(pub i64);

        impl $name {
            /// The number, as stored and sent.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl<DB: Backend> ToSql<BigInt, DB> for $name
        where
            i64: ToSql<BigInt, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.0.to_sql(out)
            }
        }

        impl<DB: Backend> FromSql<BigInt, DB> for $name
        where
            i64: FromSql<BigInt, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                i64::from_sql(bytes).map($name)
            }
        }
    )*};
}

id_type! {
    /// A workspace: the tenant every resource belongs to.
    WorkspaceId;
    /// A person who signs in.
    UserId;
    /// A budget.
    BudgetId;
    /// An API key.
    ApiKeyId;
    /// A notification channel.
    ChannelId;
    /// An invitation to a workspace.
    InvitationId;
}
