//! A small builder for the hand-written read queries: SQL text plus bound values, with
//! the placeholder syntax of the connection's backend. User values are always bound,
//! never formatted into the text.

use chrono::NaiveDateTime;
use diesel::deserialize::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Text, Timestamp};
use diesel::{QueryResult, RunQueryDsl};

use crate::conn::MultiBackend;
use crate::{AnyConnection, Backend};

/// A bound value.
enum Value {
    Int(i64),
    Text(String),
    Bool(bool),
    Timestamp(NaiveDateTime),
}

/// SQL text with its bound values, in order.
pub(crate) struct Sql {
    backend: Backend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub(crate) fn new(backend: Backend) -> Sql {
        Sql {
            backend,
            text: String::with_capacity(512),
            values: Vec::new(),
        }
    }

    /// Appends SQL text (never user input).
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn placeholder(&mut self, value: Value) -> &mut Self {
        self.values.push(value);
        match self.backend {
            Backend::Sqlite => self.text.push('?'),
            Backend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.values.len().to_string());
            }
        }
        self
    }

    /// Appends a placeholder bound to an integer.
    pub(crate) fn int(&mut self, value: i64) -> &mut Self {
        self.placeholder(Value::Int(value))
    }

    /// Appends a placeholder bound to a string.
    pub(crate) fn text(&mut self, value: &str) -> &mut Self {
        self.placeholder(Value::Text(value.to_owned()))
    }

    /// Appends a placeholder bound to a boolean.
    pub(crate) fn bool(&mut self, value: bool) -> &mut Self {
        self.placeholder(Value::Bool(value))
    }

    /// Appends a placeholder bound to a timestamp (naive UTC).
    pub(crate) fn timestamp(&mut self, value: NaiveDateTime) -> &mut Self {
        self.placeholder(Value::Timestamp(value))
    }

    fn boxed(
        self,
    ) -> diesel::query_builder::BoxedSqlQuery<'static, MultiBackend, diesel::query_builder::SqlQuery>
    {
        let mut query = diesel::sql_query(self.text).into_boxed::<MultiBackend>();
        for value in self.values {
            query = match value {
                Value::Int(v) => query.bind::<BigInt, _>(v),
                Value::Text(v) => query.bind::<Text, _>(v),
                Value::Bool(v) => query.bind::<Bool, _>(v),
                Value::Timestamp(v) => query.bind::<Timestamp, _>(v),
            };
        }
        query
    }

    /// Runs a statement, returning the number of rows it affected.
    pub(crate) fn execute(self, conn: &mut AnyConnection) -> QueryResult<usize> {
        self.boxed().execute(conn)
    }

    /// Runs the query and reads every row by column name.
    pub(crate) fn load<T>(self, conn: &mut AnyConnection) -> QueryResult<Vec<T>>
    where
        T: QueryableByName<MultiBackend> + 'static,
    {
        self.boxed().load(conn)
    }
}
