//! Values on their way between Lua, the engine and a database, independent of backend.

use rust_decimal::Decimal;

/// One SQL value. Dates, datetimes, times and UUIDs travel as text in their canonical form
/// (`YYYY-MM-DD`, ISO 8601 UTC, `HH:MM:SS`, hyphenated lowercase UUID); each backend
/// converts them at bind time.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Decimal(Decimal),
    Json(serde_json::Value),
}

/// A [`Value`] borrowed, so that one can be compared or keyed without copying its text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(&'a str),
    Bytes(&'a [u8]),
    Decimal(&'a Decimal),
    Json(&'a serde_json::Value),
}

impl ValueRef<'_> {
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Float(f) => Value::Float(f),
            ValueRef::Text(t) => Value::Text(t.to_string()),
            ValueRef::Bytes(b) => Value::Bytes(b.to_vec()),
            ValueRef::Decimal(d) => Value::Decimal(*d),
            ValueRef::Json(j) => Value::Json(j.clone()),
        }
    }
}

impl Value {
    pub fn borrowed(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Bool(b) => ValueRef::Bool(*b),
            Value::Int(i) => ValueRef::Int(*i),
            Value::Float(f) => ValueRef::Float(*f),
            Value::Text(t) => ValueRef::Text(t),
            Value::Bytes(b) => ValueRef::Bytes(b),
            Value::Decimal(d) => ValueRef::Decimal(d),
            Value::Json(j) => ValueRef::Json(j),
        }
    }

    /// True for SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A literal form for SQL text that is shown, never executed (`sqlmigrate` prints defaults
    /// this way, as Django does).
    pub fn to_sql_literal(&self) -> String {
        match self {
            Value::Null => "NULL".into(),
            Value::Bool(b) => if *b { "1" } else { "0" }.into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format!("{f:?}"),
            Value::Text(s) => quote_literal(s),
            Value::Bytes(b) => {
                let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                format!("X'{hex}'")
            }
            Value::Decimal(d) => format!("'{d}'"),
            Value::Json(j) => quote_literal(&j.to_string()),
        }
    }
}

/// `'it''s'`: a string as an SQL literal.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A value as a column of `kind` stores it on `vendor`: booleans as booleans, UUIDs without
/// hyphens on SQLite (as Django stores them), decimals exact, JSON as JSON text.
pub fn column_value(kind: crate::fields::FieldKind, v: &Value, vendor: crate::db::Vendor) -> Value {
    use crate::fields::FieldKind as K;
    match (kind, v) {
        (_, Value::Null) => Value::Null,
        (K::JSONField, Value::Json(_)) => v.clone(),
        (K::JSONField, other) => Value::Json(match other {
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Text(s) => serde_json::Value::String(s.clone()),
            Value::Decimal(d) => serde_json::Value::String(d.to_string()),
            _ => serde_json::Value::Null,
        }),
        (K::UUIDField, Value::Text(s)) if vendor == crate::db::Vendor::Sqlite => {
            Value::Text(s.replace('-', "").to_lowercase())
        }
        (K::DecimalField, Value::Text(s)) => s
            .trim()
            .parse()
            .map(Value::Decimal)
            .unwrap_or_else(|_| v.clone()),
        (K::DecimalField, Value::Int(i)) => Value::Decimal(Decimal::from(*i)),
        (K::BooleanField, Value::Int(i)) => Value::Bool(*i != 0),
        _ => v.clone(),
    }
}
