//! The fast path of `get{...}` and `get_or_create{...}`: a Lua C function that answers a
//! lookup from the results kept within a transaction (see `db::read_cache`), building the instance straight on Lua's stack, with none of mlua's
//! call machinery, Lua-side helpers or a rows array in between.
//!
//! It answers only when everything is known already: a lookup of plain `name = value` pairs
//! compiled before, values that convert by copying, an answer kept for exactly those
//! values, with exactly one row whose values Lua holds natively. Otherwise it returns
//! nothing, and the general path runs (compiling, querying, keeping the answer, raising
//! errors) as it always does. So it never raises, and never differs from the general path
//! in what it returns.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use mlua::{Function, Lua, ffi};

use crate::lua::plain::{pairs_at, string_at};

use super::core::OrmContext;
use super::reads::{is_plain_lookup_name, write_lookup_key};
use super::rows::{Cell, push_instance};
use super::values::plain_as_db;
use crate::db::push_key_value;

/// `fast_get(model_key, kwargs, instance_mt)`: the one instance the lookup finds, or nil.
/// The context travels as the function's upvalue, in a userdata that drops it when Lua
/// collects the function.
pub fn fast_get_function(lua: &Lua, cx: Rc<OrmContext>) -> mlua::Result<Function> {
    // SAFETY: protected mode; see `push_owned`.
    unsafe {
        lua.exec_raw::<Function>((), |state| {
            push_owned(state, cx);
            // Upvalue 2: the key "__v" of every instance (see `push_instance`).
            ffi::lua_pushstring(state, c"__v".as_ptr());
            ffi::lua_pushcclosure(state, fast_get, 2);
        })
    }
}

/// Pushes a userdata owning `value`, dropped by the userdata's `__gc` when Lua collects it:
/// how a Lua C function carries Rust values as an upvalue.
///
/// # Safety
/// Room for two stack slots. If Lua fails to allocate (and unwinds), `value` is leaked,
/// never dropped twice.
pub(super) unsafe fn push_owned<T>(state: *mut ffi::lua_State, value: T) {
    unsafe extern "C-unwind" fn drop_owned<T>(state: *mut ffi::lua_State) -> i32 {
        // SAFETY: called by Lua's collector once, on a userdata `push_owned::<T>` wrote.
        unsafe {
            let slot = ffi::lua_touserdata(state, 1).cast::<T>();
            if !slot.is_null() {
                slot.drop_in_place();
            }
        }
        0
    }
    // Lua aligns userdata memory for doubles, pointers and integers (8 bytes here).
    const { assert!(align_of::<T>() <= 8) };
    let value = std::mem::ManuallyDrop::new(value);
    unsafe {
        let slot = ffi::lua_newuserdatauv(state, size_of::<T>(), 0).cast::<T>();
        slot.write(std::mem::ManuallyDrop::into_inner(value));
        ffi::lua_createtable(state, 0, 1);
        ffi::lua_pushcfunction(state, drop_owned::<T>);
        ffi::lua_setfield(state, -2, c"__gc".as_ptr());
        ffi::lua_setmetatable(state, -2);
    }
}

unsafe extern "C-unwind" fn fast_get(state: *mut ffi::lua_State) -> i32 {
    // A panic must not cross into Lua; it only means "no answer here".
    let found = catch_unwind(AssertUnwindSafe(|| unsafe { answer(state) })).unwrap_or(false);
    if !found {
        unsafe { ffi::lua_pushnil(state) };
    }
    1
}

/// Pushes the instance and returns true, or pushes nothing and returns false.
///
/// # Safety
/// Called from Lua as `fast_get` with its upvalue. The Rust values alive while the instance
/// is built own no Lua state, so a Lua memory error unwinding past them only leaks them.
unsafe fn answer(state: *mut ffi::lua_State) -> bool {
    unsafe {
        let cx = &*ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)).cast::<Rc<OrmContext>>();
        if ffi::lua_type(state, 1) != ffi::LUA_TSTRING
            || ffi::lua_type(state, 2) != ffi::LUA_TTABLE
            || ffi::lua_type(state, 3) != ffi::LUA_TTABLE
        {
            return false;
        }
        let Ok(model) = std::str::from_utf8(string_at(state, 1)) else {
            return false;
        };
        // The pairs are borrowed from the table, which stays alive on the stack; the keys
        // are built in buffers kept for it, so that a lookup answered here allocates nothing
        // but the instance.
        ffi::luaL_checkstack(state, 6, c"fast_get".as_ptr());
        let Some(mut pairs) = pairs_at(state, 2, &is_plain_lookup_name) else {
            return false;
        };
        if pairs.is_empty() {
            return false;
        }
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let (rows, compiled) = {
            let Ok(mut keys) = cx.fast_keys.try_borrow_mut() else {
                return false;
            };
            let keys = &mut *keys;
            write_lookup_key(&mut keys.lookup, model, pairs.iter().map(|(name, _)| *name));
            let Some(compiled) = cx.lookups.borrow().get(keys.lookup.as_str()).cloned() else {
                return false;
            };
            keys.values.clear();
            for ((field, _), (_, v)) in compiled.params.iter().zip(&pairs) {
                match plain_as_db(field, *v) {
                    Some(value) => push_key_value(&mut keys.values, value),
                    None => return false,
                }
            }
            match cx
                .db
                .kept_answer(&compiled.table, &compiled.sql, &keys.values)
            {
                Some(rows) => (rows, compiled),
                None => return false,
            }
        };
        let [row] = rows.rows.as_slice() else {
            return false;
        };
        let cells = || {
            row.iter()
                .zip(&compiled.fields)
                .map(|(v, f)| Cell::native(f, v))
        };
        if !cells().all(|cell| cell.is_some()) {
            return false;
        }
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(2));
        let v_key = ffi::lua_gettop(state);
        push_instance(
            state,
            cells().map(|cell| cell.unwrap_or(Cell::Nil)),
            3,
            v_key,
        );
        true
    }
}
