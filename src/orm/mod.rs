//! The ORM that RunLua code uses: historical models built from the project state at one
//! point of the history, managers, querysets and instances.

pub mod core;
mod fast;
mod instance;
pub mod meta;
pub mod query;
mod reads;
pub mod registry;
mod rows;
mod save;
pub mod values;
mod writes;
