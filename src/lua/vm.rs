//! Creates the Lua VM that runs settings and migration code: Lua's standard library minus
//! `debug`, C modules and bytecode; `require` that finds `luamig.*` (embedded in the binary)
//! and `.lua` modules of the project folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use mlua::{Lua, LuaOptions, StdLib, Table, Value as LuaValue, ffi};

use crate::error::{Error, Result};

use super::lua_error;

/// Lua modules shipped inside the binary, by module name.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "luamig._check",
        include_str!("../../lua-stdlib/luamig/_check.lua"),
    ),
    (
        "luamig.models",
        include_str!("../../lua-stdlib/luamig/models.lua"),
    ),
    (
        "luamig.migrations",
        include_str!("../../lua-stdlib/luamig/migrations.lua"),
    ),
    (
        "luamig.errors",
        include_str!("../../lua-stdlib/luamig/errors.lua"),
    ),
    (
        "luamig.orm",
        include_str!("../../lua-stdlib/luamig/orm.lua"),
    ),
    (
        "luamig.transaction",
        include_str!("../../lua-stdlib/luamig/transaction.lua"),
    ),
];

/// Apps that `require("luamig.apps").is_installed` reports.
pub struct InstalledApps(pub BTreeSet<String>);

/// The interpreter and where project modules are found.
pub struct LuaVm {
    pub lua: Lua,
    pub project_dir: PathBuf,
}

// Lua code that runs before anything else: text-only `load`, no way to reach C libraries.
const PRELUDE: &str = r#"
local raw_load, raw_loadfile = load, loadfile
load = function(chunk, name, mode, ...)
  return raw_load(chunk, name, "t", ...)
end
loadfile = function(name, mode, ...)
  return raw_loadfile(name, "t", ...)
end
dofile = function(name)
  local f = assert(raw_loadfile(name, "t"))
  return f()
end
package.loadlib = nil
package.path = ""
package.cpath = ""
string.dump = nil
-- Exiting from inside a migration would skip luamig's report of what was rolled back.
os.exit = function()
  error("os.exit is not available in luamig: raise an error with error(...) to stop a migration", 2)
end
"#;

impl LuaVm {
    /// A fresh interpreter for the project in `project_dir`; `display_base` is how that
    /// folder is shown in messages.
    pub fn new(project_dir: &Path, display_base: &Path) -> Result<LuaVm> {
        let libs = StdLib::COROUTINE
            | StdLib::TABLE
            | StdLib::IO
            | StdLib::OS
            | StdLib::STRING
            | StdLib::UTF8
            | StdLib::MATH
            | StdLib::PACKAGE;
        let lua = Lua::new_with(libs, LuaOptions::default()).map_err(lua_error)?;
        allocate_with_mimalloc(&lua).map_err(lua_error)?;
        collect_for_loading(&lua);
        lua.load(PRELUDE)
            .set_name("=luamig prelude")
            .exec()
            .map_err(lua_error)?;
        lua.set_app_data(InstalledApps(BTreeSet::new()));
        install_searchers(&lua, project_dir, display_base).map_err(lua_error)?;
        preload_rust_modules(&lua).map_err(lua_error)?;
        Ok(LuaVm {
            lua,
            project_dir: project_dir.to_path_buf(),
        })
    }

    /// Runs a file's bytes as a chunk named `display` and returns what it returns.
    pub fn run_file(&self, bytes: &[u8], display: &Path) -> Result<LuaValue> {
        let shown = display.display().to_string();
        if std::str::from_utf8(bytes).is_err() {
            return Err(Error::File {
                path: display.to_path_buf(),
                reason: "not valid UTF-8".into(),
            });
        }
        let chunk = self
            .lua
            .load(bytes)
            .set_name(format!("@{shown}"))
            .set_mode(mlua::chunk::ChunkMode::Text);
        // `eval` first compiles `return <file>`, so that a bare expression is a value, and
        // compiles the file again when that fails. A file that opens with a statement
        // keyword (`local migrations = require(...)`) fails it for sure: compile it once.
        let result = if starts_with_statement(bytes) {
            chunk.call(())
        } else {
            chunk.eval()
        };
        result.map_err(|e| locate(lua_error(e), bytes, &shown))
    }

    /// `require(name)` from Rust.
    pub fn require(&self, name: &str) -> Result<Table> {
        let require: mlua::Function = self.lua.globals().get("require").map_err(lua_error)?;
        require.call(name).map_err(lua_error)
    }
}

/// Whether Lua source opens, after blanks and comments, with a keyword that can only begin a
/// statement, so that `return <source>` does not compile. False when unsure.
fn starts_with_statement(source: &[u8]) -> bool {
    const KEYWORDS: &[&[u8]] = &[
        b"local", b"return", b"if", b"for", b"while", b"repeat", b"do", b"goto", b"break",
    ];
    let mut rest = source;
    loop {
        rest = rest.trim_ascii_start();
        let Some(comment) = rest.strip_prefix(b"--") else {
            break;
        };
        rest = match skip_comment(comment) {
            Some(after) => after,
            None => return false,
        };
    }
    let word = rest
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    KEYWORDS.contains(&&rest[..word])
}

/// What follows a comment whose text (after `--`) starts `text`: a long comment
/// `--[==[ ... ]==]` ends at its closing bracket, any other at the end of the line. None for
/// an unclosed long comment.
fn skip_comment(text: &[u8]) -> Option<&[u8]> {
    let level = text
        .strip_prefix(b"[")
        .map(|t| t.iter().take_while(|c| **c == b'=').count())
        .filter(|&n| text.get(n + 1) == Some(&b'['));
    match level {
        Some(n) => {
            let body = &text[n + 2..];
            let close = [b"]".as_slice(), &b"=".repeat(n), b"]"].concat();
            let end = body.windows(close.len()).position(|w| w == close)?;
            Some(&body[end + close.len()..])
        }
        None => {
            let end = text
                .iter()
                .position(|c| *c == b'\n' || *c == b'\r')
                .unwrap_or(text.len());
            Some(&text[end..])
        }
    }
}

/// `return migrations.Migration { ... }` is a tail call, so Lua forgets the file's frame and
/// a constructor error arrives without a location: find the line in the source (the line
/// of the unknown or bad key, else of the `Migration` call) and name it.
fn locate(err: Error, source: &[u8], shown: &str) -> Error {
    let Error::Lua { message, traceback } = err else {
        return err;
    };
    if message.starts_with(shown) || message.contains(".lua:") {
        return Error::Lua { message, traceback };
    }
    // No line to point at: the whole file could not be run.
    if message.contains("stack overflow") {
        return Error::Lua {
            message: format!("{shown}: {message}"),
            traceback,
        };
    }
    let text = String::from_utf8_lossy(source);
    let key = message
        .split('\'')
        .nth(1)
        .filter(|_| message.contains(" key '") || message.contains("': "))
        .unwrap_or("");
    let is_key_line = |l: &str| {
        !key.is_empty()
            && l.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|w| w == key)
            && l.contains('=')
    };
    let line = text
        .lines()
        .position(is_key_line)
        .or_else(|| text.lines().position(|l| l.contains("Migration")))
        .map(|i| i + 1);
    let message = match line {
        Some(n) => format!("{shown}:{n}: {message}"),
        None => format!("{shown}: {message}"),
    };
    Error::Lua { message, traceback }
}

fn install_searchers(lua: &Lua, project_dir: &Path, display_base: &Path) -> mlua::Result<()> {
    let package: Table = lua.globals().get("package")?;
    let preload: Table = package.get("preload")?;
    let searchers = lua.create_table()?;
    // 1. package.preload (Rust-built modules).
    let preload_searcher = lua.create_function(move |lua, name: String| {
        let preload: Table = lua.globals().get::<Table>("package")?.get("preload")?;
        match preload.get::<LuaValue>(name.as_str())? {
            LuaValue::Function(f) => Ok((
                LuaValue::Function(f),
                LuaValue::String(lua.create_string(":preload:")?),
            )),
            _ => Ok((
                LuaValue::String(lua.create_string(format!("no field package.preload['{name}']"))?),
                LuaValue::Nil,
            )),
        }
    })?;
    drop(preload);
    searchers.push(preload_searcher)?;
    // 2. luamig.* modules embedded in the binary.
    let embedded =
        lua.create_function(
            |lua, name: String| match EMBEDDED.iter().find(|(n, _)| *n == name) {
                Some((_, src)) => {
                    let path = name.replace('.', "/");
                    let f = lua
                        .load(*src)
                        .set_name(format!("@<embedded>/{path}.lua"))
                        .into_function()?;
                    Ok((LuaValue::Function(f), LuaValue::Nil))
                }
                None => Ok((
                    LuaValue::String(lua.create_string(format!("no embedded module '{name}'"))?),
                    LuaValue::Nil,
                )),
            },
        )?;
    searchers.push(embedded)?;
    // 3. `.lua` files of the project folder: "routers" -> routers.lua, "a.b" -> a/b.lua.
    let dir = project_dir.to_path_buf();
    let shown = display_base.to_path_buf();
    let project = lua.create_function(move |lua, name: String| {
        let rel = PathBuf::from(name.replace('.', "/"));
        let candidates = [rel.with_extension("lua"), rel.join("init.lua")];
        for candidate in candidates {
            let full = dir.join(&candidate);
            if let Ok(bytes) = std::fs::read(&full) {
                let display = shown.join(&candidate);
                let f = lua
                    .load(bytes)
                    .set_name(format!("@{}", display.display()))
                    .set_mode(mlua::chunk::ChunkMode::Text)
                    .into_function()?;
                return Ok((LuaValue::Function(f), LuaValue::Nil));
            }
        }
        let msg = format!("no file '{}.lua' in the project folder", rel.display());
        Ok((LuaValue::String(lua.create_string(msg)?), LuaValue::Nil))
    })?;
    searchers.push(project)?;
    package.set("searchers", searchers)?;
    Ok(())
}

/// The collector for loading a project: it makes mostly short-lived tables (constructor
/// options), which the generational collector handles for less.
pub fn collect_for_loading(lua: &Lua) {
    lua.gc_set_mode(mlua::state::GcMode::Generational(
        mlua::state::GcGenParams::default(),
    ));
}

/// The collector while `RunLua` code runs: incremental, finishing a cycle in about the time
/// the heap takes to double. A loop over a queryset keeps each chunk's rows for hundreds of
/// iterations, long enough for the generational collector to make them old, so that only
/// its full collections (which mark everything again) free them: in a loop of
/// `get_or_create` and `save()`, the incremental collector took 7-10% less time. Switching
/// to it costs nothing; switching back, one full collection.
pub fn collect_for_rows(lua: &Lua) {
    let params = mlua::state::GcIncParams::default()
        .pause(200)
        .step_multiplier(200);
    lua.gc_set_mode(mlua::state::GcMode::Incremental(params));
}

/// Makes Lua allocate straight from mimalloc, when mimalloc is the process's global
/// allocator (the luamig binary; a test binary has the system's). mlua's allocator keeps
/// count for a memory limit luamig never sets, and goes through Rust's allocator
/// interface, which takes mimalloc's aligned path for every block below 16 bytes; Lua
/// allocates and frees a few blocks for every row a data migration reads.
fn allocate_with_mimalloc(lua: &Lua) -> mlua::Result<()> {
    unsafe extern "C" fn alloc(
        _ud: *mut std::ffi::c_void,
        ptr: *mut std::ffi::c_void,
        _old_size: usize,
        new_size: usize,
    ) -> *mut std::ffi::c_void {
        // SAFETY: `ptr` is null or a block of mimalloc's (see below); Lua's contract for
        // an allocator: size 0 frees, anything else reallocates (or allocates, from null).
        unsafe {
            if new_size == 0 {
                libmimalloc_sys::mi_free(ptr);
                std::ptr::null_mut()
            } else {
                libmimalloc_sys::mi_realloc(ptr, new_size)
            }
        }
    }
    let probe = Box::new(0u64);
    // SAFETY: asks only whether a live block lies in mimalloc's heap.
    let global_is_mimalloc =
        unsafe { libmimalloc_sys::mi_is_in_heap_region((&*probe as *const u64).cast()) };
    if !global_is_mimalloc {
        return Ok(());
    }
    // SAFETY: the blocks Lua holds so far came through mlua's allocator from the global
    // allocator, mimalloc (checked above): `mi_free` and `mi_realloc` take any block it
    // made. mimalloc aligns a block to 16 bytes, or to 8 below 16 bytes: at least the 8
    // that Lua's numbers and pointers need. Nothing in luamig asks mlua for its memory
    // count or sets a limit.
    unsafe {
        lua.exec_raw::<()>((), |state| {
            ffi::lua_setallocf(state, alloc, std::ptr::null_mut());
        })
    }
}

/// "file:line" of the nearest frame in a user's file (not luamig's own embedded modules, not
/// C), or "" when there is none.
pub fn user_location(lua: &Lua) -> String {
    let mut level = 1;
    while let Some(found) = lua.inspect_stack(level, |d| {
        let src = d.source();
        let file = user_file(src.source.as_deref().unwrap_or("").as_bytes())?;
        let line = d.current_line()?;
        Some(format!("{}:{line}", String::from_utf8_lossy(file)))
    }) {
        if let Some(loc) = found {
            return loc;
        }
        level += 1;
    }
    String::new()
}

/// The file of a chunk whose `source` is `@file`, unless it is one of luamig's embedded
/// modules.
fn user_file(source: &[u8]) -> Option<&[u8]> {
    source
        .strip_prefix(b"@")
        .filter(|f| !f.starts_with(b"<embedded>"))
}

/// The location [`user_location_raw`] found last.
#[derive(Default)]
pub struct LastLocation {
    source: Vec<u8>,
    line: i32,
    shown: Rc<str>,
}

/// [`user_location`] from inside a Lua C function, cheap enough for every row: no mlua
/// call, and while the frame found is on the same line of the same file as last time, the
/// same shared string again.
///
/// The walk starts `from` levels above the C function: callers that know the frames
/// right above them are luamig's own skip them.
///
/// # Safety
/// `state` must be the running thread, inside a C function Lua called.
pub(crate) unsafe fn user_location_raw(
    state: *mut ffi::lua_State,
    last: &mut LastLocation,
    from: i32,
) -> Rc<str> {
    unsafe {
        let mut level = from;
        let mut ar: ffi::lua_Debug = std::mem::zeroed();
        while ffi::lua_getstack(state, level, &mut ar) != 0 {
            level += 1;
            // The line only of a frame in a user's file: finding it costs more.
            if ffi::lua_getinfo(state, c"S".as_ptr(), &mut ar) == 0 || ar.source.is_null() {
                continue;
            }
            let source = std::slice::from_raw_parts(ar.source.cast::<u8>(), ar.srclen);
            let Some(file) = user_file(source) else {
                continue;
            };
            ffi::lua_getinfo(state, c"l".as_ptr(), &mut ar);
            let line @ 1.. = ar.currentline else {
                continue;
            };
            if line != last.line || source != last.source.as_slice() {
                *last = LastLocation {
                    source: source.to_vec(),
                    line,
                    shown: Rc::from(format!("{}:{line}", String::from_utf8_lossy(file))),
                };
            }
            return last.shown.clone();
        }
        Rc::from("")
    }
}

fn preload_rust_modules(lua: &Lua) -> mlua::Result<()> {
    let core = lua.create_function(|lua, ()| {
        let t = lua.create_table()?;
        // where(level): "file:line" of the function `level` frames above the caller.
        t.set(
            "where",
            lua.create_function(|lua, level: usize| {
                Ok(lua
                    .inspect_stack(level, |d| {
                        let src = d.source();
                        let file = src
                            .source
                            .as_deref()
                            .map(|s| s.strip_prefix('@').unwrap_or(s).to_string())
                            .unwrap_or_default();
                        match d.current_line() {
                            Some(line) => format!("{file}:{line}"),
                            None => file,
                        }
                    })
                    .unwrap_or_default())
            })?,
        )?;
        // user_where(): "file:line" of the nearest frame in a user's file (not luamig's own
        // embedded modules, not C), so errors raised deep in the library blame user code.
        t.set(
            "user_where",
            lua.create_function(|lua, ()| Ok(user_location(lua)))?,
        )?;
        // traceback(level): the stack from `level` frames above the caller, as text.
        t.set(
            "traceback",
            lua.create_function(|lua, level: usize| {
                Ok(lua.traceback(None, level + 1)?.to_string_lossy())
            })?,
        )?;
        Ok(t)
    })?;
    lua.preload_module("luamig.core", core)?;
    let apps = lua.create_function(|lua, ()| {
        let t = lua.create_table()?;
        t.set(
            "is_installed",
            lua.create_function(|lua, label: String| {
                Ok(lua
                    .app_data_ref::<InstalledApps>()
                    .is_some_and(|apps| apps.0.contains(&label)))
            })?,
        )?;
        Ok(t)
    })?;
    lua.preload_module("luamig.apps", apps)?;
    super::json::preload(lua)?;
    super::decimal::preload(lua)?;
    super::stdlib::preload(lua)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::starts_with_statement;

    #[test]
    fn statement_keywords_after_blanks_and_comments() {
        assert!(starts_with_statement(
            b"local m = require('luamig.migrations')"
        ));
        assert!(starts_with_statement(b"\n  -- note\r\nreturn {}"));
        assert!(starts_with_statement(
            b"--[==[ a ]] b ]=] ]==]if x then end"
        ));
        assert!(starts_with_statement(b"--[=x line comment\ndo end"));
    }

    #[test]
    fn anything_else_may_be_an_expression() {
        assert!(!starts_with_statement(b"{ installed_apps = {} }"));
        assert!(!starts_with_statement(b"localize()"));
        assert!(!starts_with_statement(b"function() end"));
        assert!(!starts_with_statement(b"--[[ unclosed\nlocal x"));
        assert!(!starts_with_statement(b"-- only a comment"));
        assert!(!starts_with_statement(b"\xEF\xBB\xBFlocal x = 1"));
    }
}
