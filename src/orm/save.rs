//! `obj:save()` of an existing row: one compiled UPDATE per model and set of fields, run
//! straight from the instance's value slots; on PostgreSQL queued and sent in batches.

use std::rc::Rc;

use mlua::{Lua, Table, Value as LuaValue};

use crate::db::{Database, Vendor, quote_name};
use crate::value::Value;

use super::core::{OrmContext, db_err, rt};
use super::values::{now_for, plain_to_db, to_db};
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
    label: String,
    /// On PostgreSQL, rows are queued and sent in batches (see [`crate::db::batch`]); a
    /// full `save()`'s batch inserts the rows it does not find.
    batch: Option<Rc<crate::db::batch::BatchShape>>,
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
        let batch = match batched && cx.vendor == Vendor::Postgres && !slots.is_empty() {
            true => batch_shape(cx, &m.table, &pk_column, &columns, sql.clone(), full)?,
            false => None,
        };
        Ok(RowUpdater {
            sql,
            table: m.table.clone(),
            slots,
            pk_slot: m.pk + 1,
            pk: pk.field.clone(),
            label: format!("{}.{}", m.app, m.name),
            batch,
        })
    }

    /// Writes one instance's values; returns the rows changed (0 when the row is gone).
    pub(super) fn run(&self, lua: &Lua, db: &Database, values: &Table) -> mlua::Result<i64> {
        if self.slots.is_empty() {
            return Ok(1);
        }
        let vendor = db.vendor;
        // Every slot, then the key, read in one pass.
        let read: Vec<usize> = self
            .slots
            .iter()
            .map(|(slot, _, _)| *slot)
            .chain([self.pk_slot])
            .collect();
        let got = crate::lua::plain::slots(lua, values, &read)?;
        let mut params = Vec::with_capacity(read.len());
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
            let location = crate::lua::vm::user_location(lua);
            db.queue_update(shape, params, location).map_err(db_err)?;
            return Ok(1);
        }
        db.execute_prepared_writing(&self.table, &self.sql, &params)
            .map(|n| n as i64)
            .map_err(|e| rt(format!("{}: {e}", crate::lua::vm::user_location(lua))))
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

/// The PostgreSQL types of a table's key and columns, read from the catalog once, for a
/// batch's arrays; None (no batching) when one is not found. `full`: a full `save()`, whose
/// batch inserts the rows it does not find.
fn batch_shape(
    cx: &OrmContext,
    table: &str,
    pk_column: &str,
    columns: &[String],
    single: crate::db::PreparedSql,
    full: bool,
) -> mlua::Result<Option<Rc<crate::db::batch::BatchShape>>> {
    let rows = cx
        .db
        .query(
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
    let mut typed = Vec::new();
    for c in columns {
        match types.get(c) {
            Some(t) => typed.push((c.clone(), t.clone())),
            None => return Ok(None),
        }
    }
    // A trigger or rule could write to other tables when the batch runs: then every other
    // statement must wait for it.
    let writes_elsewhere = cx
        .db
        .query(
            "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal) \
             OR EXISTS (SELECT 1 FROM pg_rewrite WHERE ev_class = to_regclass(%s) AND rulename <> '_RETURN')",
            &[Value::Text(quote_name(table)), Value::Text(quote_name(table))],
        )
        .map_err(db_err)?;
    let reads_may_pass = matches!(
        writes_elsewhere.rows.first().and_then(|r| r.first()),
        Some(Value::Bool(false))
    );
    Ok(Some(Rc::new(crate::db::batch::BatchShape::new(
        &cx.db,
        single,
        table,
        (pk_column.to_string(), pk_type),
        typed,
        crate::db::batch::Extras {
            insert_missing: full,
            reads_may_pass,
        },
    ))))
}

/// PostgreSQL: whether `table` is a plain table (not a view, no row security), so that
/// reading it cannot see another table's queued row updates. Asked once per table.
pub(super) fn plain_table(cx: &OrmContext, table: &str) -> mlua::Result<bool> {
    if cx.vendor != Vendor::Postgres {
        return Ok(true);
    }
    if let Some(known) = cx.plain_tables.borrow().get(table) {
        return Ok(*known);
    }
    let rows = cx
        .db
        .query(
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
