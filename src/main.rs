//! The `luamig` binary: parse the command line, run, print errors as `error: ...`.

use clap::Parser;

// Lua tables, rows and strings make many small, short-lived allocations (Lua's own go through
// Rust's allocator too); mimalloc serves them faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
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
