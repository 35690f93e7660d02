//! Model instances' `__index` and `__newindex` as Lua C functions, for the accesses every
//! row loop makes: a method (`obj:save`), a field or key read, a field or foreign key
//! assigned. Everything else (related managers, loading a related row, errors naming the
//! model) goes to the Lua metamethods of `luamig/orm.lua`, which these wrap; for the cases
//! handled here they do exactly what those do, only without running Lua code.
//!
//! Upvalues of `__index`: 1 the methods, 2 the plain slots (field name or attname -> slot,
//! foreign keys by attname only), 3 the key's slot, 4 the Lua `__index`, 5 the string
//! `"__v"`.
//! Upvalues of `__newindex`: 1 the plain slots, 2 the foreign keys (name -> slot), 3 their
//! related-instance keys (name -> `__c_name`), 4 the key's slot, 5 `models.NULL`, 6 the Lua
//! `__newindex`, 7 the string `"__v"`, 8 `"__luamig_model"`, 9 `"__pk_i"`.
//! (Keys held as upvalues: pushing a C string looks it up in Lua's string cache each time.)

use mlua::{Function, Lua, Table, ffi};

/// `(__index, __newindex)` for one model (see the module's description for the arguments).
#[allow(clippy::too_many_arguments)]
pub fn metamethods(
    lua: &Lua,
    methods: Table,
    slots: Table,
    foreign_keys: Table,
    cache_keys: Table,
    pk_slot: i64,
    null: Table,
    index: Function,
    newindex: Function,
) -> mlua::Result<(Function, Function)> {
    let args = (
        methods,
        slots,
        foreign_keys,
        cache_keys,
        pk_slot,
        null,
        index,
        newindex,
    );
    // SAFETY: protected mode with the eight arguments at 1..=8; leaves the two closures.
    unsafe {
        lua.exec_raw::<(Function, Function)>(args, |state| {
            ffi::luaL_checkstack(state, 8, c"metamethods".as_ptr());
            for i in [1, 2, 5, 7] {
                ffi::lua_pushvalue(state, i);
            }
            ffi::lua_pushstring(state, c"__v".as_ptr());
            ffi::lua_pushcclosure(state, instance_index, 5);
            for i in [2, 3, 4, 5, 6, 8] {
                ffi::lua_pushvalue(state, i);
            }
            for key in [c"__v", c"__luamig_model", c"__pk_i"] {
                ffi::lua_pushstring(state, key.as_ptr());
            }
            ffi::lua_pushcclosure(state, instance_newindex, 9);
            ffi::lua_replace(state, 2);
            ffi::lua_replace(state, 1);
            ffi::lua_settop(state, 2);
        })
    }
}

/// The instance's value array: `__v`, read raw (every instance has it).
///
/// # Safety
/// `obj` is an absolute stack index, upvalue `key_up` the string `"__v"`; pushes one value.
unsafe fn push_values(state: *mut ffi::lua_State, obj: i32, key_up: i32) {
    unsafe {
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(key_up));
        ffi::lua_rawget(state, obj);
    }
}

/// Upvalue of `"__v"` in `__index`, and of `"__v"`, `"__luamig_model"` and `"__pk_i"` in
/// `__newindex`.
const INDEX_V: i32 = 5;
const NEWINDEX_V: i32 = 7;
const NEWINDEX_MODEL: i32 = 8;
const NEWINDEX_PK_I: i32 = 9;

/// Looks up the key (stack index 2) in the table that upvalue `up` holds; pushes the
/// result.
unsafe fn lookup_key(state: *mut ffi::lua_State, up: i32) -> i32 {
    unsafe {
        ffi::lua_pushvalue(state, 2);
        ffi::lua_rawget(state, ffi::lua_upvalueindex(up))
    }
}

/// Hands the call to the Lua metamethod in upvalue `up` with the `nargs` arguments.
unsafe fn fall_back(state: *mut ffi::lua_State, up: i32, nargs: i32, nresults: i32) -> i32 {
    unsafe {
        ffi::lua_settop(state, nargs);
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(up));
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, nargs, nresults);
    }
    nresults
}

unsafe extern "C-unwind" fn instance_index(state: *mut ffi::lua_State) -> i32 {
    // SAFETY: called by Lua as a metamethod (obj, key) with the upvalues described above.
    // Nothing here owns Rust values, so the Lua fallback may raise through this frame.
    unsafe {
        ffi::luaL_checkstack(state, 4, c"__index".as_ptr());
        match ffi::lua_type(state, 2) {
            ffi::LUA_TSTRING => {
                if lookup_key(state, 1) != ffi::LUA_TNIL {
                    return 1;
                }
                ffi::lua_pop(state, 1);
                if let Some(slot) = plain_slot(state, 2, 3) {
                    push_values(state, 1, INDEX_V);
                    ffi::lua_rawgeti(state, -1, slot);
                    return 1;
                }
                fall_back(state, 4, 2, 1)
            }
            // An empty slot read through `__v`, where the instance is its own `__v`.
            ffi::LUA_TNUMBER => {
                ffi::lua_pushnil(state);
                1
            }
            _ => fall_back(state, 4, 2, 1),
        }
    }
}

unsafe extern "C-unwind" fn instance_newindex(state: *mut ffi::lua_State) -> i32 {
    // SAFETY: as `instance_index`, with (obj, key, value).
    unsafe {
        ffi::luaL_checkstack(state, 4, c"__newindex".as_ptr());
        ffi::lua_settop(state, 3);
        let value_is_nil = ffi::lua_type(state, 3) == ffi::LUA_TNIL
            || ffi::lua_rawequal(state, 3, ffi::lua_upvalueindex(5)) != 0;
        match ffi::lua_type(state, 2) {
            ffi::LUA_TSTRING => {
                if let Some(slot) = plain_slot(state, 1, 4) {
                    set_slot(state, slot, value_is_nil);
                    return 0;
                }
                if lookup_key(state, 2) == ffi::LUA_TNUMBER {
                    let slot = ffi::lua_tointeger(state, -1);
                    ffi::lua_pop(state, 1);
                    if assign_related(state, slot, value_is_nil) {
                        return 0;
                    }
                } else {
                    ffi::lua_pop(state, 1);
                }
                fall_back(state, 6, 3, 0)
            }
            // An empty slot written through `__v`, where the instance is its own `__v`.
            ffi::LUA_TNUMBER => {
                if value_is_nil {
                    ffi::lua_pushnil(state);
                    ffi::lua_replace(state, 3);
                }
                ffi::lua_rawset(state, 1);
                0
            }
            _ => fall_back(state, 6, 3, 0),
        }
    }
}

/// The slot of the key (stack index 2, a string): the key's slot (upvalue `pk_up`) for
/// `"pk"`, else the plain slot found in upvalue `slots_up`, else None.
unsafe fn plain_slot(state: *mut ffi::lua_State, slots_up: i32, pk_up: i32) -> Option<i64> {
    unsafe {
        if crate::lua::plain::string_at(state, 2) == b"pk" {
            return Some(ffi::lua_tointeger(state, ffi::lua_upvalueindex(pk_up)));
        }
        let found = lookup_key(state, slots_up) == ffi::LUA_TNUMBER;
        let slot = found.then(|| ffi::lua_tointeger(state, -1));
        ffi::lua_pop(state, 1);
        slot
    }
}

/// `__v[slot] = value` (argument 3, or nil for `models.NULL`), raw.
unsafe fn set_slot(state: *mut ffi::lua_State, slot: i64, value_is_nil: bool) {
    unsafe {
        push_values(state, 1, NEWINDEX_V);
        if value_is_nil {
            ffi::lua_pushnil(state);
        } else {
            ffi::lua_pushvalue(state, 3);
        }
        ffi::lua_rawseti(state, -2, slot);
        ffi::lua_pop(state, 1);
    }
}

/// A foreign key assigned an instance of any model (or nil): its key into `slot`, the
/// instance kept under the field's related-instance key. False, with nothing changed, for
/// any other value: the Lua metamethod words that error.
unsafe fn assign_related(state: *mut ffi::lua_State, slot: i64, value_is_nil: bool) -> bool {
    unsafe {
        if value_is_nil {
            set_slot(state, slot, true);
        } else {
            // The value must be an instance: a table whose metatable names its model.
            if ffi::lua_type(state, 3) != ffi::LUA_TTABLE || ffi::lua_getmetatable(state, 3) == 0 {
                return false;
            }
            ffi::lua_pushvalue(state, ffi::lua_upvalueindex(NEWINDEX_MODEL));
            let is_model = ffi::lua_rawget(state, -2) != ffi::LUA_TNIL;
            ffi::lua_pop(state, 1);
            ffi::lua_pushvalue(state, ffi::lua_upvalueindex(NEWINDEX_PK_I));
            let has_pk = ffi::lua_rawget(state, -2) == ffi::LUA_TNUMBER;
            if !(is_model && has_pk) {
                ffi::lua_pop(state, 2);
                return false;
            }
            let target_pk = ffi::lua_tointeger(state, -1);
            ffi::lua_pop(state, 2);
            // obj.__v[slot] = value.__v[target_pk]
            push_values(state, 1, NEWINDEX_V);
            push_values(state, 3, NEWINDEX_V);
            ffi::lua_rawgeti(state, -1, target_pk);
            ffi::lua_rawseti(state, -3, slot);
            ffi::lua_pop(state, 2);
        }
        // obj[cache_key] = value (nil forgets it)
        if lookup_key(state, 3) != ffi::LUA_TSTRING {
            ffi::lua_pop(state, 1);
            return true;
        }
        if value_is_nil {
            ffi::lua_pushnil(state);
        } else {
            ffi::lua_pushvalue(state, 3);
        }
        ffi::lua_rawset(state, 1);
        true
    }
}
