//! The ORM's reads: querysets' SELECTs, counts, and `get{name = value}` lookups compiled
//! once per model and set of names.

use std::rc::Rc;

use mlua::{Lua, Table, Value as LuaValue};

use crate::db::{Vendor, quote_name};
use crate::value::Value;

use super::core::{OrmContext, db_err, rt};
use super::meta::ModelMeta;
use super::query::Compiler;
use super::save::plain_table;
use super::values::{plain_to_db, to_db};

/// SELECT rows (all concrete fields, or `opts.columns`); keyset chunks with `opts.after`
/// and `opts.chunk`; slices with `opts.low` / `opts.high`.
pub(super) fn select(
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
    let rows = cx.db.query_reading(&sql, &params).map_err(db_err)?;
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
    pub(super) sql: crate::db::PreparedSql,
    /// The columns its parameters are compared with, in order.
    pub(super) columns: Rc<[String]>,
    /// The one table it reads.
    pub(super) table: String,
    /// The field each value is converted for, and its name for messages, in name order.
    pub(super) params: Vec<(crate::fields::Field, String)>,
    pub(super) fields: Vec<crate::fields::Field>,
}

/// Whether `name` is a plain field name of a lookup, with no `__` (a lookup type or a path
/// through a relation). A byte scan: `str::contains` sets up a substring search for each
/// of these few-byte names.
pub(super) fn is_plain_lookup_name(name: &str) -> bool {
    !name.as_bytes().windows(2).any(|pair| pair == b"__")
}

/// The key of a compiled lookup in [`OrmContext::lookups`]: the model and its names, sorted.
pub(super) fn lookup_key<'a>(model: &str, sorted_names: impl Iterator<Item = &'a str>) -> String {
    let mut key = String::with_capacity(64);
    write_lookup_key(&mut key, model, sorted_names);
    key
}

/// [`lookup_key`] into `key`, which is cleared first.
pub(super) fn write_lookup_key<'a>(
    key: &mut String,
    model: &str,
    sorted_names: impl Iterator<Item = &'a str>,
) {
    key.clear();
    key.push_str(model);
    for name in sorted_names {
        key.push('\0');
        key.push_str(name);
    }
}

/// Up to 21 rows matching `kwargs` (names without `__`, values neither NULL nor tables),
/// as instances; `nil` when `kwargs` has another shape, for the general path to handle.
/// The statement is compiled once per model and set of names.
pub(super) fn lookup(
    lua: &Lua,
    cx: &OrmContext,
    key: &str,
    kwargs: &Table,
    instance_mt: Table,
) -> mlua::Result<LuaValue> {
    // Names without `__` and plain values, read in one pass on Lua's stack; any other
    // shape is left to the general path.
    let Some(mut pairs) = crate::lua::plain::pairs(lua, kwargs, is_plain_lookup_name)? else {
        return Ok(LuaValue::Nil);
    };
    if pairs.is_empty() {
        return Ok(LuaValue::Nil);
    }
    pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let cache_key = lookup_key(key, pairs.iter().map(|(name, _)| name.as_str()));
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
            .query_prepared_reading(&compiled.table, (&compiled.sql, &compiled.columns), &params)
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
    let mut columns = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        conditions.push(compiler.condition(name, value).map_err(rt)?);
        let field = compiler.field_meta(name).map_err(rt)?;
        params.push((compiler.value_field(&field), field.name.clone()));
        columns.push(field.column.clone().unwrap_or_default());
    }
    // As Django's get(): no ordering, at most 21 rows.
    let sql = format!(
        "SELECT {} FROM {alias} WHERE ({}) LIMIT 21",
        all_columns(&m, Some(&alias)),
        conditions.join(" AND ")
    );
    Ok(Lookup {
        sql: cx.db.prepare(&sql),
        columns: columns.into(),
        table: m.table.clone(),
        params,
        fields: m.fields.iter().map(|f| f.field.clone()).collect(),
    })
}

/// Every concrete column of `m`, in field order, qualified by `alias` when given.
pub(super) fn all_columns(m: &ModelMeta, alias: Option<&str>) -> String {
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

pub(super) fn count(cx: &OrmContext, key: &str, q: &Table, exists: bool) -> mlua::Result<i64> {
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
    let rows = cx.db.query_reading(&sql, &c.params).map_err(db_err)?;
    Ok(match rows.rows.first().and_then(|r| r.first()) {
        Some(Value::Int(n)) if !exists => *n,
        Some(_) if exists => 1,
        _ => 0,
    })
}
