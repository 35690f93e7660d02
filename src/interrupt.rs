//! Ctrl-C (SIGINT) and SIGTERM. Until a run starts writing to a database there is nothing to
//! roll back, and a signal exits at once. After that, the first signal asks the run to stop:
//! the Lua code running is stopped by a hook the signal installs, a statement running in the
//! database is cancelled through the database's own mechanism, and the executor rolls the
//! current migration back and reports it. A second signal exits at once; the database still
//! rolls back the open transaction, as it does after any crash.
//!
//! The handler runs in signal context on the main thread (a signal delivered to another
//! thread is passed on to it), so it does only what is safe there: atomics, `write`, `_exit`, and
//! `lua_sethook`, which Lua documents as safe to call from a signal handler (the standalone
//! `lua` interpreter stops scripts the same way). Installing the hook only then, rather than
//! keeping one installed, matters: any Lua hook makes the interpreter check it on every
//! instruction. Printing the notice and cancelling statements (PostgreSQL's cancel request
//! opens a connection) happen on a helper thread the handler wakes through a pipe.

use std::ffi::c_int;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU64, Ordering};

use mlua::ffi;

use crate::error::{Error, Result};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether a run that writes to a database is under way (see [`writes_begin`]).
static WRITING: AtomicBool = AtomicBool::new(false);

/// The Lua state whose code a signal stops (see [`LuaWatch`]).
static LUA_STATE: AtomicPtr<ffi::lua_State> = AtomicPtr::new(std::ptr::null_mut());

/// Write end of the pipe that wakes the helper thread; -1 before [`install`].
static WAKE: AtomicI32 = AtomicI32::new(-1);

/// The thread that runs Lua and the executor (`pthread_t`, an integer on Linux).
static MAIN_THREAD: AtomicU64 = AtomicU64::new(0);

/// Instructions before the stopping hook first raises its error (see [`stop_lua`]).
const STOP_AFTER: c_int = 10_000;

/// Instructions before the stopping hook raises again; halved each time.
static STOP_NEXT: AtomicI32 = AtomicI32::new(STOP_AFTER);

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

/// Installs the signal handler; `luamig` calls it once at start. Without it (when a step
/// fails) signals keep their default effect, which is still safe: the database rolls back
/// the open transaction of a killed process.
pub fn install() {
    let mut fds = [0 as c_int; 2];
    // SAFETY: plain libc calls on valid pointers; the handler only does what is allowed in
    // signal context (see the module comment).
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return;
        }
        MAIN_THREAD.store(libc::pthread_self() as u64, Ordering::SeqCst);
        // The helper thread is started with the signals blocked, so they reach the main
        // thread, whose Lua state the handler may touch.
        let mut block: libc::sigset_t = std::mem::zeroed();
        let mut previous: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGINT);
        libc::sigaddset(&mut block, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut previous);
        let read_end = fds[0];
        let started = std::thread::Builder::new()
            .name("luamig-interrupt".into())
            .spawn(move || notice_and_cancel(read_end));
        libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut());
        if started.is_err() {
            return;
        }
        WAKE.store(fds[1], Ordering::SeqCst);
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        action.sa_flags = libc::SA_RESTART;
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
        libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut());
    }
}

/// The signal handler. Signal context: atomics, `write`, `_exit` and `lua_sethook` only.
extern "C" fn on_signal(signal: c_int) {
    // Threads made by libraries (a runtime's blocking pool) may receive it: pass it on.
    let main = MAIN_THREAD.load(Ordering::SeqCst) as libc::pthread_t;
    // SAFETY: pthread_self and pthread_kill are async-signal-safe; `main` is alive as long
    // as the process is.
    if unsafe { libc::pthread_self() } != main {
        unsafe { libc::pthread_kill(main, signal) };
        return;
    }
    if !WRITING.load(Ordering::SeqCst) {
        exit_now(b"error: interrupted\n");
    }
    if REQUESTED.swap(true, Ordering::SeqCst) {
        exit_now(
            b"error: interrupted again: exiting now; the database rolls back the migration that was running\n",
        );
    }
    let state = LUA_STATE.load(Ordering::SeqCst);
    if !state.is_null() {
        // SAFETY: the state is alive while registered (see LuaWatch), and this runs on the
        // thread that runs it, between two of its instructions.
        unsafe { ffi::lua_sethook(state, Some(stop_lua), ffi::LUA_MASKCOUNT, STOP_AFTER) };
    }
    let wake = WAKE.load(Ordering::SeqCst);
    // SAFETY: writing one byte from a static buffer to a pipe is allowed in signal context.
    unsafe { libc::write(wake, b"!".as_ptr().cast(), 1) };
}

fn exit_now(message: &[u8]) -> ! {
    // SAFETY: `write` and `_exit` are async-signal-safe.
    unsafe {
        libc::write(2, message.as_ptr().cast(), message.len());
        libc::_exit(1)
    }
}

/// The hook a signal installs: raises `interrupted`, and raises again after half as many
/// instructions each time, down to every instruction. Code that catches the error with
/// `pcall` in a loop is so stopped within a few thousand instructions, however the loop and
/// the count line up: once the interval is shorter than the loop's own instructions, the
/// error lands outside the `pcall`.
unsafe extern "C-unwind" fn stop_lua(state: *mut ffi::lua_State, _: *mut ffi::lua_Debug) {
    let next = (STOP_NEXT.load(Ordering::SeqCst) / 2).max(1);
    STOP_NEXT.store(next, Ordering::SeqCst);
    // SAFETY: a hook may reset the hook and raise an error: that is how Lua hooks stop
    // code; nothing here needs dropping when lua_error jumps out.
    unsafe {
        ffi::lua_sethook(state, Some(stop_lua), ffi::LUA_MASKCOUNT, next);
        ffi::lua_pushstring(state, c"interrupted".as_ptr());
        ffi::lua_error(state);
    }
}

/// The helper thread: on each wake-up from the handler, tells the user and cancels the
/// statements running.
fn notice_and_cancel(read_end: c_int) {
    let mut byte = [0u8; 1];
    // SAFETY: reading into a valid one-byte buffer.
    while unsafe { libc::read(read_end, byte.as_mut_ptr().cast(), 1) } == 1 {
        eprintln!("Interrupted: rolling back the current migration (interrupt again to exit now)");
        if let Ok(cancellers) = CANCELLERS.lock() {
            for c in cancellers.iter() {
                c.cancel();
            }
        }
    }
}

/// From now on a signal stops the run gracefully instead of exiting: called before the
/// first write, with the Lua state watched (see [`LuaWatch`]).
pub fn writes_begin() {
    WRITING.store(true, Ordering::SeqCst);
}

/// While alive, a signal stops the Lua code running on `lua`'s main state. Code running in
/// a coroutine is not reached (as with the standalone `lua`): a second signal exits.
pub struct LuaWatch(());

impl LuaWatch {
    pub fn new(lua: &mlua::Lua) -> Result<LuaWatch> {
        // SAFETY: only reads the pointer of the state the closure runs on (the main one,
        // as no Lua code is running).
        unsafe {
            lua.exec_raw::<()>((), |state| LUA_STATE.store(state, Ordering::SeqCst))
                .map_err(|e| Error::Lua {
                    message: e.to_string(),
                    traceback: Vec::new(),
                })?;
        }
        Ok(LuaWatch(()))
    }
}

impl Drop for LuaWatch {
    fn drop(&mut self) {
        LUA_STATE.store(std::ptr::null_mut(), Ordering::SeqCst);
    }
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
