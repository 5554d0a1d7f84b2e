//! Memory a request freed, returned to the operating system when its job ends (issue 27, M8:
//! after a burst of large solves, mimalloc kept the freed pages and the server's RSS stayed at
//! 1.3 to 4.0 GB). The binary's allocator is mimalloc (`src/main.rs`); a job's model, domain and
//! answer are freed on the worker thread that ran it, whose heap `mi_collect` then purges.

// The C library is linked through the `mimalloc` crate (the binary's global allocator).
use mimalloc as _;

extern "C" {
    /// mimalloc's `void mi_collect(bool force)`: frees and returns to the OS what the calling
    /// thread's heap no longer uses (`force`: also abandoned pages, at once).
    fn mi_collect(force: bool);
}

/// Returns to the OS the memory the calling thread's heap freed. Harmless where mimalloc is not
/// the global allocator (its heaps are then empty).
pub fn release() {
    // SAFETY: `mi_collect` takes no pointer and may be called from any thread at any time.
    unsafe { mi_collect(true) }
}
