//! The ORM that RunLua code uses: historical models built from the project state at one
//! point of the history, managers, querysets and instances.

pub mod core;
pub mod meta;
pub mod query;
pub mod registry;
pub mod values;
