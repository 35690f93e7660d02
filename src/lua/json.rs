//! JSON <-> Lua tables, for JSONField values and the `luamig.json` module.

use mlua::{Lua, Table, Value as LuaValue};
use serde_json::Value as Json;

/// Converts a Lua value to JSON: a table with keys 1..n is an array, any other table an
/// object (an empty table is an empty object).
pub fn lua_to_json(v: &LuaValue, depth: usize) -> mlua::Result<Json> {
    if depth > 200 {
        return Err(mlua::Error::runtime(
            "JSON value is nested more than 200 levels deep",
        ));
    }
    Ok(match v {
        LuaValue::Nil => Json::Null,
        LuaValue::Boolean(b) => Json::Bool(*b),
        LuaValue::Integer(i) => Json::from(*i),
        LuaValue::Number(n) => serde_json::Number::from_f64(*n)
            .map(Json::Number)
            .ok_or_else(|| mlua::Error::runtime("NaN and infinity cannot be stored as JSON"))?,
        LuaValue::String(s) => Json::String(s.to_str()?.to_string()),
        LuaValue::Table(t) => table_to_json(t, depth)?,
        other => {
            return Err(mlua::Error::runtime(format!(
                "a {} cannot be stored as JSON",
                other.type_name()
            )));
        }
    })
}

fn table_to_json(t: &Table, depth: usize) -> mlua::Result<Json> {
    if is_null(t) {
        return Ok(Json::Null);
    }
    let len = t.raw_len();
    let mut count = 0usize;
    for pair in t.pairs::<LuaValue, LuaValue>() {
        pair?;
        count += 1;
    }
    if len > 0 && count == len {
        let mut arr = Vec::with_capacity(len);
        for i in 1..=len {
            arr.push(lua_to_json(&t.raw_get::<LuaValue>(i)?, depth + 1)?);
        }
        return Ok(Json::Array(arr));
    }
    let mut obj = serde_json::Map::new();
    for pair in t.pairs::<LuaValue, LuaValue>() {
        let (k, v) = pair?;
        let key = match k {
            LuaValue::String(s) => s.to_str()?.to_string(),
            LuaValue::Integer(i) => i.to_string(),
            other => {
                return Err(mlua::Error::runtime(format!(
                    "a JSON object key must be a string, not a {}",
                    other.type_name()
                )));
            }
        };
        obj.insert(key, lua_to_json(&v, depth + 1)?);
    }
    Ok(Json::Object(obj))
}

fn is_null(t: &Table) -> bool {
    t.metatable()
        .and_then(|mt| mt.get::<String>("__name").ok())
        .is_some_and(|n| n == "luamig.NULL")
}

/// Converts JSON to a Lua value (null becomes nil inside tables, as Lua cannot hold it).
pub fn json_to_lua(lua: &Lua, v: &Json) -> mlua::Result<LuaValue> {
    Ok(match v {
        Json::Null => LuaValue::Nil,
        Json::Bool(b) => LuaValue::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => LuaValue::Integer(i),
            None => LuaValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => LuaValue::String(lua.create_string(s)?),
        Json::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, item)?)?;
            }
            LuaValue::Table(t)
        }
        Json::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, item) in map {
                t.raw_set(k.as_str(), json_to_lua(lua, item)?)?;
            }
            LuaValue::Table(t)
        }
    })
}

/// Registers `luamig.json` with `encode(value)` and `decode(text)`.
pub fn preload(lua: &Lua) -> mlua::Result<()> {
    let loader = lua.create_function(|lua, ()| {
        let t = lua.create_table()?;
        t.set(
            "encode",
            lua.create_function(|_, v: LuaValue| Ok(lua_to_json(&v, 0)?.to_string()))?,
        )?;
        t.set(
            "decode",
            lua.create_function(|lua, text: String| {
                let v: Json = serde_json::from_str(&text)
                    .map_err(|e| mlua::Error::runtime(format!("invalid JSON: {e}")))?;
                json_to_lua(lua, &v)
            })?,
        )?;
        Ok(t)
    })?;
    lua.preload_module("luamig.json", loader)
}
