//! Database routers from the settings: `allow_migrate(db, app_label, model_name, hints)`;
//! the first non-nil answer wins, and no answer means allowed.

use mlua::{Function, Lua, Table, Value as LuaValue};

use crate::error::{Error, Result};
use crate::lua::errors::call_protected;
use crate::operations::Hints;

/// The configured routers.
pub struct Router<'a> {
    routers: &'a [Table],
    lua: &'a Lua,
}

impl<'a> Router<'a> {
    /// Routers in settings order.
    pub fn new(routers: &'a [Table], lua: &'a Lua) -> Self {
        Router { routers, lua }
    }

    /// Whether an operation on `model` (lowercased) of `app` may run on database `alias`.
    pub fn allow_migrate(
        &self,
        alias: &str,
        app: &str,
        model: Option<&str>,
        hints: &Hints,
    ) -> Result<bool> {
        for router in self.routers {
            let Ok(Some(f)) = router.get::<Option<Function>>("allow_migrate") else {
                continue;
            };
            let hint_table = self.lua.create_table().map_err(crate::lua::lua_error)?;
            for (k, v) in hints {
                hint_table
                    .set(k.as_str(), v.as_str())
                    .map_err(crate::lua::lua_error)?;
            }
            // `function R:allow_migrate(db, app_label, model_name, hints)` takes the router
            // first (five parameters); a plain `allow_migrate = function(db, ...)` does not.
            let answer = if f.info().num_params >= 5 {
                call_protected(
                    self.lua,
                    &f,
                    (router.clone(), alias, app, model, hint_table),
                )?
            } else {
                call_protected(self.lua, &f, (alias, app, model, hint_table))?
            };
            match answer.into_iter().next() {
                None | Some(LuaValue::Nil) => continue,
                Some(LuaValue::Boolean(b)) => return Ok(b),
                Some(other) => {
                    return Err(Error::Settings(format!(
                        "a router's allow_migrate returned a {} (expected true, false or nil)",
                        other.type_name()
                    )));
                }
            }
        }
        Ok(true)
    }
}
