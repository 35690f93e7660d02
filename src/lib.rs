//! luamig: Django's migration system rebuilt in Rust, with migrations written in Lua.

pub mod db;
pub mod error;
pub mod fields;
pub mod graph;
pub mod lua;
pub mod migration;
pub mod operations;
pub mod settings;
pub mod state;
pub mod value;
pub mod schema;
pub mod loader;
pub mod recorder;
pub mod orm;
pub mod runlua;
pub mod executor;
pub mod router;
pub mod cli;
pub mod commands;
pub mod report;
pub mod writer;
