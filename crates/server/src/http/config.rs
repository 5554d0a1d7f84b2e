//! The server's limits.

use std::time::Duration;

/// Server limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Solves running at once (default: cores).
    pub workers: usize,
    /// Extra workers for small requests only (a body of at most `small_body` bytes): two long
    /// solves on every worker no longer hold up a small one for their whole limit (issue 27, L7).
    /// A small request takes whichever frees first, a worker or the lane.
    pub small_lane: usize,
    /// Largest body, in bytes, that counts as small.
    pub small_body: usize,
    /// Requests allowed to wait for a worker; beyond, 503. The default is as many as connections
    /// may be open (a body is read before it queues, so bodies held in memory are bounded by the
    /// connections, not by the queue): a burst of 64 solves waits its turn instead of 503s.
    pub queue: usize,
    /// Cap on every request's `options.time_limit_s`.
    pub max_time_limit_s: f64,
    /// Largest accepted body, bytes (413 beyond).
    pub body_limit: usize,
    /// A connection must deliver a request's headers within this time; the same timer runs while
    /// a kept-alive connection waits for its next request, so it is the idle timeout as well.
    pub header_timeout: Duration,
    /// A request's body must arrive within this time after its headers (408 beyond).
    pub body_timeout: Duration,
    /// A write of the answer that makes no progress for this long (the client does not read)
    /// closes the connection, releasing the answer
    /// ([`WriteTimeout`](super::connections::WriteTimeout)).
    pub write_timeout: Duration,
    /// Connections open at once; the next ones wait in the kernel's accept queue.
    pub max_connections: usize,
    /// After SIGTERM: how long connections in flight may take before the server exits anyway
    /// (solves still running then are cancelled).
    pub shutdown_grace: Duration,
    /// The commit the binary was built from, for `vmplace_build_info` (the binary's build script
    /// knows it; this crate does not).
    pub commit: &'static str,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            small_lane: 1,
            small_body: 64 * 1024,
            queue: 256,
            max_time_limit_s: 60.0,
            body_limit: 16 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_connections: 256,
            shutdown_grace: Duration::from_secs(30),
            commit: "unknown",
        }
    }
}
