//! The schema editor: turns model states into DDL. Generic algorithms live here; SQLite's
//! table rebuild and PostgreSQL's ALTER forms live in their own modules.

pub mod columns;
pub mod editor;
pub mod names;
pub mod sqlite;

pub use editor::{FieldChange, SchemaEditor};
mod fields;
mod postgres;
