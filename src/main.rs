//! The `luamig` binary: parse the command line, run, print errors as `error: ...`.

use clap::Parser;

// Lua tables, rows and strings make many small, short-lived allocations (Lua's own go through
// Rust's allocator too); mimalloc serves them faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    disable_transparent_huge_pages();
    // A bug must still read as one clear line, never a Rust backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error in luamig: {info}");
    }));
    let cli = luamig::cli::Cli::parse();
    luamig::interrupt::install();
    let code = match luamig::commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            luamig::report::print_error(&e);
            e.exit_code()
        }
    };
    std::process::exit(code);
}

/// Transparent huge pages cost a run of luamig more than they save: each first touch of a
/// 2 MB region zeroes all of it, for memory that a short run uses sparsely (SQLite's page
/// cache and sorter, Lua's heap). Measured on the orders benchmark: peak RSS 30 MB -> 20 MB
/// and about 8% less wall time. Only this process is affected; the call cannot fail in a
/// way that matters (an older kernel just keeps huge pages). mimalloc sets up its first
/// arena before `main` runs, so it is built not to ask for huge pages itself (its `no_thp`
/// feature): that took two more huge pages, 3 MB of peak RSS.
fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with integer arguments only sets a flag on this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
