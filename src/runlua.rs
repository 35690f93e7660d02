//! Runs RunLua code: builds the `apps` registry of historical models and the
//! `schema_editor` object for one call, and reports failures with file and line.

use std::rc::Rc;

use mlua::{Lua, Table, Value as LuaValue};

use crate::db::Database;
use crate::error::Result;
use crate::lua::errors::call_protected;
use crate::lua::{convert, lua_error};
use crate::operations::LuaRunner;
use crate::schema::SchemaEditor;
use crate::state::ProjectState;

/// Runs RunLua functions against one database.
pub struct RunLuaHost<'a> {
    pub lua: &'a Lua,
    pub db: Rc<Database>,
}

impl LuaRunner for RunLuaHost<'_> {
    fn run_lua(
        &self,
        code: &mlua::Function,
        state: &ProjectState,
        _editor: &mut SchemaEditor,
        _location: &str,
    ) -> Result<()> {
        let apps = crate::orm::registry::apps_table(self.lua, state, self.db.clone())
            .map_err(lua_error)?;
        let editor = schema_editor_table(self.lua, self.db.clone()).map_err(lua_error)?;
        let previous = self
            .lua
            .set_app_data(crate::lua::stdlib::CurrentDatabase(self.db.clone()));
        crate::lua::vm::collect_for_rows(self.lua);
        let result = call_protected(self.lua, code, (apps, editor));
        crate::lua::vm::collect_for_loading(self.lua);
        // Row updates still queued are sent now, so their errors belong to this RunLua.
        let flushed = self.db.flush_pending();
        match previous {
            Some(p) => {
                self.lua.set_app_data(p);
            }
            None => {
                self.lua
                    .remove_app_data::<crate::lua::stdlib::CurrentDatabase>();
            }
        }
        result?;
        flushed
    }
}

/// `schema_editor` as RunLua sees it: `connection.alias`, `connection.vendor`,
/// `:execute(sql, params)` and `:query(sql, params)` with `%s` placeholders.
pub fn schema_editor_table(lua: &Lua, db: Rc<Database>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let conn = lua.create_table()?;
    conn.set("alias", db.alias.clone())?;
    conn.set("vendor", db.vendor.name())?;
    t.set("connection", conn)?;
    let exec_db = db.clone();
    t.set(
        "execute",
        lua.create_function(
            move |_, (_this, sql, params): (LuaValue, String, Option<Table>)| {
                let params = params_of(params)?;
                exec_db
                    .execute(&sql, &params)
                    .map_err(mlua::Error::external)
            },
        )?,
    )?;
    t.set(
        "query",
        lua.create_function(
            move |lua, (_this, sql, params): (LuaValue, String, Option<Table>)| {
                let params = params_of(params)?;
                let rows = db.query(&sql, &params).map_err(mlua::Error::external)?;
                let out = lua.create_table_with_capacity(rows.rows.len(), 0)?;
                for (i, row) in rows.rows.iter().enumerate() {
                    let r = lua.create_table_with_capacity(row.len(), row.len())?;
                    for (j, v) in row.iter().enumerate() {
                        let lv = convert::from_value(lua, v)?;
                        r.raw_set(j + 1, lv.clone())?;
                        if let Some(name) = rows.columns.get(j) {
                            r.raw_set(name.as_str(), lv)?;
                        }
                    }
                    out.raw_set(i + 1, r)?;
                }
                Ok(out)
            },
        )?,
    )?;
    Ok(t)
}

fn params_of(params: Option<Table>) -> mlua::Result<Vec<crate::value::Value>> {
    let Some(p) = params else {
        return Ok(Vec::new());
    };
    let n = p.raw_len();
    (1..=n)
        .map(|i| p.raw_get::<LuaValue>(i).and_then(|v| convert::to_value(&v)))
        .collect()
}
