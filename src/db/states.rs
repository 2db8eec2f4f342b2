//! The domain's states as stored: an action's kind, status and risk are `TEXT` columns with
//! a CHECK, read straight into their enums. A stored value the enum does not know is a
//! query error naming the column's type and the value; it never reads as a default (an
//! unknown status read as "failed" would hide a database written by a newer version).
//! Writing goes through `as_str()`, the same words. Ids (`ActionId`, `AnomalyId`) are read
//! the same way, so a row carries its typed id from the query on.

use super::DbConn;
use crate::domain::approval::{Risk, Status};
use crate::domain::ids::{ActionId, AnomalyId};
use crate::domain::optimizer::ActionKind;
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use diesel::Connection;

type Multi = <DbConn as Connection>::Backend;

/// The enum value stored as `text`, or an error that says what was found.
fn known<T>(text: &str, parse: fn(&str) -> Option<T>, what: &str) -> deserialize::Result<T> {
    parse(text).ok_or_else(|| format!("unknown {what} '{text}' in the database").into())
}

macro_rules! stored_as_text {
    ($($t:ty => $what:literal),* $(,)?) => {$(
        impl FromSql<Text, Sqlite> for $t {
            fn from_sql(value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
                known(&text, <$t>::parse, $what)
            }
        }

        impl FromSql<Text, Pg> for $t {
            fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Pg>>::from_sql(value)?;
                known(&text, <$t>::parse, $what)
            }
        }

        impl FromSql<Text, Multi> for $t {
            fn from_sql(value: <Multi as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                value.from_sql::<Self, Text>()
            }
        }

        impl<DB: Backend> diesel::Queryable<Text, DB> for $t
        where
            $t: FromSql<Text, DB>,
        {
            type Row = Self;

            fn build(row: Self) -> deserialize::Result<Self> {
                Ok(row)
            }
        }
    )*};
}

stored_as_text!(
    Status => "action status",
    Risk => "action risk",
    ActionKind => "action kind",
    ActionId => "action id",
    AnomalyId => "anomaly id",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_word_reads_back_and_an_unknown_one_is_an_error() {
        for s in Status::ALL {
            assert_eq!(known(s.as_str(), Status::parse, "action status").unwrap(), s);
        }
        for k in ActionKind::ALL {
            assert_eq!(known(k.as_str(), ActionKind::parse, "action kind").unwrap(), k);
        }
        let err = known("paused", Status::parse, "action status").unwrap_err();
        assert_eq!(err.to_string(), "unknown action status 'paused' in the database");
    }
}

/// Ids compare with their text columns directly (`ac::id.eq(&row.id)`), nullable or not.
macro_rules! id_as_text {
    ($($t:ty),*) => {$(
        impl<'a> diesel::expression::AsExpression<Text> for &'a $t {
            type Expression = diesel::dsl::AsExprOf<&'a str, Text>;
            fn as_expression(self) -> Self::Expression {
                <&'a str as diesel::expression::AsExpression<Text>>::as_expression(self)
            }
        }

        impl<'a> diesel::expression::AsExpression<diesel::sql_types::Nullable<Text>> for &'a $t {
            type Expression = diesel::dsl::AsExprOf<&'a str, diesel::sql_types::Nullable<Text>>;
            fn as_expression(self) -> Self::Expression {
                <&'a str as diesel::expression::AsExpression<diesel::sql_types::Nullable<Text>>>::as_expression(self)
            }
        }
    )*};
}

id_as_text!(ActionId, AnomalyId);
