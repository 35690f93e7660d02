//! The ORM's writes other than per-row saves: queryset updates and deletes (with Django's
//! cascades), inserts, and many-to-many link rows.

use std::rc::Rc;

use mlua::{Lua, Table, Value as LuaValue, ffi};

use crate::db::{Vendor, quote_name};
use crate::fields::{FieldDefault, FieldKind, OnDelete};
use crate::value::Value;

use super::core::{OrmContext, db_err, rt};
use super::meta::{M2mMeta, ModelMeta, Registry};
use super::query::{Compiled, Compiler};
use super::reads::all_columns;
use super::values::{from_db, now_for, to_db};

/// `WHERE pk IN (SELECT pk FROM ... joins ...)` when filters join, else the plain WHERE.
fn row_filter(cx: &OrmContext, m: &ModelMeta, c: &Compiled) -> String {
    if c.where_sql.is_empty() {
        return String::new();
    }
    if !c.joins {
        return format!(" WHERE {}", c.where_sql);
    }
    let pk = quote_name(m.pk_field().column.as_deref().unwrap_or_default());
    let base = quote_name(&m.table);
    let _ = cx;
    format!(
        " WHERE {pk} IN (SELECT {base}.{pk} FROM {} WHERE {})",
        c.from, c.where_sql
    )
}

pub(super) fn update(cx: &OrmContext, key: &str, q: &Table, values: &Table) -> mlua::Result<i64> {
    let m = cx.model(key)?;
    let mut compiler = Compiler::new(&cx.reg, cx.vendor, m.clone());
    let (sets, set_params) = compiler.assignments(values).map_err(rt)?;
    if sets.is_empty() {
        return Ok(0);
    }
    let c = cx.compile(&m, q)?;
    let sql = format!(
        "UPDATE {} SET {sets}{}",
        quote_name(&m.table),
        row_filter(cx, &m, &c)
    );
    let mut params = set_params;
    params.extend(c.params);
    cx.db
        .execute(&sql, &params)
        .map(|n| n as i64)
        .map_err(db_err)
}

/// DELETE with Django's on_delete emulated: CASCADE deletes dependents first, PROTECT and
/// RESTRICT refuse, SET_NULL / SET_DEFAULT update them; many-to-many links go too.
pub(super) fn delete(cx: &OrmContext, key: &str, q: &Table) -> mlua::Result<i64> {
    let m = cx.model(key)?;
    let c = cx.compile(&m, q)?;
    let pk = quote_name(m.pk_field().column.as_deref().unwrap_or_default());
    let base = quote_name(&m.table);
    let selected = format!(
        "SELECT {base}.{pk} FROM {}{}",
        c.from,
        if c.where_sql.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", c.where_sql)
        }
    );
    let ids = cx.db.query_reading(&selected, &c.params).map_err(db_err)?;
    let ids: Vec<Value> = ids
        .rows
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect();
    delete_ids(cx, &m, &ids, 0)
}

fn delete_ids(cx: &OrmContext, m: &ModelMeta, ids: &[Value], depth: usize) -> mlua::Result<i64> {
    if ids.is_empty() {
        return Ok(0);
    }
    if depth > 50 {
        return Err(rt("delete: relations nest more than 50 levels deep"));
    }
    // Like Django's delete(), the count includes rows deleted by CASCADE.
    let mut cascaded = 0;
    for r in &m.reverse {
        let Some(other) = cx.reg.get(&r.model).cloned() else {
            continue;
        };
        if let Some(link) = &r.m2m {
            delete_links(cx, link, ids)?;
            continue;
        }
        let Some(f) = other.field(&r.field).cloned() else {
            continue;
        };
        let col = quote_name(f.column.as_deref().unwrap_or_default());
        let table = quote_name(&other.table);
        let rule = f
            .field
            .relation
            .as_ref()
            .map(|r| r.on_delete)
            .unwrap_or(OnDelete::Cascade);
        match rule {
            OnDelete::Cascade => {
                let opk = quote_name(other.pk_field().column.as_deref().unwrap_or_default());
                let dependents = query_in(
                    cx,
                    &format!("SELECT {opk} FROM {table} WHERE {col} IN"),
                    ids,
                )?;
                cascaded += delete_ids(cx, &other, &dependents, depth + 1)?;
            }
            OnDelete::Protect | OnDelete::Restrict => {
                let found = query_in(cx, &format!("SELECT 1 FROM {table} WHERE {col} IN"), ids)?;
                if !found.is_empty() {
                    return Err(rt(format!(
                        "ProtectedError: cannot delete {}.{} rows: {} {}.{} row(s) refer to them through '{}' (on_delete = {:?})",
                        m.app,
                        m.name,
                        found.len(),
                        other.app,
                        other.name,
                        f.name,
                        rule
                    )));
                }
            }
            OnDelete::SetNull => {
                exec_in(
                    cx,
                    &format!("UPDATE {table} SET {col} = NULL WHERE {col} IN"),
                    ids,
                )?;
            }
            OnDelete::SetDefault => {
                let d = f.field.constant_default().cloned().unwrap_or(Value::Null);
                let sql = format!("UPDATE {table} SET {col} = %s WHERE {col} IN");
                exec_in_with(cx, &sql, vec![d], ids)?;
            }
            OnDelete::DoNothing => {}
        }
    }
    for link in m.m2m.values() {
        delete_links(cx, link, ids)?;
    }
    let pk = quote_name(m.pk_field().column.as_deref().unwrap_or_default());
    let own = exec_in(
        cx,
        &format!("DELETE FROM {} WHERE {pk} IN", quote_name(&m.table)),
        ids,
    )?;
    Ok(own + cascaded)
}

fn marks(n: usize) -> String {
    vec!["%s"; n].join(", ")
}

/// Deletes the many-to-many link rows whose source is one of `ids`.
fn delete_links(cx: &OrmContext, link: &M2mMeta, ids: &[Value]) -> mlua::Result<i64> {
    let sql = format!(
        "DELETE FROM {} WHERE {} IN",
        quote_name(&link.table),
        quote_name(&link.source_column)
    );
    exec_in(cx, &sql, ids)
}

fn exec_in(cx: &OrmContext, prefix: &str, ids: &[Value]) -> mlua::Result<i64> {
    exec_in_with(cx, prefix, Vec::new(), ids)
}

fn exec_in_with(
    cx: &OrmContext,
    prefix: &str,
    leading: Vec<Value>,
    ids: &[Value],
) -> mlua::Result<i64> {
    let mut total = 0;
    for chunk in ids.chunks(500) {
        let mut params = leading.clone();
        params.extend_from_slice(chunk);
        total += cx
            .db
            .execute(&format!("{prefix} ({})", marks(chunk.len())), &params)
            .map_err(db_err)? as i64;
    }
    Ok(total)
}

fn query_in(cx: &OrmContext, prefix: &str, ids: &[Value]) -> mlua::Result<Vec<Value>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let rows = cx
            .db
            .query(&format!("{prefix} ({})", marks(chunk.len())), chunk)
            .map_err(db_err)?;
        out.extend(rows.rows.into_iter().filter_map(|r| r.into_iter().next()));
    }
    Ok(out)
}

/// The values of one row for INSERT: every concrete field (auto keys left out when nil),
/// defaults and auto_now applied, keyed by attname in `values`. Returns the positions of
/// the fields given values, and the values.
fn row_values(
    lua: &Lua,
    reg: &Registry,
    m: &ModelMeta,
    values: &Table,
    vendor: Vendor,
) -> mlua::Result<(Vec<usize>, Vec<Value>)> {
    // A row of plain values (the common case) is read in one pass; others value by value.
    let plain = crate::lua::plain::pairs(lua, values, |_| true)?;
    let mut fields = Vec::with_capacity(m.fields.len());
    let mut params = Vec::with_capacity(m.fields.len());
    for (i, f) in m.fields.iter().enumerate() {
        let mut given = match &plain {
            Some(pairs) => match pairs.iter().find(|(name, _)| *name == f.attname) {
                Some((_, v)) => Given::Plain(v),
                None => Given::Nil,
            },
            None => match values.get::<LuaValue>(f.attname.as_str())? {
                LuaValue::Nil => Given::Nil,
                v => Given::Lua(v),
            },
        };
        if matches!(given, Given::Nil) && f.field.kind.is_auto() {
            continue;
        }
        if matches!(given, Given::Nil) && (f.field.auto_now || f.field.auto_now_add) {
            fields.push(i);
            params.push(now_for(f.field.kind));
            continue;
        }
        if matches!(given, Given::Nil)
            && let Some(FieldDefault::Lua(func)) = &f.field.default
        {
            given = match func.call::<LuaValue>(())? {
                LuaValue::Nil => Given::Nil,
                v => Given::Lua(v),
            };
        }
        let field = if f.field.kind.is_foreign_key() {
            &key_field_of(reg, f)
        } else {
            &f.field
        };
        let converted = match given {
            Given::Nil => match (&f.field.default, &f.field.db_default) {
                (Some(FieldDefault::Value(d)), _) => {
                    Ok(crate::value::column_value(f.field.kind, d, vendor))
                }
                (None, Some(_)) => continue,
                _ => Ok(Value::Null),
            },
            Given::Plain(p) => match super::values::plain_to_db(field, p) {
                Some(v) => Ok(v),
                None => to_db(field, &p.to_lua(lua)?, vendor),
            },
            Given::Lua(v) => to_db(field, &v, vendor),
        };
        let value =
            converted.map_err(|e| rt(format!("{}.{}: field '{}': {e}", m.app, m.name, f.name)))?;
        fields.push(i);
        params.push(value);
    }
    Ok((fields, params))
}

/// A field's value as a row table gives it.
enum Given<'a> {
    Nil,
    Plain(&'a crate::lua::plain::Plain),
    Lua(LuaValue),
}

/// The quoted column names of `m`'s fields at `positions`.
fn columns_at(m: &ModelMeta, positions: &[usize]) -> Vec<String> {
    positions
        .iter()
        .map(|&i| quote_name(m.fields[i].column.as_deref().unwrap_or_default()))
        .collect()
}

/// The field whose type a value written to `f` takes: a foreign key stores its target's
/// key (a UUID key as the UUID field stores it, and so on).
pub(super) fn key_field_of(reg: &Registry, f: &super::meta::FieldMeta) -> crate::fields::Field {
    match f.target.as_ref().and_then(|t| reg.get(t)) {
        Some(target) => {
            let mut k = target.pk_field().field.clone();
            k.null = f.field.null;
            k
        }
        None => {
            let mut k = f.field.clone();
            k.kind = FieldKind::IntegerField;
            k
        }
    }
}

/// INSERT one row or many (`rows` is a list of value tables) and return the new keys.
pub(super) fn insert(
    lua: &Lua,
    cx: &OrmContext,
    key: &str,
    rows: &Table,
    batch: Option<usize>,
) -> mlua::Result<Table> {
    let m = cx.model(key)?;
    let pk = m.pk_field();
    let pk_col = quote_name(pk.column.as_deref().unwrap_or_default());
    let out = lua.create_table()?;
    let list: Vec<Table> = rows.sequence_values().collect::<mlua::Result<_>>()?;
    let batch = batch.unwrap_or(500).max(1);
    let mut n = 0;
    for chunk in list.chunks(batch) {
        // Rows with the same columns are inserted together.
        let mut prepared = Vec::with_capacity(chunk.len());
        for r in chunk {
            prepared.push(row_values(lua, &cx.reg, &m, r, cx.vendor)?);
        }
        let mut i = 0;
        while i < prepared.len() {
            let positions = &prepared[i].0;
            let cols = columns_at(&m, positions);
            let mut j = i;
            let mut params = Vec::new();
            let mut groups = Vec::new();
            while j < prepared.len() && prepared[j].0 == *positions && groups.len() < 500 {
                groups.push(format!("({})", marks(cols.len())));
                params.extend(prepared[j].1.iter().cloned());
                j += 1;
            }
            let sql = if cols.is_empty() {
                format!(
                    "INSERT INTO {} DEFAULT VALUES RETURNING {pk_col}",
                    quote_name(&m.table)
                )
            } else {
                format!(
                    "INSERT INTO {} ({}) VALUES {} RETURNING {pk_col}",
                    quote_name(&m.table),
                    cols.join(", "),
                    groups.join(", ")
                )
            };
            let res = cx.db.query(&sql, &params).map_err(db_err)?;
            for r in res.rows {
                n += 1;
                let v = r.into_iter().next().unwrap_or(Value::Null);
                out.raw_set(n, from_db(lua, &pk.field, v)?)?;
            }
            i = j;
        }
    }
    Ok(out)
}

/// `obj:save()` of a new row: one INSERT returning every column, so the instance gets its
/// key and what the database filled in (defaults, auto_now) without reading the row again.
/// The statement is compiled once per model and set of columns given.
pub(super) fn insert_row(
    lua: &Lua,
    cx: &OrmContext,
    key: &str,
    row: &Table,
) -> mlua::Result<Table> {
    let m = cx.model(key)?;
    let (positions, params) = row_values(lua, &cx.reg, &m, row, cx.vendor)?;
    let (compiled, rows) = run_insert(cx, &m, key, positions, &params)?;
    cx.rows_to_lua(lua, &compiled.fields, &rows.rows, None)?
        .get(1)
}

/// Runs the INSERT of `params` into the fields at `positions` (compiled on first use); the
/// row as stored.
fn run_insert(
    cx: &OrmContext,
    m: &ModelMeta,
    key: &str,
    positions: Vec<usize>,
    params: &[Value],
) -> mlua::Result<(Rc<CompiledInsert>, crate::db::Rows)> {
    let compiled = cx
        .inserts
        .borrow()
        .get(key)
        .and_then(|by| by.get(&positions[..]).cloned());
    let compiled = match compiled {
        Some(c) => c,
        None => {
            let c = Rc::new(compile_insert(cx, m, &positions));
            let mut inserts = cx.inserts.borrow_mut();
            let by = inserts.entry(key.to_string()).or_default();
            by.insert(positions, c.clone());
            c
        }
    };
    let rows = cx
        .db
        .query_prepared_inserting(&m.table, &compiled.sql, params)
        .map_err(db_err)?;
    Ok((compiled, rows))
}

/// `create{...}` of plain `field = value` pairs (what `get_or_create` creates, most
/// often): the row inserted and its instance built in one call, holding what the Lua way
/// (`new`, then `save`) would: the values given as they were given, and for every other
/// field what the database stored. Nil, having done nothing, unless every key is a field's
/// attribute name (a foreign key by its `_id`) whose value goes in as it is, and no field
/// left out has a default (`new` makes those in Lua); the Lua way then does the rest.
pub(super) fn create_plain(
    lua: &Lua,
    cx: &OrmContext,
    key: &str,
    kwargs: &Table,
    instance_mt: Table,
) -> mlua::Result<LuaValue> {
    let m = cx.model(key)?;
    let Some(given) = plain_values_by_field(lua, cx, &m, kwargs)? else {
        return Ok(LuaValue::Nil);
    };
    let mut positions = Vec::with_capacity(m.fields.len());
    let mut params = Vec::with_capacity(m.fields.len());
    for (i, (f, value)) in m.fields.iter().zip(given).enumerate() {
        let value = match value {
            Some(v) => v,
            None if f.field.kind.is_auto() => continue,
            None if f.field.auto_now || f.field.auto_now_add => now_for(f.field.kind),
            None if f.field.default.is_some() => return Ok(LuaValue::Nil),
            None if f.field.db_default.is_some() => continue,
            None => Value::Null,
        };
        positions.push(i);
        params.push(value);
    }
    let (compiled, rows) = run_insert(cx, &m, key, positions, &params)?;
    let instance: Table = cx
        .rows_to_lua(lua, &compiled.fields, &rows.rows, Some(instance_mt))?
        .get(1)?;
    // The values given, as Lua holds them (an integer given to a FloatField stays one),
    // but for the key and auto_now fields, which the Lua way takes as stored too.
    let (fields, pk) = (&m.fields, m.pk);
    let kept_as_given = |i: &usize| {
        let f = &fields[*i].field;
        *i != pk && !f.auto_now && !f.auto_now_add
    };
    // SAFETY: protected mode with the instance at 1 and the pairs' table at 2; `lua_next`
    // walks the unchanged table, reading keys that are strings already (checked above).
    unsafe {
        lua.exec_raw::<()>((&instance, kwargs), |state| {
            ffi::luaL_checkstack(state, 4, c"create".as_ptr());
            ffi::lua_pushnil(state);
            while ffi::lua_next(state, 2) != 0 {
                let name = crate::lua::plain::string_at(state, -2);
                let found = fields.iter().position(|f| f.attname.as_bytes() == name);
                if let Some(i) = found.filter(kept_as_given) {
                    ffi::lua_pushvalue(state, -1);
                    ffi::lua_rawseti(state, 1, (i + 1) as ffi::lua_Integer);
                }
                ffi::lua_pop(state, 1);
            }
        })?;
    }
    Ok(LuaValue::Table(instance))
}

/// The value of each field (in field order) that `kwargs` gives, as stored; None unless
/// every key is a field's attribute name and every value converts by copying.
fn plain_values_by_field(
    lua: &Lua,
    cx: &OrmContext,
    m: &ModelMeta,
    kwargs: &Table,
) -> mlua::Result<Option<Vec<Option<Value>>>> {
    let mut out = None;
    // SAFETY: protected mode, the table at index 1; see `pairs_at`. The values are copied
    // before the table can go.
    unsafe {
        lua.exec_raw::<()>(kwargs, |state| {
            let Some(pairs) = crate::lua::plain::pairs_at(state, 1, &|_| true) else {
                return;
            };
            let mut values: Vec<Option<Value>> = vec![None; m.fields.len()];
            for (name, v) in pairs {
                let Some(i) = m.fields.iter().position(|f| f.attname == name) else {
                    return;
                };
                let f = &m.fields[i];
                let converted = match f.field.kind.is_foreign_key() {
                    true => super::values::plain_as_db(&key_field_of(&cx.reg, f), v),
                    false => super::values::plain_as_db(&f.field, v),
                };
                match converted {
                    Some(value) => values[i] = Some(value.to_value()),
                    None => return,
                }
            }
            out = Some(values);
        })?;
    }
    Ok(out)
}

/// One model's INSERT of a row giving values for some of its fields (see [`insert_row`]).
pub struct CompiledInsert {
    sql: crate::db::InsertStatements,
    /// Every field of the model, as the row comes back.
    fields: Vec<crate::fields::Field>,
}

fn compile_insert(cx: &OrmContext, m: &ModelMeta, positions: &[usize]) -> CompiledInsert {
    let table = quote_name(&m.table);
    let columns = all_columns(m, None);
    let insert = if positions.is_empty() {
        format!("INSERT INTO {table} DEFAULT VALUES")
    } else {
        format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            columns_at(m, positions).join(", "),
            marks(positions.len())
        )
    };
    CompiledInsert {
        sql: crate::db::InsertStatements {
            returning: cx.db.prepare(&format!("{insert} RETURNING {columns}")),
            read_back: cx
                .db
                .prepare(&format!("SELECT {columns} FROM {table} WHERE rowid = %s")),
            insert: cx.db.prepare(&insert),
            columns: (positions.iter())
                .map(|&i| m.fields[i].column.clone().unwrap_or_default())
                .collect(),
            stored: (m.fields.iter())
                .map(|f| f.column.clone().unwrap_or_default())
                .collect(),
        },
        fields: m.fields.iter().map(|f| f.field.clone()).collect(),
    }
}

/// Many-to-many link rows: `add`, `remove` (of `ids`) and `clear`.
pub(super) fn link_rows(
    cx: &OrmContext,
    op: &str,
    link: &Table,
    id: LuaValue,
    ids: Option<Table>,
) -> mlua::Result<i64> {
    let table = quote_name(&link.get::<String>("table")?);
    let source = quote_name(&link.get::<String>("source")?);
    let target = quote_name(&link.get::<String>("target")?);
    let id = crate::lua::convert::to_value(&id)?;
    let targets: Vec<Value> = match ids {
        Some(t) => t
            .sequence_values::<LuaValue>()
            .map(|v| v.and_then(|v| crate::lua::convert::to_value(&v)))
            .collect::<mlua::Result<_>>()?,
        None => Vec::new(),
    };
    match op {
        "clear" => cx
            .db
            .execute(&format!("DELETE FROM {table} WHERE {source} = %s"), &[id])
            .map(|n| n as i64)
            .map_err(db_err),
        "remove" => exec_in_with(
            cx,
            &format!("DELETE FROM {table} WHERE {source} = %s AND {target} IN"),
            vec![id],
            &targets,
        ),
        "add" => {
            let mut n = 0;
            for t in targets {
                let exists = cx
                    .db
                    .query(
                        &format!("SELECT 1 FROM {table} WHERE {source} = %s AND {target} = %s"),
                        &[id.clone(), t.clone()],
                    )
                    .map_err(db_err)?;
                if exists.rows.is_empty() {
                    n += cx
                        .db
                        .execute(
                            &format!("INSERT INTO {table} ({source}, {target}) VALUES (%s, %s)"),
                            &[id.clone(), t],
                        )
                        .map_err(db_err)? as i64;
                }
            }
            Ok(n)
        }
        other => Err(rt(format!("unknown link operation {other}"))),
    }
}
