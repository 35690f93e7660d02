//! `apps`: the registry of historical models handed to RunLua code.

use std::rc::Rc;

use mlua::{Lua, Table};

use crate::db::Database;
use crate::state::ProjectState;

/// Builds the `apps` table for `state`: `get_model(app, name)` / `get_model("app.Name")`
/// and `is_installed(label)`. Unknown apps and models raise `LookupError` values.
pub fn apps_table(lua: &Lua, state: &ProjectState, db: Rc<Database>) -> mlua::Result<Table> {
    let _ = db;
    let apps = lua.create_table()?;
    let models = lua.create_table()?;
    for m in state.models() {
        let meta = lua.create_table()?;
        meta.set("app_label", m.app.clone())?;
        meta.set("object_name", m.name.clone())?;
        meta.set("model_name", m.name.to_lowercase())?;
        meta.set("db_table", m.db_table())?;
        meta.set("fields", m.field_names())?;
        let model = lua.create_table()?;
        model.set("_meta", meta)?;
        let by_app: Table = match models.get::<Option<Table>>(m.app.as_str())? {
            Some(t) => t,
            None => {
                let t = lua.create_table()?;
                models.set(m.app.as_str(), t.clone())?;
                t
            }
        };
        by_app.set(m.name.to_lowercase(), model)?;
    }
    let lookup: mlua::Function = lua
        .load(LOOKUP)
        .set_name("@<embedded>/luamig/apps_registry.lua")
        .eval()?;
    let installed: Table = lua.create_table()?;
    if let Some(apps_data) = lua.app_data_ref::<crate::lua::vm::InstalledApps>() {
        for a in &apps_data.0 {
            installed.set(a.as_str(), true)?;
        }
    }
    lookup.call::<()>((apps.clone(), models, installed))?;
    Ok(apps)
}

// get_model / is_installed in Lua, so LookupError is a real error value that pcall returns.
const LOOKUP: &str = r#"
return function(apps, models, installed)
  local errors = require("luamig.errors")
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
    local app = models[app_label]
    if app == nil then
      if installed[app_label] then
        errors.raise("LookupError", "App '" .. app_label .. "' doesn't have a '" .. model_name .. "' model.", 2)
      end
      errors.raise("LookupError", "No installed app with label '" .. app_label .. "'.", 2)
    end
    local model = app[string.lower(model_name)]
    if model == nil then
      errors.raise("LookupError", "App '" .. app_label .. "' doesn't have a '" .. model_name .. "' model.", 2)
    end
    return model
  end
  function apps.is_installed(label)
    return installed[label] == true or models[label] ~= nil
  end
end
"#;
