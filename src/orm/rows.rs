//! Query results handed to Lua: rows as arrays of values, or as model instances, built
//! on Lua's stack in one protected call.

use mlua::{Lua, Table, Value as LuaValue, ffi};

use crate::fields::FieldKind;
use crate::value::Value;

use super::core::OrmContext;
use super::values::from_db;

impl OrmContext {
    /// Rows as Lua arrays of values; with `instance_mt`, each made a model instance (the
    /// array with that metatable and `__v` pointing at itself), saving Lua a pass over
    /// every row.
    ///
    /// Values Lua holds natively (integers, numbers, booleans, strings) are pushed straight
    /// onto Lua's stack, with no handle per value or table: this is the hot path of every
    /// read. Values that need converting (decimals, JSON, UUIDs, datetimes) are converted
    /// first and handed over in one table.
    pub(super) fn rows_to_lua(
        &self,
        lua: &Lua,
        fields: &[crate::fields::Field],
        rows: &[Vec<Value>],
        instance_mt: Option<Table>,
    ) -> mlua::Result<Table> {
        // No row (every first lookup of a get_or_create that creates): nothing to build.
        if rows.is_empty() {
            return lua.create_table();
        }
        // Values that need converting go first, in row order; pushing the rows then counts
        // them off again.
        let mut converted = Vec::new();
        for row in rows {
            for (v, f) in row.iter().zip(fields) {
                if Cell::native(f, v).is_none() {
                    converted.push(from_db(lua, f, v.clone())?);
                }
            }
        }
        let converted = if converted.is_empty() {
            LuaValue::Nil
        } else {
            LuaValue::Table(lua.create_sequence_from(converted)?)
        };
        let instances = instance_mt.is_some();
        let mt = instance_mt.map_or(LuaValue::Nil, LuaValue::Table);
        // SAFETY: the closure runs in protected mode (a Lua error unwinds to mlua's pcall) and
        // holds nothing that needs dropping; it keeps the stack balanced apart from the one
        // table it leaves, and checks room for the few slots it uses.
        unsafe {
            lua.exec_raw::<Table>((mt, converted), |state| {
                // Stack: 1 = instance metatable or nil, 2 = converted values or nil (none),
                // 3 = the key "__v".
                ffi::luaL_checkstack(state, 8, c"rows".as_ptr());
                ffi::lua_pushstring(state, c"__v".as_ptr());
                ffi::lua_createtable(state, rows.len() as i32, 0);
                let mut next_converted = 0;
                for (i, row) in rows.iter().enumerate() {
                    let cells = row.iter().zip(fields).map(|(v, f)| {
                        Cell::native(f, v).unwrap_or_else(|| {
                            next_converted += 1;
                            Cell::Converted(next_converted)
                        })
                    });
                    match instances {
                        true => push_instance(state, cells, 1, 3),
                        false => push_row(state, cells, 0),
                    }
                    ffi::lua_rawseti(state, -2, (i + 1) as ffi::lua_Integer);
                }
                ffi::lua_replace(state, 1);
                ffi::lua_settop(state, 1);
            })
        }
    }
}

/// Pushes one row as an array of its values; `hash_room` reserves room for named keys.
/// Converted values are taken from the table at stack index 2.
///
/// # Safety
/// Room for two more stack slots; a Lua memory error while building unwinds past the caller.
unsafe fn push_row<'a>(
    state: *mut ffi::lua_State,
    row: impl ExactSizeIterator<Item = Cell<'a>>,
    hash_room: i32,
) {
    unsafe {
        ffi::lua_createtable(state, row.len() as i32, hash_room);
        for (j, cell) in row.enumerate() {
            match cell {
                Cell::Nil => continue,
                Cell::Bool(b) => ffi::lua_pushboolean(state, b as i32),
                Cell::Int(n) => ffi::lua_pushinteger(state, n),
                Cell::Num(n) => ffi::lua_pushnumber(state, n),
                Cell::Bytes(b) => {
                    ffi::lua_pushlstring(state, b.as_ptr().cast(), b.len());
                }
                Cell::Converted(k) => {
                    ffi::lua_rawgeti(state, 2, k as ffi::lua_Integer);
                }
            }
            ffi::lua_rawseti(state, -2, (j + 1) as ffi::lua_Integer);
        }
    }
}

/// Pushes one row as a model instance: the row itself, with the metatable found at stack
/// index `mt` and `__v` (the string at index `v_key`) pointing back at it (room is left for
/// `__v` and the related-object cache that assigning a foreign key adds, so that assignment
/// does not rehash).
///
/// # Safety
/// As [`push_row`], with room for two more slots; `mt` and `v_key` must be valid absolute
/// stack indexes holding a table and the string `"__v"`.
pub(super) unsafe fn push_instance<'a>(
    state: *mut ffi::lua_State,
    row: impl ExactSizeIterator<Item = Cell<'a>>,
    mt: i32,
    v_key: i32,
) {
    unsafe {
        push_row(state, row, 2);
        ffi::lua_pushvalue(state, v_key);
        ffi::lua_pushvalue(state, -2);
        ffi::lua_rawset(state, -3);
        ffi::lua_pushvalue(state, mt);
        ffi::lua_setmetatable(state, -2);
    }
}

/// One value of a row on its way to Lua: native to Lua, or the 1-based position of a value
/// converted beforehand.
pub(super) enum Cell<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Num(f64),
    Bytes(&'a [u8]),
    Converted(usize),
}

impl<'a> Cell<'a> {
    /// `v` as Lua sees it when no conversion is needed (see [`from_db`]), else None.
    pub(super) fn native(field: &crate::fields::Field, v: &'a Value) -> Option<Cell<'a>> {
        use FieldKind::*;
        match (field.kind, v) {
            (_, Value::Null) => Some(Cell::Nil),
            (DecimalField | UUIDField | JSONField | DateTimeField, _) => None,
            (BooleanField, Value::Int(i)) => Some(Cell::Bool(*i != 0)),
            (_, Value::Bool(b)) => Some(Cell::Bool(*b)),
            (_, Value::Int(i)) => Some(Cell::Int(*i)),
            (_, Value::Float(f)) => Some(Cell::Num(*f)),
            (_, Value::Text(t)) => Some(Cell::Bytes(t.as_bytes())),
            (_, Value::Bytes(b)) => Some(Cell::Bytes(b)),
            (_, Value::Decimal(_) | Value::Json(_)) => None,
        }
    }
}
