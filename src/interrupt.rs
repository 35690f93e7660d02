//! Ctrl-C (SIGINT) and SIGTERM. Until a run starts writing to a database there is nothing to
//! roll back, and a signal exits at once. After that, the first signal asks the run to stop:
//! Lua code is stopped by an instruction-count hook, a statement running in the database is
//! cancelled through the database's own mechanism, and the executor rolls the current
//! migration back and reports it. A second signal exits at once; the database still rolls
//! back the open transaction, as it does after any crash.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether a run that writes to a database is under way (see [`writes_begin`]).
static WRITING: AtomicBool = AtomicBool::new(false);

/// Open connections whose running statement a signal cancels.
static CANCELLERS: Mutex<Vec<Canceller>> = Mutex::new(Vec::new());

/// How to stop a statement running on one connection, from another thread.
pub enum Canceller {
    Sqlite(rusqlite::InterruptHandle),
    Postgres(postgres::CancelToken),
}

impl Canceller {
    fn cancel(&self) {
        match self {
            Canceller::Sqlite(handle) => handle.interrupt(),
            // Nothing to do when it fails: the flag still stops the run at the next check.
            Canceller::Postgres(token) => {
                let _ = token.cancel_query(postgres::NoTls);
            }
        }
    }
}

/// Installs the signal handler; `luamig` calls it once at start.
pub fn install() {
    // Without a handler (e.g. one is already set) signals keep their default effect, which
    // is still safe: the database rolls back the open transaction of a killed process.
    let _ = ctrlc::set_handler(|| {
        if !WRITING.load(Ordering::SeqCst) {
            eprintln!("error: interrupted");
            std::process::exit(1);
        }
        if REQUESTED.swap(true, Ordering::SeqCst) {
            eprintln!(
                "error: interrupted again: exiting now; the database rolls back the migration that was running"
            );
            std::process::exit(1);
        }
        eprintln!("Interrupted: rolling back the current migration (interrupt again to exit now)");
        if let Ok(cancellers) = CANCELLERS.lock() {
            for c in cancellers.iter() {
                c.cancel();
            }
        }
    });
}

/// From now on a signal stops the run gracefully instead of exiting: called before the
/// first write, with Lua's hook installed (see [`crate::lua::vm::LuaVm::stop_on_interrupt`]).
pub fn writes_begin() {
    WRITING.store(true, Ordering::SeqCst);
}

/// Registers a connection whose statements a signal should cancel.
pub fn register(canceller: Canceller) {
    if let Ok(mut cancellers) = CANCELLERS.lock() {
        cancellers.push(canceller);
    }
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// `Err(Error::Interrupted)` once a stop was asked for.
pub fn check() -> Result<()> {
    if requested() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}
