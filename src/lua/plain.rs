//! Plain Lua values (strings, numbers, booleans) read straight off Lua's stack, for the
//! ORM's per-row paths: a lookup's `name = value` pairs and an instance's value slots.
//!
//! mlua's safe API makes a registry reference for every string it hands over; one pass on
//! the stack inside one protected call reads a whole table for a fraction of that. Anything
//! else (tables, userdata, `models.NULL`) is reported as not plain, and callers take their
//! general path for it.

use mlua::{Lua, Table, Value as LuaValue, ffi};

/// A value Lua holds natively.
#[derive(Clone, Debug, PartialEq)]
pub enum Plain {
    Int(i64),
    Num(f64),
    Bool(bool),
    /// A string that is UTF-8.
    Text(String),
    /// A string that is not.
    Bytes(Vec<u8>),
}

impl Plain {
    pub fn borrowed(&self) -> PlainRef<'_> {
        match self {
            Plain::Int(i) => PlainRef::Int(*i),
            Plain::Num(n) => PlainRef::Num(*n),
            Plain::Bool(b) => PlainRef::Bool(*b),
            Plain::Text(s) => PlainRef::Text(s),
            Plain::Bytes(b) => PlainRef::Bytes(b),
        }
    }

    /// The same value as mlua hands it over, for the general path.
    pub fn to_lua(&self, lua: &Lua) -> mlua::Result<LuaValue> {
        Ok(match self {
            Plain::Int(i) => LuaValue::Integer(*i),
            Plain::Num(n) => LuaValue::Number(*n),
            Plain::Bool(b) => LuaValue::Boolean(*b),
            Plain::Text(s) => LuaValue::String(lua.create_string(s)?),
            Plain::Bytes(b) => LuaValue::String(lua.create_string(b)?),
        })
    }
}

/// A [`Plain`] value borrowed from Lua: its string lives as long as the Lua value does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PlainRef<'a> {
    Int(i64),
    Num(f64),
    Bool(bool),
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl PlainRef<'_> {
    pub fn to_plain(self) -> Plain {
        match self {
            PlainRef::Int(i) => Plain::Int(i),
            PlainRef::Num(n) => Plain::Num(n),
            PlainRef::Bool(b) => Plain::Bool(b),
            PlainRef::Text(s) => Plain::Text(s.to_string()),
            PlainRef::Bytes(b) => Plain::Bytes(b.to_vec()),
        }
    }
}

/// A lookup's `name = value` pairs, borrowed from its table; most have a few.
pub type PairsRef<'a> = smallvec::SmallVec<[(&'a str, PlainRef<'a>); 4]>;

/// One slot of an array read by [`slots`].
#[derive(Debug, PartialEq)]
pub enum Slot {
    Nil,
    Plain(Plain),
    /// Anything else: read it with mlua.
    Other,
}

/// The pairs of `table` when every key is a string and every value plain; None otherwise
/// (or when `accept` refuses a name).
pub fn pairs(
    lua: &Lua,
    table: &Table,
    accept: impl Fn(&str) -> bool,
) -> mlua::Result<Option<Vec<(String, Plain)>>> {
    let mut out = None;
    // SAFETY: protected mode, the table at index 1; see `pairs_at`. The names are copied
    // before the table can go.
    unsafe {
        lua.exec_raw::<()>(table, |state| {
            out = pairs_at(state, 1, &accept).map(|pairs| {
                pairs
                    .into_iter()
                    .map(|(name, v)| (name.to_string(), v.to_plain()))
                    .collect()
            });
        })?;
    }
    Ok(out)
}

/// [`pairs`] of the table at stack index `idx`, borrowed from the table's keys and values.
///
/// # Safety
/// `idx` must be an absolute index holding a table, left unchanged while the names are in
/// use (they live as long as it does). The walk needs two free stack slots. It only reads:
/// `lua_next` over an unchanged table, and `lua_tolstring` only on values that are strings
/// already (on a number it would convert the key in place and break the walk).
pub(crate) unsafe fn pairs_at<'a>(
    state: *mut ffi::lua_State,
    idx: i32,
    accept: &dyn Fn(&str) -> bool,
) -> Option<PairsRef<'a>> {
    let mut out = PairsRef::new();
    let mut plain = true;
    unsafe {
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, idx) != 0 {
            if plain {
                let name = match ffi::lua_type(state, -2) {
                    ffi::LUA_TSTRING => std::str::from_utf8(string_at(state, -2)).ok(),
                    _ => None,
                };
                match (name.filter(|n| accept(n)), plain_ref_at(state, -1)) {
                    (Some(name), Some(v)) => out.push((name, v)),
                    _ => plain = false,
                }
            }
            ffi::lua_pop(state, 1);
        }
    }
    plain.then_some(out)
}

/// `table[i]` for each 1-based `i` of `indexes`, raw (no metamethods).
pub fn slots(lua: &Lua, table: &Table, indexes: &[usize]) -> mlua::Result<Vec<Slot>> {
    let mut out = Vec::with_capacity(indexes.len());
    // SAFETY: protected mode, table at index 1; `lua_rawgeti` reads without metamethods and
    // each value is popped after reading; nothing held needs dropping on an error.
    unsafe {
        lua.exec_raw::<()>(table, |state| {
            for &i in indexes {
                ffi::lua_rawgeti(state, 1, i as ffi::lua_Integer);
                out.push(value_at(state, -1));
                ffi::lua_pop(state, 1);
            }
        })?;
    }
    Ok(out)
}

/// The value at `idx`.
///
/// # Safety
/// `idx` must be a valid stack index of `state`.
pub(crate) unsafe fn value_at(state: *mut ffi::lua_State, idx: i32) -> Slot {
    unsafe {
        match ffi::lua_type(state, idx) {
            ffi::LUA_TNIL => Slot::Nil,
            _ => match plain_ref_at(state, idx) {
                Some(v) => Slot::Plain(v.to_plain()),
                None => Slot::Other,
            },
        }
    }
}

/// The value at `idx` if it is plain, borrowed.
///
/// # Safety
/// `idx` must be a valid stack index of `state`; a string borrowed is valid while it stays
/// on the stack (or in a table that does).
pub(crate) unsafe fn plain_ref_at<'a>(
    state: *mut ffi::lua_State,
    idx: i32,
) -> Option<PlainRef<'a>> {
    unsafe {
        Some(match ffi::lua_type(state, idx) {
            ffi::LUA_TBOOLEAN => PlainRef::Bool(ffi::lua_toboolean(state, idx) != 0),
            ffi::LUA_TNUMBER if ffi::lua_isinteger(state, idx) != 0 => {
                PlainRef::Int(ffi::lua_tointeger(state, idx))
            }
            ffi::LUA_TNUMBER => PlainRef::Num(ffi::lua_tonumber(state, idx)),
            ffi::LUA_TSTRING => {
                let bytes = string_at(state, idx);
                match std::str::from_utf8(bytes) {
                    Ok(s) => PlainRef::Text(s),
                    Err(_) => PlainRef::Bytes(bytes),
                }
            }
            _ => return None,
        })
    }
}

/// The bytes of the string at `idx`, valid while it stays on the stack.
///
/// # Safety
/// The value at `idx` must be a string (not a number, which `lua_tolstring` would convert).
pub(crate) unsafe fn string_at<'a>(state: *mut ffi::lua_State, idx: i32) -> &'a [u8] {
    unsafe {
        let mut len = 0usize;
        let ptr = ffi::lua_tolstring(state, idx, &mut len);
        std::slice::from_raw_parts(ptr.cast::<u8>(), len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_reads_plain_tables_and_declines_others() {
        let lua = Lua::new();
        let t: Table = lua
            .load(r#"return { name = "Ann", n = 3, x = 1.5, ok = true, raw = "\255" }"#)
            .eval()
            .unwrap();
        let mut got = pairs(&lua, &t, |_| true).unwrap().unwrap();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            vec![
                ("n".to_string(), Plain::Int(3)),
                ("name".to_string(), Plain::Text("Ann".into())),
                ("ok".to_string(), Plain::Bool(true)),
                ("raw".to_string(), Plain::Bytes(vec![255])),
                ("x".to_string(), Plain::Num(1.5)),
            ]
        );
        for declined in [
            r#"return { name = {} }"#,
            r#"return { [1] = "a" }"#,
            r#"return { name = "a", other__in = "b" }"#,
        ] {
            let t: Table = lua.load(declined).eval().unwrap();
            assert_eq!(
                pairs(&lua, &t, |n| !n.contains("__")).unwrap(),
                None,
                "{declined}"
            );
        }
        let empty = lua.create_table().unwrap();
        assert_eq!(pairs(&lua, &empty, |_| true).unwrap(), Some(vec![]));
    }

    #[test]
    fn slots_read_raw_values_by_position() {
        let lua = Lua::new();
        let t: Table = lua
            .load(r#"return setmetatable({ 7, nil, "s", {} }, { __index = function() return 1 end })"#)
            .eval()
            .unwrap();
        assert_eq!(
            slots(&lua, &t, &[1, 2, 3, 4, 5]).unwrap(),
            vec![
                Slot::Plain(Plain::Int(7)),
                Slot::Nil,
                Slot::Plain(Plain::Text("s".into())),
                Slot::Other,
                Slot::Nil,
            ]
        );
    }
}
