//! Field values between Lua and the database, per field kind and backend: exact decimals,
//! UUIDs (hyphen-less `char(32)` on SQLite, as Django stores them), booleans, JSON, dates.

use mlua::{Lua, Value as LuaValue};
use rust_decimal::Decimal;

use crate::db::Vendor;
use crate::fields::{Field, FieldKind};
use crate::lua::convert;
use crate::lua::decimal::{LuaDecimal, coerce};
use crate::lua::plain::{Plain, PlainRef};
use crate::value::{Value, ValueRef};

/// A Lua value written into a field of `kind`: checked and put in the backend's form.
pub fn to_db(field: &Field, v: &LuaValue, vendor: Vendor) -> Result<Value, String> {
    if v.is_nil() || convert::is_null(v) {
        return Ok(Value::Null);
    }
    use FieldKind::*;
    let kind = field.kind;
    let wrong = |what: &str| {
        format!(
            "a {} cannot hold {} (expected {what})",
            kind.name(),
            describe(v)
        )
    };
    Ok(match kind {
        DecimalField => {
            let d = coerce(v)
                .map_err(|e| e.to_string().replace("runtime error: ", ""))?
                .0;
            Value::Decimal(match field.decimal_places {
                Some(dp) => d.round_dp(dp),
                None => d,
            })
        }
        BooleanField => match v {
            LuaValue::Boolean(b) => Value::Bool(*b),
            _ => return Err(wrong("true or false")),
        },
        UUIDField => match v {
            LuaValue::String(s) => {
                Value::Text(uuid_for(&s.to_str().map_err(|e| e.to_string())?, vendor)?)
            }
            _ => return Err(wrong("a UUID string")),
        },
        JSONField => Value::Json(crate::lua::json::lua_to_json(v, 0).map_err(|e| e.to_string())?),
        DateTimeField => match v {
            LuaValue::String(s) => Value::Text(datetime_for(
                &s.to_str().map_err(|e| e.to_string())?,
                vendor,
            )?),
            _ => return Err(wrong("an ISO 8601 datetime string")),
        },
        DateField | TimeField | CharField | TextField | SlugField | EmailField | URLField => {
            match v {
                LuaValue::String(_) => convert::to_value(v).map_err(|e| e.to_string())?,
                LuaValue::Integer(_) | LuaValue::Number(_) if kind.is_text() => {
                    Value::Text(v.to_string().unwrap_or_default())
                }
                _ => return Err(wrong("a string")),
            }
        }
        BinaryField => match v {
            LuaValue::String(s) => Value::Bytes(s.as_bytes().to_vec()),
            _ => return Err(wrong("a string of bytes")),
        },
        FloatField => match v {
            LuaValue::Integer(i) => Value::Float(*i as f64),
            LuaValue::Number(n) => Value::Float(*n),
            _ => return Err(wrong("a number")),
        },
        _ if kind.is_foreign_key() || kind == ManyToManyField => {
            convert::to_value(v).map_err(|e| e.to_string())?
        }
        _ => match v {
            LuaValue::Integer(i) => Value::Int(*i),
            LuaValue::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::Int(*n as i64),
            _ => return Err(wrong("an integer")),
        },
    })
}

/// [`to_db`] of a plain value where the conversion is a copy: a UTF-8 string into a text,
/// date or time field, an integer into an integer field, a key into a foreign key, a
/// boolean, a number into a float field. None: [`to_db`] converts it (and words any error).
pub fn plain_to_db(field: &Field, v: &Plain) -> Option<Value> {
    plain_as_db(field, v.borrowed()).map(ValueRef::to_value)
}

/// [`plain_into_db`], and also a UUID given as text (what `uuid4()` makes), as `vendor`
/// stores it: the row saves of a UUID fill convert nothing else. None for a string that is
/// not a UUID: the general path words that error.
pub fn plain_or_uuid_into_db(field: &Field, v: Plain, vendor: Vendor) -> Option<Value> {
    match (field.kind, v) {
        (FieldKind::UUIDField, Plain::Text(s)) => uuid_for(&s, vendor).ok().map(Value::Text),
        (_, v) => plain_into_db(field, v),
    }
}

/// [`plain_to_db`] taking the value, so a string is moved rather than copied.
pub fn plain_into_db(field: &Field, v: Plain) -> Option<Value> {
    match v {
        Plain::Text(s) => holds_text_as_is(field).then_some(Value::Text(s)),
        v => plain_as_db(field, v.borrowed()).map(ValueRef::to_value),
    }
}

/// [`plain_to_db`] borrowed: the value as stored, pointing into `v` where it is text.
pub fn plain_as_db<'a>(field: &Field, v: PlainRef<'a>) -> Option<ValueRef<'a>> {
    use FieldKind::*;
    Some(match (field.kind, v) {
        (_, PlainRef::Text(s)) if holds_text_as_is(field) => ValueRef::Text(s),
        (
            AutoField
            | BigAutoField
            | SmallAutoField
            | IntegerField
            | BigIntegerField
            | SmallIntegerField
            | PositiveIntegerField
            | PositiveSmallIntegerField
            | PositiveBigIntegerField
            | ForeignKey
            | OneToOneField,
            PlainRef::Int(i),
        ) => ValueRef::Int(i),
        (BooleanField, PlainRef::Bool(b)) => ValueRef::Bool(b),
        (FloatField, PlainRef::Num(n)) => ValueRef::Float(n),
        (FloatField, PlainRef::Int(i)) => ValueRef::Float(i as f64),
        _ => return None,
    })
}

/// Whether a UTF-8 string goes into `field` unchanged.
fn holds_text_as_is(field: &Field) -> bool {
    use FieldKind::*;
    matches!(
        field.kind,
        CharField
            | TextField
            | SlugField
            | EmailField
            | URLField
            | DateField
            | TimeField
            | ForeignKey
            | OneToOneField
    )
}

fn describe(v: &LuaValue) -> String {
    match v {
        LuaValue::String(s) => format!("the string {:?}", s.to_string_lossy()),
        other => format!("a {}", other.type_name()),
    }
}

/// A UUID as the backend stores it; accepts hyphenated or plain hex.
fn uuid_for(s: &str, vendor: Vendor) -> Result<String, String> {
    let u = uuid::Uuid::parse_str(s.trim()).map_err(|_| format!("'{s}' is not a UUID"))?;
    Ok(match vendor {
        Vendor::Sqlite => u.simple().to_string(),
        Vendor::Postgres => u.hyphenated().to_string(),
    })
}

/// An ISO 8601 datetime as stored: UTC, `YYYY-MM-DD HH:MM:SS[.ffffff]` (Django's SQLite form).
fn datetime_for(s: &str, vendor: Vendor) -> Result<String, String> {
    let t = s.trim();
    let parsed = chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f"))
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M"))
                .map(|n| n.and_utc())
        })
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .map_err(|_| format!("'{s}' is not an ISO 8601 datetime"))?;
    let _ = vendor;
    Ok(parsed.format("%Y-%m-%d %H:%M:%S%.f").to_string())
}

/// A database value read from a field of `kind`, as Lua sees it.
pub fn from_db(lua: &Lua, field: &Field, v: Value) -> mlua::Result<LuaValue> {
    use FieldKind::*;
    match (field.kind, v) {
        (_, Value::Null) => Ok(LuaValue::Nil),
        (BooleanField, Value::Int(i)) => Ok(LuaValue::Boolean(i != 0)),
        (DecimalField, v) => {
            let d = match v {
                Value::Decimal(d) => d,
                Value::Int(i) => Decimal::from(i),
                // A decimal holds at most 28 places; a larger precision would only be cut
                // (and from 65,536 on, `format!` panics).
                Value::Float(f) => {
                    let places = (field.decimal_places.unwrap_or(10) as usize).min(28);
                    format!("{f:.places$}").parse().unwrap_or_default()
                }
                Value::Text(t) => t.trim().parse().unwrap_or_default(),
                _ => Decimal::ZERO,
            };
            let d = match field.decimal_places {
                Some(dp) => {
                    let mut d = d.round_dp(dp);
                    d.rescale(dp);
                    d
                }
                None => d,
            };
            Ok(LuaValue::UserData(lua.create_userdata(LuaDecimal(d))?))
        }
        (UUIDField, Value::Text(t)) => Ok(LuaValue::String(
            lua.create_string(
                uuid::Uuid::parse_str(&t)
                    .map(|u| u.hyphenated().to_string())
                    .unwrap_or(t),
            )?,
        )),
        (JSONField, Value::Text(t)) => {
            let j: serde_json::Value = serde_json::from_str(&t)
                .map_err(|e| mlua::Error::runtime(format!("stored JSON is invalid: {e}")))?;
            crate::lua::json::json_to_lua(lua, &j)
        }
        (DateTimeField, Value::Text(t)) => {
            Ok(LuaValue::String(lua.create_string(iso_datetime(&t))?))
        }
        (_, v) => convert::from_value(lua, &v),
    }
}

/// `2026-11-21 02:30:00.5` (stored) -> `2026-11-21T02:30:00.5Z`.
fn iso_datetime(stored: &str) -> String {
    let t = stored.trim();
    if t.ends_with('Z') || t.contains('+') {
        return t.replacen(' ', "T", 1);
    }
    format!("{}Z", t.replacen(' ', "T", 1))
}

/// The current time for auto_now fields: datetime or date.
pub fn now_for(kind: FieldKind) -> Value {
    let now = chrono::Utc::now();
    match kind {
        FieldKind::DateField => Value::Text(now.format("%Y-%m-%d").to_string()),
        FieldKind::TimeField => Value::Text(now.format("%H:%M:%S%.f").to_string()),
        _ => Value::Text(now.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
    }
}
