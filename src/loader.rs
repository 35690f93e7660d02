//! Loads a project: the settings file, then every migration file of every installed app,
//! each decoded and checked before anything touches a database.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mlua::{Table, Value as LuaValue};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::graph::{MigrationNode, NodeKey};
use crate::lua::decode::Decoder;
use crate::lua::vm::InstalledApps;
use crate::lua::{LuaVm, lua_error};
use crate::migration::{DependencySpec, Migration};
use crate::settings::{DatabaseUrl, Settings};

/// Where settings come from, as the command line says.
#[derive(Clone, Debug, Default)]
pub struct SettingsSource {
    /// `--settings FILE`.
    pub settings: Option<PathBuf>,
    /// `--database-url URL`.
    pub database_url: Option<String>,
}

/// Everything loaded: settings, the Lua VM and every migration, by key.
pub struct Project {
    pub settings: Settings,
    pub vm: LuaVm,
    /// App labels with a migrations folder that are installed, sorted.
    pub apps: Vec<String>,
    pub migrations: BTreeMap<NodeKey, Migration>,
}

/// Known keys of the settings table.
const SETTINGS_KEYS: &[&str] = &["databases", "migrations_dir", "installed_apps", "routers"];

/// Reads settings, then every migration file.
pub fn load_project(source: &SettingsSource) -> Result<Project> {
    let (settings, vm) = load_settings(source)?;
    let installed: BTreeSet<String> = match &settings.installed_apps {
        Some(apps) => apps.iter().cloned().collect(),
        None => app_folders(&settings.migrations_dir)?.into_iter().collect(),
    };
    vm.lua.set_app_data(InstalledApps(installed.clone()));
    let folders = app_folders(&settings.migrations_dir)?;
    let apps: Vec<String> = folders
        .into_iter()
        .filter(|a| installed.contains(a))
        .collect();
    let decoder = Decoder::new(&vm)?;
    let mut migrations = BTreeMap::new();
    let rel_dir = relative_to(&settings.migrations_dir, &settings.base_dir);
    for app in &apps {
        for (name, path) in migration_files(&settings.migrations_dir.join(app))? {
            let display = settings.display(&rel_dir.join(app).join(format!("{name}.lua")));
            let bytes = std::fs::read(&path).map_err(|e| Error::File {
                path: display.clone(),
                reason: e.to_string(),
            })?;
            let checksum = sha256_hex(&bytes);
            let value = vm.run_file(&bytes, &display)?;
            let key = NodeKey::new(app.clone(), name);
            let m = decoder.migration(value, key.clone(), &display, checksum)?;
            migrations.insert(key, m);
        }
    }
    check_special_dependencies(&migrations, &installed)?;
    Ok(Project {
        settings,
        vm,
        apps,
        migrations,
    })
}

/// A `__first__` / `__latest__` dependency on an app that is not installed is an error (an
/// installed app without migrations is skipped, as in Django).
fn check_special_dependencies(
    migrations: &BTreeMap<NodeKey, Migration>,
    installed: &BTreeSet<String>,
) -> Result<()> {
    for m in migrations.values() {
        let special = m
            .dependencies
            .iter()
            .chain(&m.run_before)
            .filter(|d| d.name == "__first__" || d.name == "__latest__");
        for d in special {
            if !installed.contains(&d.app) {
                return Err(Error::Plan(format!(
                    "migration {} depends on unknown app {}",
                    m.key, d.app
                )));
            }
        }
    }
    Ok(())
}

/// SHA-256 of bytes, lowercase hex (the recorder's checksum).
pub fn sha256_hex(bytes: &[u8]) -> String {
    // Once per migration file: a table lookup per nibble, where `format!` per byte showed up
    // in load profiles.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(2 * digest.len());
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

fn relative_to(path: &Path, base: &Path) -> PathBuf {
    path.strip_prefix(base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Entries directly in `dir` whose names do not start with `_` or `.`, sorted by name:
/// (name, path, is a folder).
fn visible_entries(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>> {
    let failed = |reason: String| Error::File {
        path: dir.to_path_buf(),
        reason,
    };
    // Worded as by walkdir, which listed folders here before.
    let failed_on = |path: &Path, e: std::io::Error| {
        failed(format!("IO error for operation on {}: {e}", path.display()))
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| failed_on(dir, e))? {
        let entry = entry.map_err(|e| failed(e.to_string()))?;
        // The entry's own type needs no extra system call; a symlink is followed below.
        let ft = entry.file_type().map_err(|e| failed_on(&entry.path(), e))?;
        let name = entry.file_name();
        let bytes = name.as_encoded_bytes();
        if !bytes.starts_with(b"_") && !bytes.starts_with(b".") {
            found.push((name, ft));
        }
    }
    // Sorted by name, not by path: a path's name is parsed out again on every comparison.
    found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(found
        .into_iter()
        .map(|(name, ft)| {
            let path = dir.join(&name);
            let is_dir = ft.is_dir() || (ft.is_symlink() && path.is_dir());
            (name.to_string_lossy().into_owned(), path, is_dir)
        })
        .collect())
}

/// App folders directly under the migrations folder (not starting with `_` or `.`), sorted.
pub fn app_folders(dir: &Path) -> Result<Vec<String>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    Ok(visible_entries(dir)?
        .into_iter()
        .filter(|(_, _, is_dir)| *is_dir)
        .map(|(n, _, _)| n)
        .collect())
}

/// `*.lua` files directly in an app folder, not starting with `_` or `.`: (stem, path), sorted.
pub fn migration_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    Ok(visible_entries(dir)?
        .into_iter()
        .filter(|(_, _, is_dir)| !is_dir)
        .filter_map(|(name, path, _)| {
            name.strip_suffix(".lua")
                .map(|stem| (stem.to_string(), path))
        })
        .collect())
}

fn load_settings(source: &SettingsSource) -> Result<(Settings, LuaVm)> {
    let cwd = std::env::current_dir()
        .map_err(|e| Error::Settings(format!("cannot read the current folder: {e}")))?;
    let file = match &source.settings {
        Some(f) if !f.is_file() => {
            return Err(Error::Settings(format!(
                "settings file {} does not exist",
                f.display()
            )));
        }
        Some(f) => Some(f.clone()),
        None => Some(PathBuf::from("luamig.lua")).filter(|p| p.is_file()),
    };
    let display_base = file
        .as_ref()
        .and_then(|f| f.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let base_dir = if display_base.as_os_str().is_empty() {
        cwd.clone()
    } else {
        cwd.join(&display_base)
    };
    let vm = LuaVm::new(&base_dir, &display_base)?;
    let table = match &file {
        Some(f) => {
            let bytes = std::fs::read(f).map_err(|e| Error::File {
                path: f.clone(),
                reason: e.to_string(),
            })?;
            match vm.run_file(&bytes, f)? {
                LuaValue::Table(t) => Some(t),
                other => {
                    return Err(Error::Settings(format!(
                        "{}: settings must return a table, not {}",
                        f.display(),
                        if other.is_nil() {
                            "nothing".to_string()
                        } else {
                            format!("a {}", other.type_name())
                        }
                    )));
                }
            }
        }
        None => None,
    };
    let shown = file
        .as_ref()
        .map(|f| f.display().to_string())
        .unwrap_or_default();
    let settings = settings_from_table(table.as_ref(), &shown, source, base_dir, display_base)?;
    Ok((settings, vm))
}

fn settings_from_table(
    t: Option<&Table>,
    shown: &str,
    source: &SettingsSource,
    base_dir: PathBuf,
    display_base: PathBuf,
) -> Result<Settings> {
    let err = |msg: String| Error::Settings(format!("{shown}: {msg}"));
    let mut databases = BTreeMap::new();
    let mut migrations_dir = "migrations".to_string();
    let mut installed_apps = None;
    let mut routers = Vec::new();
    let mut default_from_file = None;
    if let Some(t) = t {
        for pair in t.pairs::<LuaValue, LuaValue>() {
            let (k, _) = pair.map_err(lua_error)?;
            let key = k.to_string().unwrap_or_default();
            if !SETTINGS_KEYS.contains(&key.as_str()) {
                return Err(err(format!(
                    "unknown setting '{key}' (known: {})",
                    SETTINGS_KEYS.join(", ")
                )));
            }
        }
        if let Some(dbs) = t
            .get::<Option<Table>>("databases")
            .map_err(|e| err(format!("'databases' must be a table: {e}")))?
        {
            for pair in dbs.pairs::<String, LuaValue>() {
                let (alias, v) = pair.map_err(|e| err(format!("'databases': {e}")))?;
                let LuaValue::Table(entry) = v else {
                    return Err(err(format!(
                        "databases.{alias} must be a table like {{ url = \"sqlite:db.sqlite3\" }}"
                    )));
                };
                for key in entry.pairs::<LuaValue, LuaValue>() {
                    let (k, _) = key.map_err(lua_error)?;
                    if k.to_string().unwrap_or_default() != "url" {
                        return Err(err(format!(
                            "databases.{alias}: unknown key '{}' (only 'url')",
                            k.to_string().unwrap_or_default()
                        )));
                    }
                }
                let url: Option<String> = entry
                    .get("url")
                    .map_err(|_| err(format!("databases.{alias}.url must be a string")))?;
                if alias == "default" {
                    default_from_file = url.clone();
                }
                databases.insert(alias, url);
            }
        }
        match t.get::<LuaValue>("migrations_dir").map_err(lua_error)? {
            LuaValue::Nil => {}
            LuaValue::String(dir) => {
                let dir = dir.to_str().map_err(lua_error)?.to_string();
                // A typo here would otherwise migrate nothing and report success.
                if !base_dir.join(&dir).is_dir() {
                    return Err(err(format!("migrations_dir '{dir}' is not a folder")));
                }
                migrations_dir = dir;
            }
            _ => return Err(err("'migrations_dir' must be a string".into())),
        }
        installed_apps = t
            .get::<Option<Vec<String>>>("installed_apps")
            .map_err(|_| err("'installed_apps' must be a list of app labels".into()))?;
        if let Some(list) = t
            .get::<Option<Vec<LuaValue>>>("routers")
            .map_err(|_| err("'routers' must be a list of tables".into()))?
        {
            for r in list {
                match r {
                    LuaValue::Table(rt) => routers.push(rt),
                    other => {
                        return Err(err(format!(
                            "each router must be a table with allow_migrate, not a {}",
                            other.type_name()
                        )));
                    }
                }
            }
        }
    }
    let default_url = source
        .database_url
        .clone()
        .or_else(|| std::env::var("DATABASE_URL").ok().filter(|s| !s.is_empty()))
        .or(default_from_file)
        .unwrap_or_else(|| "sqlite:db.sqlite3".to_string());
    databases.insert("default".to_string(), Some(default_url));
    let mut parsed = BTreeMap::new();
    let mut without_url = BTreeSet::new();
    for (alias, url) in databases {
        // An alias whose URL is unset (an empty environment variable) is an error only when used.
        let parsed_url = match url {
            Some(u) => DatabaseUrl::parse(&u, &base_dir)
                .map_err(|e| Error::Settings(format!("database '{alias}': {e}")))?,
            None => {
                without_url.insert(alias);
                continue;
            }
        };
        parsed.insert(alias, parsed_url);
    }
    Ok(Settings {
        migrations_dir: base_dir.join(&migrations_dir),
        base_dir,
        display_base,
        databases: parsed,
        without_url,
        installed_apps,
        routers,
    })
}

/// Resolves `__first__` / `__latest__` and builds graph nodes for every migration.
pub fn graph_nodes(migrations: &BTreeMap<NodeKey, Migration>) -> Vec<MigrationNode> {
    let resolve = |d: &DependencySpec| -> Option<NodeKey> {
        match d.name.as_str() {
            "__first__" => first_of_app(migrations, &d.app),
            "__latest__" => latest_of_app(migrations, &d.app),
            _ => Some(NodeKey::new(d.app.clone(), d.name.clone())),
        }
    };
    migrations
        .values()
        .map(|m| MigrationNode {
            key: m.key.clone(),
            dependencies: m.dependencies.iter().filter_map(resolve).collect(),
            run_before: m.run_before.iter().filter_map(resolve).collect(),
            replaces: m.replaces.clone(),
        })
        .collect()
}

/// The first migration of an app (no dependency within the app), or None for an app without
/// migrations (a `__first__` dependency on it is then ignored, as in Django).
fn first_of_app(migrations: &BTreeMap<NodeKey, Migration>, app: &str) -> Option<NodeKey> {
    migrations
        .values()
        .filter(|m| m.key.app == app)
        .find(|m| !m.dependencies.iter().any(|d| d.app == app))
        .map(|m| m.key.clone())
}

/// The last migration of an app (nothing in the app depends on it).
fn latest_of_app(migrations: &BTreeMap<NodeKey, Migration>, app: &str) -> Option<NodeKey> {
    let depended: BTreeSet<&str> = migrations
        .values()
        .filter(|m| m.key.app == app)
        .flat_map(|m| {
            m.dependencies
                .iter()
                .filter(|d| d.app == app)
                .map(|d| d.name.as_str())
        })
        .collect();
    migrations
        .values()
        .filter(|m| m.key.app == app && !depended.contains(m.key.name.as_str()))
        .map(|m| m.key.clone())
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_lowercase_hex_of_the_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
