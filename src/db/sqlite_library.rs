//! Process-wide SQLite settings, made once before the first connection opens.
//!
//! SQLite's defaults suit a library shared by threads: it counts every allocation under a
//! global mutex and allocates through the C library. luamig's connections are each used by
//! one thread, and schema changes make SQLite re-parse the whole schema (thousands of
//! allocations per `ALTER TABLE`), so both costs show in long migrations.

use std::ffi::{c_int, c_void};
use std::sync::Once;

use rusqlite::ffi;

/// Applies the settings; later calls do nothing. Must run before SQLite initializes,
/// that is before any connection is opened; a setting refused (SQLite already
/// initialized by someone else) only loses the speed-up.
pub fn configure() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| unsafe {
        // No allocation statistics: they take a global mutex on every malloc and free.
        ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int);
        // SQLite copies the methods, so they need not outlive the call.
        let mimalloc = ffi::sqlite3_mem_methods {
            xMalloc: Some(malloc),
            xFree: Some(free),
            xRealloc: Some(realloc),
            xSize: Some(size),
            xRoundup: Some(roundup),
            xInit: Some(init),
            xShutdown: Some(shutdown),
            pAppData: std::ptr::null_mut(),
        };
        ffi::sqlite3_config(
            ffi::SQLITE_CONFIG_MALLOC,
            &mimalloc as *const ffi::sqlite3_mem_methods,
        );
    });
}

// SQLite never asks for a negative or zero size (its wrappers check first); sizes are
// below 2^31 by its own limits, so the conversions below cannot truncate.
unsafe extern "C" fn malloc(n: c_int) -> *mut c_void {
    unsafe { libmimalloc_sys::mi_malloc(n as usize) }
}

unsafe extern "C" fn free(p: *mut c_void) {
    unsafe { libmimalloc_sys::mi_free(p) }
}

unsafe extern "C" fn realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    unsafe { libmimalloc_sys::mi_realloc(p, n as usize) }
}

unsafe extern "C" fn size(p: *mut c_void) -> c_int {
    unsafe { libmimalloc_sys::mi_usable_size(p) as c_int }
}

unsafe extern "C" fn roundup(n: c_int) -> c_int {
    (n + 7) & !7
}

unsafe extern "C" fn init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn shutdown(_: *mut c_void) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_allocates_through_mimalloc_without_statistics() {
        let _db = super::super::sqlite::SqliteConnection::open(None).unwrap();
        unsafe {
            let p = ffi::sqlite3_malloc(100);
            assert!(!p.is_null());
            // The test binary's own allocator is the system's: only SQLite's
            // configuration can have put this block in mimalloc's heap.
            assert!(libmimalloc_sys::mi_is_in_heap_region(p));
            assert_eq!(
                ffi::sqlite3_memory_used(),
                0,
                "allocations are still counted"
            );
            ffi::sqlite3_free(p);
        }
    }
}
