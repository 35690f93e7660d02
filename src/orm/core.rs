//! The Rust half of the ORM, handed to `luamig/orm.lua` as `core`: model descriptions and
//! the statements querysets and instances run (reads, writes, save and the rows handed
//! back live in their own modules). Values cross as Lua values; SQL is compiled and bound
//! here.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{Lua, Table, Value as LuaValue};

use crate::db::{Database, Vendor};
use crate::fields::{FieldDefault, ModelKey};

use super::meta::{ModelMeta, Registry};
use super::query::{Compiled, Compiler};
use super::reads::{Lookup, count, lookup, select};
use super::save::RowUpdater;
use super::writes::{create_plain, delete, insert, insert_row, link_rows, update};

/// What every core function shares.
pub struct OrmContext {
    pub reg: Registry,
    pub db: Rc<Database>,
    pub vendor: Vendor,
    /// Compiled `get{name = value, ...}` statements by model and names (see [`lookup`]).
    pub lookups: RefCell<rustc_hash::FxHashMap<String, Rc<Lookup>>>,
    /// Tables known to be plain or not (see `save::plain_table`).
    pub plain_tables: RefCell<rustc_hash::FxHashMap<String, bool>>,
    /// Compiled `save()` INSERTs by model, then by the positions of the fields given.
    pub inserts: RefCell<rustc_hash::FxHashMap<String, InsertsByFields>>,
    /// The keys `fast_get` builds for each call, kept so that it allocates nothing.
    pub fast_keys: RefCell<FastKeys>,
}

/// See [`OrmContext::fast_keys`].
#[derive(Default)]
pub struct FastKeys {
    /// Of the compiled lookup (see `reads::lookup_key`).
    pub lookup: String,
    /// Of its parameters' values (see `read_cache::push_key_value`).
    pub values: Vec<u8>,
}

pub type InsertsByFields = rustc_hash::FxHashMap<Vec<usize>, Rc<super::writes::CompiledInsert>>;

pub(super) fn rt(msg: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::runtime(msg.to_string())
}

pub(super) fn db_err(e: crate::error::Error) -> mlua::Error {
    mlua::Error::runtime(e.to_string())
}

impl OrmContext {
    pub(super) fn model(&self, key: &str) -> mlua::Result<Rc<ModelMeta>> {
        let (app, name) = key
            .split_once('.')
            .ok_or_else(|| rt(format!("bad model key '{key}'")))?;
        self.reg
            .get(&ModelKey::new(app, name))
            .cloned()
            .ok_or_else(|| rt(format!("no model {key}")))
    }

    pub(super) fn compile(&self, m: &Rc<ModelMeta>, q: &Table) -> mlua::Result<Compiled> {
        Compiler::new(&self.reg, self.vendor, m.clone())
            .compile(q)
            .map_err(rt)
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
        "create_plain",
        lua.create_function(
            move |lua, (key, kwargs, instance_mt): (String, Table, Table)| {
                create_plain(lua, &c, &key, &kwargs, instance_mt)
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
                let updater = Rc::new(RowUpdater::new(&c, &key, names, batched.unwrap_or(false))?);
                let (general, db) = (updater.clone(), c.db.clone());
                let general =
                    lua.create_function(move |lua, values: Table| general.run(lua, &db, &values))?;
                match c.vendor {
                    Vendor::Sqlite => {
                        super::save::fast_updater(lua, updater, c.db.clone(), general)
                    }
                    Vendor::Postgres => Ok(general),
                }
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
    t.set("fast_get", super::fast::fast_get_function(lua, cx.clone())?)?;
    t.set(
        "instance_metamethods",
        lua.create_function(
            |lua,
             (methods, slots, fks, cache_keys, pk, null, index, newindex): (
                Table,
                Table,
                Table,
                Table,
                i64,
                Table,
                mlua::Function,
                mlua::Function,
            )| {
                super::instance::metamethods(
                    lua, methods, slots, fks, cache_keys, pk, null, index, newindex,
                )
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
