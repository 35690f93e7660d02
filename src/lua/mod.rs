//! The embedded Lua interpreter: the VM and its `require`, the one boundary where Lua errors
//! become luamig errors, and decoding of migration files into engine types.

pub mod convert;
pub mod decimal;
pub mod decode;
pub mod errors;
pub mod json;
pub mod plain;
pub mod stdlib;
pub mod vm;

pub use errors::lua_error;
pub use vm::LuaVm;
