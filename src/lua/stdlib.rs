//! Rust-built `luamig.*` modules: `text` (Django's slugify), `uuid`, and `_tx` (the
//! transaction primitives behind the Lua module `luamig.transaction`).

use std::rc::Rc;

use mlua::{Lua, Value as LuaValue};
use unicode_normalization::UnicodeNormalization;

use crate::db::{AtomicLevel, Database};

/// The database RunLua code is running against, for `luamig.transaction`.
pub struct CurrentDatabase(pub Rc<Database>);

/// Django's `slugify`: NFKD to ASCII (or NFKC keeping Unicode), drop what is not a word
/// character, space or hyphen, lowercase, collapse spaces and hyphens, strip `-` and `_`.
pub fn slugify(value: &str, allow_unicode: bool) -> String {
    let normalized: String = if allow_unicode {
        value.nfkc().collect()
    } else {
        value.nfkd().filter(char::is_ascii).collect()
    };
    let lowered = normalized.to_lowercase();
    let is_word = |c: char| {
        if allow_unicode {
            c.is_alphanumeric() || c == '_'
        } else {
            c.is_ascii_alphanumeric() || c == '_'
        }
    };
    let kept: String = lowered
        .chars()
        .filter(|&c| is_word(c) || c.is_whitespace() || c == '-')
        .collect();
    let mut out = String::with_capacity(kept.len());
    let mut in_gap = false;
    for c in kept.chars() {
        if c == '-' || c.is_whitespace() {
            in_gap = true;
        } else {
            if in_gap {
                out.push('-');
            }
            in_gap = false;
            out.push(c);
        }
    }
    if in_gap {
        out.push('-');
    }
    out.trim_matches(|c| c == '-' || c == '_').to_string()
}

/// Registers `luamig.text`, `luamig.uuid` and `luamig._tx`.
pub fn preload(lua: &Lua) -> mlua::Result<()> {
    let text = lua.create_function(|lua, ()| {
        let t = lua.create_table()?;
        t.set(
            "slugify",
            lua.create_function(|_, (v, allow_unicode): (LuaValue, Option<bool>)| {
                let s = match &v {
                    LuaValue::String(s) => s.to_string_lossy(),
                    LuaValue::Nil => String::new(),
                    other => other.to_string()?,
                };
                Ok(slugify(&s, allow_unicode.unwrap_or(false)))
            })?,
        )?;
        Ok(t)
    })?;
    lua.preload_module("luamig.text", text)?;
    let uuid = lua.create_function(|lua, ()| {
        let t = lua.create_table()?;
        t.set(
            "uuid4",
            lua.create_function(|_, ()| Ok(uuid::Uuid::new_v4().hyphenated().to_string()))?,
        )?;
        Ok(t)
    })?;
    lua.preload_module("luamig.uuid", uuid)?;
    lua.preload_module("luamig._tx", lua.create_function(tx_module)?)
}

/// Transaction primitives behind `luamig.transaction` (written in Lua so an error value
/// raised inside `atomic` comes out unchanged): `begin() -> level`, `commit(level)`,
/// `rollback(level)`.
fn tx_module(lua: &Lua, (): ()) -> mlua::Result<mlua::Table> {
    let current = |lua: &Lua| {
        lua.app_data_ref::<CurrentDatabase>()
            .map(|d| d.0.clone())
            .ok_or_else(|| {
                mlua::Error::runtime("transaction.atomic can only be used while a migration runs")
            })
    };
    let t = lua.create_table()?;
    t.set(
        "begin",
        lua.create_function(move |lua, ()| {
            let db = current(lua)?;
            db.atomic_begin()
                .map(|l| l.depth())
                .map_err(|e| mlua::Error::runtime(e.to_string()))
        })?,
    )?;
    t.set(
        "commit",
        lua.create_function(move |lua, level: u32| {
            let db = current(lua)?;
            db.atomic_commit(AtomicLevel::at(level))
                .map_err(|e| mlua::Error::runtime(e.to_string()))
        })?,
    )?;
    t.set(
        "rollback",
        lua.create_function(move |lua, level: u32| {
            let db = current(lua)?;
            db.atomic_rollback(AtomicLevel::at(level))
                .map_err(|e| mlua::Error::runtime(e.to_string()))
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugify_matches_django() {
        assert_eq!(slugify(" Joel is a slug ", false), "joel-is-a-slug");
        assert_eq!(slugify("Hello, World!", false), "hello-world");
        assert_eq!(slugify("Ça va été -- bien_", false), "ca-va-ete-bien");
        assert_eq!(slugify("__under__", false), "under");
        assert_eq!(slugify("你好 World", false), "world");
        assert_eq!(slugify("你好 World", true), "你好-world");
        assert_eq!(slugify("a\t\nb", false), "a-b");
    }
}
