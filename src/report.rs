//! The only place that prints: progress lines of `migrate` and error reports.

use std::io::Write;

use crate::error::Error;
use crate::executor::Progress;
use crate::graph::NodeKey;

/// Prints `  Applying app.name... OK` as Django does: the label first, the verdict when the
/// migration finishes (so output of RunLua lands between them).
pub struct ConsoleProgress;

impl Progress for ConsoleProgress {
    fn start(&mut self, key: &NodeKey, backwards: bool) {
        let verb = if backwards { "Unapplying" } else { "Applying" };
        print!("  {verb} {key}...");
        let _ = std::io::stdout().flush();
    }

    fn success(&mut self, _key: &NodeKey, _backwards: bool, fake: bool) {
        println!("{}", if fake { " FAKED" } else { " OK" });
    }
}

/// Prints an error: `error: ` and the message, then context and Lua traceback lines.
pub fn print_error(err: &Error) {
    let _ = std::io::stdout().flush();
    let mut lines: Vec<String> = err.to_string().lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push("unknown error".into());
    }
    eprintln!("error: {}", lines[0]);
    for l in &lines[1..] {
        eprintln!("{l}");
    }
    let tb = traceback_of(err);
    // One frame repeats the message's own location; a traceback helps from two on.
    if tb.len() > 1 {
        eprintln!("  traceback:");
        for l in tb {
            eprintln!("    {l}");
        }
    }
}

fn traceback_of(err: &Error) -> &[String] {
    match err {
        Error::Lua { traceback, .. } => traceback,
        Error::Migration { cause, .. } => traceback_of(cause),
        _ => &[],
    }
}
