//! The Rust half of the ORM, handed to `luamig/orm.lua` as `core`: model descriptions and
//! the statements querysets and instances run. Values cross as Lua values; SQL is compiled
//! and bound here.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{Lua, Table, Value as LuaValue};

use crate::db::{Database, Vendor, quote_name};
use crate::fields::{FieldDefault, FieldKind, ModelKey, OnDelete};
use crate::value::Value;

use super::meta::{ModelMeta, Registry};
use super::query::{Compiled, Compiler};
use super::values::{from_db, now_for, plain_to_db, to_db};

/// What every core function shares.
pub struct OrmContext {
    pub reg: Registry,
    pub db: Rc<Database>,
    pub vendor: Vendor,
    /// Compiled `get{name = value, ...}` statements by model and names (see [`lookup`]).
    pub lookups: RefCell<rustc_hash::FxHashMap<String, Rc<Lookup>>>,
    /// Tables known to be plain or not (see [`plain_table`]).
    pub plain_tables: RefCell<rustc_hash::FxHashMap<String, bool>>,
}

fn rt(msg: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::runtime(msg.to_string())
}

fn db_err(e: crate::error::Error) -> mlua::Error {
    mlua::Error::runtime(e.to_string())
}

impl OrmContext {
    fn model(&self, key: &str) -> mlua::Result<Rc<ModelMeta>> {
        let (app, name) = key
            .split_once('.')
            .ok_or_else(|| rt(format!("bad model key '{key}'")))?;
        self.reg
            .get(&ModelKey::new(app, name))
            .cloned()
            .ok_or_else(|| rt(format!("no model {key}")))
    }

    fn compile(&self, m: &Rc<ModelMeta>, q: &Table) -> mlua::Result<Compiled> {
        Compiler::new(&self.reg, self.vendor, m.clone())
            .compile(q)
            .map_err(rt)
    }

    /// Rows as Lua arrays of values; with `instance_mt`, each made a model instance (the
    /// array with that metatable and `__v` pointing at itself), saving Lua a pass over
    /// every row.
    ///
    /// Values Lua holds natively (integers, numbers, booleans, strings) are pushed straight
    /// onto Lua's stack, with no handle per value or table: this is the hot path of every
    /// read. Values that need converting (decimals, JSON, UUIDs, datetimes) are converted
    /// first and handed over in one table.
    fn rows_to_lua(
        &self,
        lua: &Lua,
        fields: &[crate::fields::Field],
        rows: &[Vec<Value>],
        instance_mt: Option<Table>,
    ) -> mlua::Result<Table> {
        let mut converted = Vec::new();
        let mut cells: Vec<Vec<Cell>> = Vec::with_capacity(rows.len());
        for row in rows {
            let mut out = Vec::with_capacity(row.len());
            for (v, f) in row.iter().zip(fields) {
                out.push(match Cell::native(f, v) {
                    Some(cell) => cell,
                    None => {
                        converted.push(from_db(lua, f, v.clone())?);
                        Cell::Converted(converted.len())
                    }
                });
            }
            cells.push(out);
        }
        let converted = if converted.is_empty() {
            LuaValue::Nil
        } else {
            LuaValue::Table(lua.create_sequence_from(converted)?)
        };
        let width = fields.len();
        let instances = instance_mt.is_some();
        let mt = instance_mt.map_or(LuaValue::Nil, LuaValue::Table);
        // SAFETY: the closure runs in protected mode (a Lua error unwinds to mlua's pcall) and
        // holds nothing that needs dropping; it keeps the stack balanced apart from the one
        // table it leaves, and checks room for the few slots it uses.
        unsafe {
            lua.exec_raw::<Table>((mt, converted), |state| {
                use mlua::ffi;
                // Stack: 1 = instance metatable or nil, 2 = converted values or nil (none).
                ffi::luaL_checkstack(state, 8, c"rows".as_ptr());
                ffi::lua_createtable(state, cells.len() as i32, 0);
                for (i, row) in cells.iter().enumerate() {
                    // An instance is its own value array (`__v` points back at it), with
                    // room for `__v` and the related-object cache that assigning a foreign
                    // key adds: one table per row, and no rehash on that assignment.
                    ffi::lua_createtable(state, width as i32, if instances { 2 } else { 0 });
                    for (j, cell) in row.iter().enumerate() {
                        match cell {
                            Cell::Nil => continue,
                            Cell::Bool(b) => ffi::lua_pushboolean(state, *b as i32),
                            Cell::Int(n) => ffi::lua_pushinteger(state, *n),
                            Cell::Num(n) => ffi::lua_pushnumber(state, *n),
                            Cell::Bytes(b) => {
                                ffi::lua_pushlstring(state, b.as_ptr().cast(), b.len());
                            }
                            Cell::Converted(k) => {
                                ffi::lua_rawgeti(state, 2, *k as ffi::lua_Integer);
                            }
                        }
                        ffi::lua_rawseti(state, -2, (j + 1) as ffi::lua_Integer);
                    }
                    if instances {
                        ffi::lua_pushvalue(state, -1);
                        ffi::lua_setfield(state, -2, c"__v".as_ptr());
                        ffi::lua_pushvalue(state, 1);
                        ffi::lua_setmetatable(state, -2);
                    }
                    ffi::lua_rawseti(state, -2, (i + 1) as ffi::lua_Integer);
                }
                ffi::lua_replace(state, 1);
                ffi::lua_settop(state, 1);
            })
        }
    }
}

/// One value of a row on its way to Lua: native to Lua, or the 1-based position of a value
/// converted beforehand.
enum Cell<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Num(f64),
    Bytes(&'a [u8]),
    Converted(usize),
}

impl<'a> Cell<'a> {
    /// `v` as Lua sees it when no conversion is needed (see [`from_db`]), else None.
    fn native(field: &crate::fields::Field, v: &'a Value) -> Option<Cell<'a>> {
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

/// Builds the `core` table for one RunLua call.
pub fn core_table(lua: &Lua, cx: Rc<OrmContext>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let c = cx.clone();
    t.set(
        "meta",
        lua.create_function(move |lua, key: String| meta_table(lua, &*c.model(&key)?))?,
    )?;
    let c = cx.clone();
    t.set(
        "select",
        lua.create_function(move |lua, (key, q, opts): (String, Table, Option<Table>)| {
            select(lua, &c, &key, &q, opts)
        })?,
    )?;
    let c = cx.clone();
    t.set(
        "lookup",
        lua.create_function(
            move |lua, (key, kwargs, instance_mt): (String, Table, Table)| {
                lookup(lua, &c, &key, &kwargs, instance_mt)
            },
        )?,
    )?;
    let c = cx.clone();
    t.set(
        "count",
        lua.create_function(move |_, (key, q, exists): (String, Table, Option<bool>)| {
            count(&c, &key, &q, exists.unwrap_or(false))
        })?,
    )?;
    let c = cx.clone();
    t.set(
        "update",
        lua.create_function(move |_, (key, q, values): (String, Table, Table)| {
            update(&c, &key, &q, &values)
        })?,
    )?;
    let c = cx.clone();
    t.set(
        "delete",
        lua.create_function(move |_, (key, q): (String, Table)| delete(&c, &key, &q))?,
    )?;
    let c = cx.clone();
    t.set(
        "insert",
        lua.create_function(
            move |lua, (key, rows, batch): (String, Table, Option<usize>)| {
                insert(lua, &c, &key, &rows, batch)
            },
        )?,
    )?;
    let c = cx.clone();
    t.set(
        "insert_row",
        lua.create_function(move |lua, (key, row): (String, Table)| {
            insert_row(lua, &c, &key, &row)
        })?,
    )?;
    let c = cx.clone();
    t.set(
        "updater",
        lua.create_function(
            move |lua, (key, names, batched): (String, Option<Vec<String>>, Option<bool>)| {
                let updater = RowUpdater::new(&c, &key, names, batched.unwrap_or(false))?;
                let db = c.db.clone();
                lua.create_function(move |lua, values: Table| updater.run(lua, &db, &values))
            },
        )?,
    )?;
    let c = cx.clone();
    t.set(
        "link",
        lua.create_function(
            move |_, (op, link, id, ids): (String, Table, LuaValue, Option<Table>)| {
                link_rows(&c, &op, &link, id, ids)
            },
        )?,
    )?;
    let c = cx;
    t.set("vendor", c.vendor.name())?;
    Ok(t)
}

fn meta_table(lua: &Lua, m: &ModelMeta) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("key", format!("{}.{}", m.key.app, m.key.name))?;
    t.set("app", m.app.clone())?;
    t.set("name", m.name.clone())?;
    t.set("table", m.table.clone())?;
    t.set("pk", m.pk_field().name.clone())?;
    t.set("pk_attname", m.pk_field().attname.clone())?;
    let fields = lua.create_table()?;
    let index = lua.create_table()?;
    for (i, f) in m.fields.iter().enumerate() {
        let ft = lua.create_table()?;
        ft.set("name", f.name.clone())?;
        ft.set("attname", f.attname.clone())?;
        ft.set("kind", f.field.kind.name())?;
        ft.set("null", f.field.null)?;
        ft.set("primary_key", f.field.primary_key)?;
        ft.set("auto", f.field.kind.is_auto())?;
        ft.set("auto_now", f.field.auto_now)?;
        ft.set("auto_now_add", f.field.auto_now_add)?;
        if let Some(target) = &f.target {
            ft.set("fk", format!("{}.{}", target.app, target.name))?;
        }
        match &f.field.default {
            Some(FieldDefault::Lua(func)) => ft.set("default", func.clone())?,
            Some(FieldDefault::Value(v)) => {
                ft.set("default", crate::lua::convert::from_value(lua, v)?)?
            }
            None => {}
        }
        fields.raw_set(i + 1, ft)?;
        index.set(f.name.clone(), i + 1)?;
        index.set(f.attname.clone(), i + 1)?;
    }
    t.set("fields", fields)?;
    t.set("index", index)?;
    let m2m = lua.create_table()?;
    for (name, link) in &m.m2m {
        m2m.set(name.clone(), link_table(lua, link)?)?;
    }
    t.set("m2m", m2m)?;
    let reverse = lua.create_table()?;
    for r in &m.reverse {
        let rt = lua.create_table()?;
        rt.set("model", format!("{}.{}", r.model.app, r.model.name))?;
        rt.set("field", r.field.clone())?;
        if let Some(link) = &r.m2m {
            rt.set("m2m", link_table(lua, link)?)?;
        }
        reverse.set(r.accessor.clone(), rt)?;
    }
    t.set("reverse", reverse)?;
    t.set("ordering", m.ordering.clone())?;
    Ok(t)
}

fn link_table(lua: &Lua, link: &super::meta::M2mMeta) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("table", link.table.clone())?;
    t.set("source", link.source_column.clone())?;
    t.set("target", link.target_column.clone())?;
    t.set("model", format!("{}.{}", link.target.app, link.target.name))?;
    Ok(t)
}

/// SELECT rows (all concrete fields, or `opts.columns`); keyset chunks with `opts.after`
/// and `opts.chunk`; slices with `opts.low` / `opts.high`.
fn select(
    lua: &Lua,
    cx: &OrmContext,
    key: &str,
    q: &Table,
    opts: Option<Table>,
) -> mlua::Result<Table> {
    let m = cx.model(key)?;
    let mut compiler = Compiler::new(&cx.reg, cx.vendor, m.clone());
    let alias = compiler.base_alias();
    let columns: Option<Vec<String>> = opts
        .as_ref()
        .map(|o| o.get("columns"))
        .transpose()?
        .flatten();
    // Selected columns are resolved first so their joins are shared with the filters.
    let (select_sql, fields) = match &columns {
        None => (
            all_columns(&m, Some(&alias)),
            m.fields.iter().map(|f| f.field.clone()).collect::<Vec<_>>(),
        ),
        Some(names) => {
            let mut cols = Vec::new();
            let mut fields = Vec::new();
            for n in names {
                let (sql, f) = select_column(&mut compiler, n)?;
                cols.push(sql);
                fields.push(f);
            }
            (cols.join(", "), fields)
        }
    };
    let compiled = compiler.compile(q).map_err(rt)?;
    let mut params = compiled.params.clone();
    let mut wheres: Vec<String> = Vec::new();
    if !compiled.where_sql.is_empty() {
        wheres.push(compiled.where_sql.clone());
    }
    let pk_col = format!(
        "{alias}.{}",
        quote_name(m.pk_field().column.as_deref().unwrap_or_default())
    );
    let after: Option<LuaValue> = opts.as_ref().map(|o| o.get("after")).transpose()?;
    let chunk: Option<i64> = opts.as_ref().map(|o| o.get("chunk")).transpose()?.flatten();
    let mut order = compiled.order_sql.clone();
    if let Some(after) = after.filter(|a| !a.is_nil()) {
        wheres.push(format!("{pk_col} > %s"));
        params.push(to_db(&m.pk_field().field, &after, cx.vendor).map_err(rt)?);
    }
    if chunk.is_some() && order.is_empty() {
        order = format!("{pk_col} ASC");
    }
    let mut sql = format!("SELECT {select_sql} FROM {}", compiled.from);
    if !wheres.is_empty() {
        sql.push_str(&format!(" WHERE {}", wheres.join(" AND ")));
    }
    if !order.is_empty() {
        sql.push_str(&format!(" ORDER BY {order}"));
    }
    let mut limit = limit_clause(opts.as_ref(), chunk)?;
    if cx.vendor == Vendor::Sqlite {
        limit = limit.replace("LIMIT ALL", "LIMIT -1");
    }
    sql.push_str(&limit);
    let rows = cx.db.query(&sql, &params).map_err(db_err)?;
    let instance_mt: Option<Table> = opts
        .as_ref()
        .map(|o| o.get("instance_mt"))
        .transpose()?
        .flatten();
    cx.rows_to_lua(lua, &fields, &rows.rows, instance_mt)
}

/// A compiled `SELECT ... WHERE a = %s AND b = %s LIMIT 21`: the statement `get{...}` runs
/// when every lookup is a plain field name (get_or_create's shape, and following a foreign
/// key), and the fields its values are converted with, in the order of the sorted names.
pub struct Lookup {
    sql: crate::db::PreparedSql,
    /// The one table it reads.
    table: String,
    params: Vec<(crate::fields::Field, String)>,
    fields: Vec<crate::fields::Field>,
}

/// Up to 21 rows matching `kwargs` (names without `__`, values neither NULL nor tables),
/// as instances; `nil` when `kwargs` has another shape, for the general path to handle.
/// The statement is compiled once per model and set of names.
fn lookup(
    lua: &Lua,
    cx: &OrmContext,
    key: &str,
    kwargs: &Table,
    instance_mt: Table,
) -> mlua::Result<LuaValue> {
    // Names without `__` and plain values, read in one pass on Lua's stack; any other
    // shape is left to the general path.
    let Some(mut pairs) = crate::lua::plain::pairs(lua, kwargs, |name| !name.contains("__"))?
    else {
        return Ok(LuaValue::Nil);
    };
    if pairs.is_empty() {
        return Ok(LuaValue::Nil);
    }
    pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut cache_key = String::with_capacity(64);
    cache_key.push_str(key);
    for (name, _) in &pairs {
        cache_key.push('\0');
        cache_key.push_str(name);
    }
    let cached = cx.lookups.borrow().get(&cache_key).cloned();
    let compiled = match cached {
        Some(c) => c,
        None => {
            let as_lua = pairs
                .iter()
                .map(|(name, v)| Ok((name.clone(), v.to_lua(lua)?)))
                .collect::<mlua::Result<Vec<_>>>()?;
            let c = Rc::new(compile_lookup(cx, key, &as_lua)?);
            cx.lookups.borrow_mut().insert(cache_key, c.clone());
            c
        }
    };
    let mut params = Vec::with_capacity(pairs.len());
    for ((field, name), (_, v)) in compiled.params.iter().zip(&pairs) {
        params.push(match plain_to_db(field, v) {
            Some(value) => value,
            None => {
                to_db(field, &v.to_lua(lua)?, cx.vendor).map_err(|e| rt(format!("{name}: {e}")))?
            }
        });
    }
    let rows = if plain_table(cx, &compiled.table)? {
        cx.db
            .query_prepared_reading(&compiled.table, &compiled.sql, &params)
    } else {
        cx.db.query_prepared(&compiled.sql, &params).map(Rc::new)
    }
    .map_err(db_err)?;
    cx.rows_to_lua(lua, &compiled.fields, &rows.rows, Some(instance_mt))
        .map(LuaValue::Table)
}

fn compile_lookup(
    cx: &OrmContext,
    key: &str,
    pairs: &[(String, LuaValue)],
) -> mlua::Result<Lookup> {
    let m = cx.model(key)?;
    let mut compiler = Compiler::new(&cx.reg, cx.vendor, m.clone());
    let alias = compiler.base_alias();
    let mut conditions = Vec::with_capacity(pairs.len());
    let mut params = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        conditions.push(compiler.condition(name, value).map_err(rt)?);
        let field = compiler.field_meta(name).map_err(rt)?;
        params.push((compiler.value_field(&field), field.name.clone()));
    }
    // As Django's get(): no ordering, at most 21 rows.
    let sql = format!(
        "SELECT {} FROM {alias} WHERE ({}) LIMIT 21",
        all_columns(&m, Some(&alias)),
        conditions.join(" AND ")
    );
    Ok(Lookup {
        sql: cx.db.prepare(&sql),
        table: m.table.clone(),
        params,
        fields: m.fields.iter().map(|f| f.field.clone()).collect(),
    })
}

/// Every concrete column of `m`, in field order, qualified by `alias` when given.
fn all_columns(m: &ModelMeta, alias: Option<&str>) -> String {
    let cols: Vec<String> = m
        .fields
        .iter()
        .map(|f| {
            let column = quote_name(f.column.as_deref().unwrap_or_default());
            match alias {
                Some(alias) => format!("{alias}.{column}"),
                None => column,
            }
        })
        .collect();
    cols.join(", ")
}

fn select_column(
    compiler: &mut Compiler,
    name: &str,
) -> mlua::Result<(String, crate::fields::Field)> {
    // Reuse the lookup resolver through a throwaway condition-free path.
    let probe = compiler
        .condition(&format!("{name}__isnull"), &LuaValue::Boolean(false))
        .map_err(rt)?;
    let col = probe.trim_end_matches(" IS NOT NULL").to_string();
    let field = compiler.field_of(name).map_err(rt)?;
    Ok((col, field))
}

fn limit_clause(opts: Option<&Table>, chunk: Option<i64>) -> mlua::Result<String> {
    let low: Option<i64> = opts.map(|o| o.get("low")).transpose()?.flatten();
    let high: Option<i64> = opts.map(|o| o.get("high")).transpose()?.flatten();
    let limit = match (chunk, high) {
        (Some(c), _) => Some(c),
        (None, Some(h)) => Some((h - low.unwrap_or(0)).max(0)),
        (None, None) => None,
    };
    Ok(match (limit, low.filter(|l| *l > 0)) {
        (Some(l), Some(o)) => format!(" LIMIT {l} OFFSET {o}"),
        (Some(l), None) => format!(" LIMIT {l}"),
        // SQLite needs a LIMIT before OFFSET; -1 means none there, PostgreSQL takes ALL.
        (None, Some(o)) => format!(" LIMIT ALL OFFSET {o}"),
        (None, None) => String::new(),
    })
}

fn count(cx: &OrmContext, key: &str, q: &Table, exists: bool) -> mlua::Result<i64> {
    let m = cx.model(key)?;
    let c = cx.compile(&m, q)?;
    let where_sql = if c.where_sql.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", c.where_sql)
    };
    let sql = if exists {
        format!("SELECT 1 FROM {}{where_sql} LIMIT 1", c.from)
    } else {
        format!("SELECT COUNT(*) FROM {}{where_sql}", c.from)
    };
    let rows = cx.db.query(&sql, &c.params).map_err(db_err)?;
    Ok(match rows.rows.first().and_then(|r| r.first()) {
        Some(Value::Int(n)) if !exists => *n,
        Some(_) if exists => 1,
        _ => 0,
    })
}

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

fn update(cx: &OrmContext, key: &str, q: &Table, values: &Table) -> mlua::Result<i64> {
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
fn delete(cx: &OrmContext, key: &str, q: &Table) -> mlua::Result<i64> {
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
    let ids = cx.db.query(&selected, &c.params).map_err(db_err)?;
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
            exec_in(
                cx,
                &format!(
                    "DELETE FROM {} WHERE {} IN",
                    quote_name(&link.table),
                    quote_name(&link.source_column)
                ),
                ids,
            )?;
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
        exec_in(
            cx,
            &format!(
                "DELETE FROM {} WHERE {} IN",
                quote_name(&link.table),
                quote_name(&link.source_column)
            ),
            ids,
        )?;
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
/// defaults and auto_now applied, keyed by attname in `values`.
fn row_values(
    reg: &Registry,
    m: &ModelMeta,
    values: &Table,
    vendor: Vendor,
) -> mlua::Result<(Vec<String>, Vec<Value>)> {
    let mut cols = Vec::new();
    let mut params = Vec::new();
    for f in &m.fields {
        let mut v: LuaValue = values.get(f.attname.as_str())?;
        if v.is_nil() && f.field.kind.is_auto() {
            continue;
        }
        if v.is_nil() && (f.field.auto_now || f.field.auto_now_add) {
            cols.push(quote_name(f.column.as_deref().unwrap_or_default()));
            params.push(now_for(f.field.kind));
            continue;
        }
        if v.is_nil()
            && let Some(FieldDefault::Lua(func)) = &f.field.default
        {
            v = func.call::<LuaValue>(())?;
        }
        let field = if f.field.kind.is_foreign_key() {
            &key_field_of(reg, f)
        } else {
            &f.field
        };
        let value = if v.is_nil() {
            match (&f.field.default, &f.field.db_default) {
                (Some(FieldDefault::Value(d)), _) => {
                    crate::value::column_value(f.field.kind, d, vendor)
                }
                (None, Some(_)) => continue,
                _ => Value::Null,
            }
        } else {
            to_db(field, &v, vendor)
                .map_err(|e| rt(format!("{}.{}: field '{}': {e}", m.app, m.name, f.name)))?
        };
        cols.push(quote_name(f.column.as_deref().unwrap_or_default()));
        params.push(value);
    }
    Ok((cols, params))
}

/// The field whose type a value written to `f` takes: a foreign key stores its target's
/// key (a UUID key as the UUID field stores it, and so on).
fn key_field_of(reg: &Registry, f: &super::meta::FieldMeta) -> crate::fields::Field {
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
fn insert(
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
            prepared.push(row_values(&cx.reg, &m, r, cx.vendor)?);
        }
        let mut i = 0;
        while i < prepared.len() {
            let cols = prepared[i].0.clone();
            let mut j = i;
            let mut params = Vec::new();
            let mut groups = Vec::new();
            while j < prepared.len() && prepared[j].0 == cols && groups.len() < 500 {
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
fn insert_row(lua: &Lua, cx: &OrmContext, key: &str, row: &Table) -> mlua::Result<Table> {
    let m = cx.model(key)?;
    let (cols, params) = row_values(&cx.reg, &m, row, cx.vendor)?;
    let table = quote_name(&m.table);
    let returning = all_columns(&m, None);
    let sql = if cols.is_empty() {
        format!("INSERT INTO {table} DEFAULT VALUES RETURNING {returning}")
    } else {
        format!(
            "INSERT INTO {table} ({}) VALUES ({}) RETURNING {returning}",
            cols.join(", "),
            marks(cols.len())
        )
    };
    let rows = cx
        .db
        .query_prepared_writing(&m.table, &cx.db.prepare(&sql), &params)
        .map_err(db_err)?;
    let fields: Vec<_> = m.fields.iter().map(|f| f.field.clone()).collect();
    cx.rows_to_lua(lua, &fields, &rows.rows, None)?.get(1)
}

/// `obj:save()` and `obj:save{update_fields=...}` for one model and one set of fields: the
/// UPDATE is compiled once, then run per row straight from the instance's value slots (its
/// `__v` array, in field order), so a per-row save builds no SQL and no Lua table.
struct RowUpdater {
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
    fn new(
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
    fn run(&self, lua: &Lua, db: &Database, values: &Table) -> mlua::Result<i64> {
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
fn plain_table(cx: &OrmContext, table: &str) -> mlua::Result<bool> {
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

/// Many-to-many link rows: `add`, `remove` (of `ids`) and `clear`.
fn link_rows(
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
