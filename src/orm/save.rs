//! `obj:save()` of an existing row: one compiled UPDATE per model and set of fields, run
//! straight from the instance's value slots, queued and sent in batches (see `db::batch`).

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use mlua::{Lua, Table, Value as LuaValue, ffi};

use crate::db::{Database, Vendor, quote_name};
use crate::lua::plain::{Slot, value_at};
use crate::lua::vm::{LastLocation, user_location_raw};
use crate::value::Value;

use super::core::{OrmContext, db_err, rt};
use super::values::{now_for, plain_or_uuid_into_db, plain_to_db, to_db};
use super::writes::key_field_of;

/// `obj:save()` and `obj:save{update_fields=...}` for one model and one set of fields: the
/// UPDATE is compiled once, then run per row straight from the instance's value slots (its
/// `__v` array, in field order), so a per-row save builds no SQL and no Lua table.
pub(super) struct RowUpdater {
    sql: crate::db::PreparedSql,
    table: String,
    /// 1-based slot in `__v`, the field as the database sees it (a foreign key as its
    /// target's key), and its name for messages.
    slots: Vec<(usize, crate::fields::Field, String)>,
    pk_slot: usize,
    pk: crate::fields::Field,
    /// The slots a run reads: every written one, then the key's.
    read: Vec<usize>,
    label: String,
    /// Rows are queued and sent in batches (see [`crate::db::batch`]); a full `save()`'s
    /// batch inserts the rows it does not find.
    batch: Option<Rc<crate::db::batch::BatchShape>>,
    /// Where the user's code saved the row the fast path queued last (see `fast_update`).
    last_location: RefCell<LastLocation>,
    /// An error the fast path met sending the queue, for the general path to raise.
    failed: RefCell<Option<crate::error::Error>>,
    /// Where the user's code saved the row the fast path hands to the general path.
    location_for_general: RefCell<Option<Rc<str>>>,
}

impl RowUpdater {
    /// `names` are the fields to write (names or attnames); None means every field but the
    /// primary key (a full `save()`).
    pub(super) fn new(
        cx: &OrmContext,
        key: &str,
        names: Option<Vec<String>>,
        batched: bool,
    ) -> mlua::Result<RowUpdater> {
        let m = cx.model(key)?;
        let position = |name: &str| {
            m.fields
                .iter()
                .position(|f| f.name == name || f.attname == name)
                .ok_or_else(|| rt(m.unknown_field(name)))
        };
        let names_were_given_none = names.is_none();
        let mut wanted: Vec<usize> = match names {
            Some(names) => names
                .iter()
                .map(|n| position(n))
                .collect::<mlua::Result<_>>()?,
            None => (0..m.fields.len()).collect(),
        };
        wanted.sort_unstable();
        wanted.dedup();
        let mut sets = Vec::new();
        let mut slots = Vec::new();
        for i in wanted {
            let f = &m.fields[i];
            let Some(column) = f.column.as_deref() else {
                continue;
            };
            if f.field.primary_key {
                continue;
            }
            let field = if f.field.kind.is_foreign_key() {
                key_field_of(&cx.reg, f)
            } else {
                f.field.clone()
            };
            sets.push(format!("{} = %s", quote_name(column)));
            slots.push((i + 1, field, f.name.clone()));
        }
        let pk = m.pk_field();
        let sql = format!(
            "UPDATE {} SET {} WHERE {} = %s",
            quote_name(&m.table),
            sets.join(", "),
            quote_name(pk.column.as_deref().unwrap_or_default())
        );
        let pk_column = pk.column.clone().unwrap_or_default();
        let columns: Vec<String> = slots
            .iter()
            .filter_map(|(slot, _, _)| m.fields[slot - 1].column.clone())
            .collect();
        let sql = cx.db.prepare(&sql);
        let full = names_were_given_none;
        let batch = match batched && !slots.is_empty() {
            true => batch_shape(cx, &m.table, &pk_column, &columns, sql.clone(), full)?,
            false => None,
        };
        let read = slots
            .iter()
            .map(|(slot, _, _)| *slot)
            .chain([m.pk + 1])
            .collect();
        Ok(RowUpdater {
            sql,
            table: m.table.clone(),
            read,
            slots,
            pk_slot: m.pk + 1,
            pk: pk.field.clone(),
            label: format!("{}.{}", m.app, m.name),
            batch,
            last_location: Default::default(),
            failed: Default::default(),
            location_for_general: Default::default(),
        })
    }

    /// Writes one instance's values; returns the rows changed (0 when the row is gone).
    pub(super) fn run(&self, lua: &Lua, db: &Database, values: &Table) -> mlua::Result<i64> {
        // Taken first, so that no way out of here leaves it for another row.
        let location_found = self.location_for_general.take();
        if let Some(e) = self.failed.take() {
            return Err(db_err(e));
        }
        if self.slots.is_empty() {
            return Ok(1);
        }
        let vendor = db.vendor;
        // Every slot, then the key, read in one pass.
        let got = crate::lua::plain::slots(lua, values, &self.read)?;
        let mut params = Vec::with_capacity(self.read.len());
        for ((slot, field, name), got) in self.slots.iter().zip(&got) {
            params.push(if field.auto_now {
                now_for(field.kind)
            } else {
                slot_to_db(lua, values, *slot, got, field, vendor)?
                    .map_err(|e| rt(format!("{}: field '{name}': {e}", self.label)))?
            });
        }
        let pk = &got[self.slots.len()];
        params.push(slot_to_db(lua, values, self.pk_slot, pk, &self.pk, vendor)?.map_err(rt)?);
        if let Some(shape) = &self.batch {
            let location =
                location_found.unwrap_or_else(|| Rc::from(crate::lua::vm::user_location(lua)));
            db.queue_update(shape, params, location).map_err(db_err)?;
            return Ok(1);
        }
        db.execute_prepared_writing(&self.table, &self.sql, &params)
            .map(|n| n as i64)
            .map_err(|e| rt(format!("{}: {e}", crate::lua::vm::user_location(lua))))
    }
}

impl RowUpdater {
    /// The parameter for the `i`-th slot [`RowUpdater::read`] names, holding `got`, when it
    /// converts by copying or is a UUID (see [`plain_or_uuid_into_db`]); None sends the row
    /// the general way. The fast path runs on SQLite only.
    fn plain_param(&self, i: usize, got: Slot) -> Option<Value> {
        let field = match self.slots.get(i) {
            Some((_, field, _)) if field.auto_now => return Some(now_for(field.kind)),
            Some((_, field, _)) => field,
            None => &self.pk,
        };
        match got {
            Slot::Nil => Some(Value::Null),
            Slot::Plain(p) => plain_or_uuid_into_db(field, p, Vendor::Sqlite),
            Slot::Other => None,
        }
    }
}

/// `updater` on SQLite: a Lua C function that queues (or writes) a row whose values all
/// convert by copying straight from its slots on Lua's stack, and hands any other row, and
/// any row the database refuses, to `general` (the mlua function that converts, words errors
/// and raises them; a refused UPDATE changed nothing, so running it again there is safe; a
/// queue that failed to go out is raised there).
pub(super) fn fast_updater(
    lua: &Lua,
    updater: Rc<RowUpdater>,
    db: Rc<Database>,
    general: mlua::Function,
) -> mlua::Result<mlua::Function> {
    // SAFETY: protected mode, `general` at index 1; see `push_owned`.
    unsafe {
        lua.exec_raw::<mlua::Function>(general, |state| {
            super::fast::push_owned(state, (updater, db));
            ffi::lua_pushvalue(state, 1);
            ffi::lua_pushcclosure(state, fast_update, 2);
            // The closure is the one value handed back.
            ffi::lua_replace(state, 1);
            ffi::lua_settop(state, 1);
        })
    }
}

unsafe extern "C-unwind" fn fast_update(state: *mut ffi::lua_State) -> i32 {
    // A panic must not cross into Lua; it only means "the general way" (and its payload is
    // dropped here, before the general function may raise).
    let written = catch_unwind(AssertUnwindSafe(|| unsafe { write_plain(state) }))
        .ok()
        .flatten();
    // SAFETY: Lua calls this with its two upvalues; nothing Rust owns is alive below when
    // the general function is called (and may raise).
    unsafe {
        if let Some(n) = written {
            ffi::lua_pushinteger(state, n);
            return 1;
        }
        ffi::lua_settop(state, 1);
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(2));
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, 1, 1);
    }
    1
}

/// The rows changed, or None for the general way.
///
/// # Safety
/// Called from `fast_update` with its upvalues; argument 1 is the row's value table.
unsafe fn write_plain(state: *mut ffi::lua_State) -> Option<i64> {
    unsafe {
        let (updater, db) = &*ffi::lua_touserdata(state, ffi::lua_upvalueindex(1))
            .cast::<(Rc<RowUpdater>, Rc<Database>)>();
        if ffi::lua_type(state, 1) != ffi::LUA_TTABLE {
            return None;
        }
        if updater.slots.is_empty() {
            return Some(1);
        }
        ffi::luaL_checkstack(state, 2, c"save".as_ptr());
        let location = |updater: &RowUpdater| {
            let mut last = updater.last_location.try_borrow_mut().ok()?;
            // Level 1 is `save` in luamig/orm.lua, the one caller of this function.
            Some(user_location_raw(state, &mut last, 2))
        };
        let mut params = Vec::with_capacity(updater.read.len());
        for (i, &slot) in updater.read.iter().enumerate() {
            ffi::lua_rawgeti(state, 1, slot as ffi::lua_Integer);
            let got = value_at(state, -1);
            ffi::lua_pop(state, 1);
            match updater.plain_param(i, got) {
                Some(param) => params.push(param),
                None => {
                    // The general way queues this row: where it was saved is found here, for
                    // less than mlua's walk of the stack costs there.
                    if updater.batch.is_some() {
                        *updater.location_for_general.borrow_mut() = location(updater);
                    }
                    return None;
                }
            }
        }
        let Some(shape) = &updater.batch else {
            return db
                .execute_prepared_writing(&updater.table, &updater.sql, &params)
                .ok()
                .map(|n| n as i64);
        };
        let location = location(updater)?;
        match db.queue_update(shape, params, location) {
            Ok(()) => Some(1),
            Err(e) => {
                *updater.failed.borrow_mut() = Some(e);
                None
            }
        }
    }
}

/// [`to_db`] of the value found in `slot` of `values`: plain values that need no conversion
/// directly, others through mlua. The outer error is Lua's, the inner one the value's.
fn slot_to_db(
    lua: &Lua,
    values: &Table,
    slot: usize,
    got: &crate::lua::plain::Slot,
    field: &crate::fields::Field,
    vendor: Vendor,
) -> mlua::Result<Result<Value, String>> {
    use crate::lua::plain::Slot;
    Ok(match got {
        Slot::Nil => Ok(Value::Null),
        Slot::Plain(p) => match plain_to_db(field, p) {
            Some(v) => Ok(v),
            None => to_db(field, &p.to_lua(lua)?, vendor),
        },
        Slot::Other => to_db(field, &values.raw_get::<LuaValue>(slot)?, vendor),
    })
}

/// The queue's shape for an UPDATE of `columns` of `table` by `pk_column` (see
/// [`crate::db::batch`]); on PostgreSQL with the types of the key and columns, read from the
/// catalog once for the batch's arrays, and None (no batching) when one is not found.
/// `full`: a full `save()`, whose rows the UPDATE does not find are inserted.
fn batch_shape(
    cx: &OrmContext,
    table: &str,
    pk_column: &str,
    columns: &[String],
    single: crate::db::PreparedSql,
    full: bool,
) -> mlua::Result<Option<Rc<crate::db::batch::BatchShape>>> {
    let types = match cx.vendor {
        Vendor::Postgres => match postgres_types(cx, table, pk_column, columns)? {
            Some(types) => Some(types),
            None => return Ok(None),
        },
        Vendor::Sqlite => None,
    };
    // A trigger, rule or foreign-key action could write to other tables when the batch
    // runs: then every other statement must wait for it.
    let reads_may_pass = cx.db.table_facts(table).map_err(db_err)?.writes_stay_inside;
    let of = crate::db::batch::Columns {
        table,
        pk: pk_column,
        columns,
    };
    let extras = crate::db::batch::Extras {
        insert_missing: full,
        reads_may_pass,
    };
    Ok(Some(Rc::new(crate::db::batch::BatchShape::new(
        &cx.db, single, of, types, extras,
    ))))
}

/// The PostgreSQL types of `table`'s key and of `columns`, or None when one is not found.
fn postgres_types(
    cx: &OrmContext,
    table: &str,
    pk_column: &str,
    columns: &[String],
) -> mlua::Result<Option<(String, Vec<String>)>> {
    let rows = cx
        .db
        .query_reading(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
             WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
            &[Value::Text(quote_name(table))],
        )
        .map_err(db_err)?;
    let types: std::collections::HashMap<String, String> = rows
        .rows
        .into_iter()
        .filter_map(|r| match (r.first(), r.get(1)) {
            (Some(Value::Text(n)), Some(Value::Text(t))) => Some((n.clone(), t.clone())),
            _ => None,
        })
        .collect();
    let Some(pk_type) = types.get(pk_column).cloned() else {
        return Ok(None);
    };
    let column_types: Option<Vec<String>> = columns.iter().map(|c| types.get(c).cloned()).collect();
    Ok(column_types.map(|c| (pk_type, c)))
}

/// Whether `table` is a plain table (not a view; on PostgreSQL no row security either), so
/// that reading it cannot see another table's queued row updates. On PostgreSQL asked once
/// per table; SQLite's answer is among the facts its connection keeps.
pub(super) fn plain_table(cx: &OrmContext, table: &str) -> mlua::Result<bool> {
    if cx.vendor == Vendor::Sqlite {
        return Ok(cx.db.table_facts(table).map_err(db_err)?.keeps_answers);
    }
    if let Some(known) = cx.plain_tables.borrow().get(table) {
        return Ok(*known);
    }
    let rows = cx
        .db
        .query_reading(
            "SELECT relkind IN ('r', 'p') AND NOT relrowsecurity FROM pg_class WHERE oid = to_regclass(%s)",
            &[Value::Text(quote_name(table))],
        )
        .map_err(db_err)?;
    let plain = matches!(
        rows.rows.first().and_then(|r| r.first()),
        Some(Value::Bool(true))
    );
    cx.plain_tables
        .borrow_mut()
        .insert(table.to_string(), plain);
    Ok(plain)
}
