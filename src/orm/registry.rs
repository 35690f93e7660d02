//! `apps`: the registry of historical models handed to RunLua code.

use std::rc::Rc;

use mlua::{Lua, Table};

use crate::db::{Database, Vendor};
use crate::state::ProjectState;

use super::core::{OrmContext, core_table};
use super::meta::Registry;

/// Builds the `apps` table for `state`: `get_model(app, name)` / `get_model("app.Name")`
/// and `is_installed(label)`. Unknown apps and models raise `LookupError` values.
pub fn apps_table(lua: &Lua, state: &ProjectState, db: Rc<Database>) -> mlua::Result<Table> {
    let max = if db.vendor == Vendor::Postgres {
        63
    } else {
        200
    };
    let cx = Rc::new(OrmContext {
        reg: Registry::build(state, max),
        vendor: db.vendor,
        db,
        lookups: Default::default(),
        plain_tables: Default::default(),
        fast_keys: Default::default(),
        inserts: Default::default(),
    });
    let core = core_table(lua, cx)?;
    let known = lua.create_table()?;
    for m in state.models() {
        let by_app: Table = match known.get::<Option<Table>>(m.app.as_str())? {
            Some(t) => t,
            None => {
                let t = lua.create_table()?;
                known.set(m.app.as_str(), t.clone())?;
                t
            }
        };
        by_app.set(m.name.to_lowercase(), true)?;
    }
    let installed = lua.create_table()?;
    if let Some(apps) = lua.app_data_ref::<crate::lua::vm::InstalledApps>() {
        for a in &apps.0 {
            installed.set(a.as_str(), true)?;
        }
    }
    let build: mlua::Function = lua
        .load(BUILD)
        .set_name("@<embedded>/luamig/apps_registry.lua")
        .eval()?;
    build.call((core, known, installed))
}

// get_model / is_installed in Lua, so LookupError is a real error value that pcall returns.
const BUILD: &str = r#"
return function(core, known, installed)
  local errors = require("luamig.errors")
  local apps = {}
  local get = require("luamig.orm").new(core, apps)
  function apps.get_model(app_label, model_name)
    if type(app_label) ~= "string" then
      errors.raise("ValueError", "get_model expects (\"app\", \"Model\") or \"app.Model\"", 2)
    end
    if model_name == nil then
      local a, m = app_label:match("^([^.]+)%.([^.]+)$")
      if not a then
        errors.raise("ValueError", "Invalid model identifier: '" .. app_label .. "'. Use \"app_label.ModelName\".", 2)
      end
      app_label, model_name = a, m
    end
    local app = known[app_label]
    if app == nil then
      if installed[app_label] then
        errors.raise("LookupError", "App '" .. app_label .. "' doesn't have a '" .. model_name .. "' model.", 2)
      end
      errors.raise("LookupError", "No installed app with label '" .. app_label .. "'.", 2)
    end
    local lower = string.lower(model_name)
    if not app[lower] then
      errors.raise("LookupError", "App '" .. app_label .. "' doesn't have a '" .. model_name .. "' model.", 2)
    end
    return get(app_label .. "." .. lower)
  end
  function apps.is_installed(label)
    return installed[label] == true or known[label] ~= nil
  end
  return apps
end
"#;
