//! The one place where `mlua::Error` becomes a luamig [`Error`]: a message that starts with
//! the user's file and line, and the traceback lines that point into the user's files.

use crate::error::Error;

/// Converts an error that came out of Lua code.
pub fn lua_error(err: mlua::Error) -> Error {
    let (message, traceback) = flatten(&err);
    if let Some(inner) = find_external(&err) {
        return inner;
    }
    let mut lines = message.lines();
    let first = lines.next().unwrap_or("Lua error").to_string();
    let mut tb: Vec<String> = user_frames(lines.map(str::to_string).chain(traceback));
    tb.dedup();
    Error::Lua {
        message: first,
        traceback: tb,
    }
}

/// A luamig error raised by Rust code that Lua called, carried through unchanged.
fn find_external(err: &mlua::Error) -> Option<Error> {
    match err {
        mlua::Error::CallbackError { cause, .. } => find_external(cause),
        mlua::Error::WithContext { cause, .. } => find_external(cause),
        mlua::Error::ExternalError(e) => e
            .downcast_ref::<ExternalError>()
            .map(|ExternalError(msg)| Error::Lua {
                message: msg.clone(),
                traceback: Vec::new(),
            }),
        _ => None,
    }
}

/// An error from a Rust callback whose message is final (already names file and line).
#[derive(Debug)]
pub struct ExternalError(pub String);

impl std::fmt::Display for ExternalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExternalError {}

fn flatten(err: &mlua::Error) -> (String, Vec<String>) {
    match err {
        mlua::Error::SyntaxError { message, .. } => (message.clone(), Vec::new()),
        mlua::Error::RuntimeError(msg) => split_traceback(msg),
        mlua::Error::CallbackError { traceback, cause } => {
            let (msg, mut tb) = flatten(cause);
            tb.extend(traceback.lines().map(str::to_string));
            (msg, tb)
        }
        mlua::Error::WithContext { context, cause } => {
            let (msg, tb) = flatten(cause);
            (format!("{context}: {msg}"), tb)
        }
        mlua::Error::MemoryError(msg) => (format!("out of memory: {msg}"), Vec::new()),
        other => (other.to_string(), Vec::new()),
    }
}

fn split_traceback(msg: &str) -> (String, Vec<String>) {
    match msg.split_once("\nstack traceback:") {
        Some((m, tb)) => (m.to_string(), tb.lines().map(str::to_string).collect()),
        None => (msg.to_string(), Vec::new()),
    }
}

/// Traceback lines that name a user file (not `[C]`, not luamig's embedded modules).
fn user_frames(lines: impl Iterator<Item = String>) -> Vec<String> {
    lines
        .map(|l| l.trim().to_string())
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("[C]")
                && !l.starts_with("<embedded>")
                && !l.starts_with("stack traceback")
                && !l.starts_with("(...tail calls...)")
                && l.contains(".lua:")
        })
        .collect()
}
