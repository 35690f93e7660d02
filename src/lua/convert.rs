//! Plain conversions between Lua values and engine [`Value`]s.

use mlua::{Lua, Value as LuaValue};

use crate::value::Value;

/// Whether a Lua value is `models.NULL`.
pub fn is_null(v: &LuaValue) -> bool {
    match v {
        LuaValue::Table(t) => t
            .metatable()
            .and_then(|mt| mt.get::<String>("__name").ok())
            .is_some_and(|n| n == "luamig.NULL"),
        _ => false,
    }
}

/// A Lua value as a [`Value`]: nil and models.NULL are NULL, tables are JSON, a
/// `luamig.decimal` is an exact decimal.
pub fn to_value(v: &LuaValue) -> mlua::Result<Value> {
    Ok(match v {
        LuaValue::Nil => Value::Null,
        LuaValue::Boolean(b) => Value::Bool(*b),
        LuaValue::Integer(i) => Value::Int(*i),
        LuaValue::Number(n) => Value::Float(*n),
        LuaValue::String(s) => match s.to_str() {
            Ok(text) => Value::Text(text.to_string()),
            Err(_) => Value::Bytes(s.as_bytes().to_vec()),
        },
        t @ LuaValue::Table(_) if is_null(t) => Value::Null,
        LuaValue::Table(_) => Value::Json(super::json::lua_to_json(v, 0)?),
        LuaValue::UserData(ud) => match ud.borrow::<super::decimal::LuaDecimal>() {
            Ok(d) => Value::Decimal(d.0),
            Err(_) => {
                return Err(mlua::Error::runtime(format!(
                    "a {} cannot be stored in the database",
                    v.type_name()
                )));
            }
        },
        other => {
            return Err(mlua::Error::runtime(format!(
                "a {} cannot be stored in the database",
                other.type_name()
            )));
        }
    })
}

/// A [`Value`] as a plain Lua value (JSON as tables, decimals as `luamig.decimal`).
pub fn from_value(lua: &Lua, v: &Value) -> mlua::Result<LuaValue> {
    Ok(match v {
        Value::Null => LuaValue::Nil,
        Value::Bool(b) => LuaValue::Boolean(*b),
        Value::Int(i) => LuaValue::Integer(*i),
        Value::Float(f) => LuaValue::Number(*f),
        Value::Text(s) => LuaValue::String(lua.create_string(s)?),
        Value::Bytes(b) => LuaValue::String(lua.create_string(b)?),
        Value::Decimal(d) => {
            LuaValue::UserData(lua.create_userdata(super::decimal::LuaDecimal(*d))?)
        }
        Value::Json(j) => super::json::json_to_lua(lua, j)?,
    })
}
