//! `vmplace serve`.

use super::{exit, report};
use clap::Args;
use std::time::Duration;
use vmplace_server::http::{serve, ServerConfig};
use vmplace_wire::{errors::ErrorCode, InputError};

/// Arguments of `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the bound address is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Solves running at once (default: number of cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Extra workers that run small requests only (a body of at most `--small-body` bytes), so
    /// that long solves never hold up small ones.
    #[arg(long, default_value_t = 1)]
    pub small_lane: usize,
    /// Largest body, in bytes, that counts as small for `--small-lane`.
    #[arg(long, default_value_t = 64 * 1024)]
    pub small_body: usize,
    /// Requests allowed to wait for a worker before 503 (default: as many as connections).
    #[arg(long, default_value_t = 256)]
    pub queue: usize,
    /// Cap on each request's time limit, seconds.
    #[arg(long, default_value_t = 60.0)]
    pub max_time_limit: f64,
    /// Largest accepted body, bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub body_limit: usize,
    /// Seconds a client has to send a request's headers; also the idle timeout of a kept-alive
    /// connection.
    #[arg(long, default_value_t = 10.0)]
    pub header_timeout: f64,
    /// Seconds a client has to send a request's body after its headers.
    #[arg(long, default_value_t = 30.0)]
    pub body_timeout: f64,
    /// Seconds a write of the answer may wait on a client that does not read it; the connection
    /// is closed then (its answer's memory is released).
    #[arg(long, default_value_t = 30.0)]
    pub write_timeout: f64,
    /// Connections open at once (more wait to be accepted).
    #[arg(long, default_value_t = 256)]
    pub max_connections: usize,
    /// Seconds the server waits, after SIGTERM, for the connections in flight.
    #[arg(long, default_value_t = 30.0)]
    pub shutdown_grace: f64,
}

/// The longest time any flag of `serve` may give: a day.
const MAX_SECONDS: f64 = 86_400.0;

/// A duration flag: finite, above zero, at most a day. Every bad flag is reported at once.
fn seconds(flag: &str, value: f64, errors: &mut Vec<InputError>) -> Duration {
    if value.is_finite() && value > 0.0 && value <= MAX_SECONDS {
        return Duration::from_secs_f64(value);
    }
    errors.push(InputError::new(
        ErrorCode::Usage,
        "",
        format!("--{flag} is {value}; give seconds above 0 and at most {MAX_SECONDS}"),
    ));
    Duration::ZERO
}

/// The server's limits from the flags, or every usage error.
fn config(a: &ServeArgs) -> Result<ServerConfig, Vec<InputError>> {
    let mut errors = Vec::new();
    let default = ServerConfig::default();
    let workers = a.workers.unwrap_or(default.workers);
    for (flag, value) in [("workers", workers), ("max-connections", a.max_connections)] {
        if value == 0 {
            errors.push(InputError::new(
                ErrorCode::Usage,
                "",
                format!("--{flag} is 0; give at least 1"),
            ));
        }
    }
    let cfg = ServerConfig {
        workers,
        small_lane: a.small_lane,
        small_body: a.small_body,
        queue: a.queue,
        max_time_limit_s: seconds("max-time-limit", a.max_time_limit, &mut errors).as_secs_f64(),
        body_limit: a.body_limit,
        header_timeout: seconds("header-timeout", a.header_timeout, &mut errors),
        body_timeout: seconds("body-timeout", a.body_timeout, &mut errors),
        write_timeout: seconds("write-timeout", a.write_timeout, &mut errors),
        max_connections: a.max_connections,
        shutdown_grace: seconds("shutdown-grace", a.shutdown_grace, &mut errors),
        commit: env!("VMPLACE_GIT_COMMIT"),
    };
    if errors.is_empty() {
        Ok(cfg)
    } else {
        Err(errors)
    }
}

/// Runs the server until SIGTERM.
pub fn run(a: ServeArgs) -> i32 {
    let cfg = match config(&a) {
        Ok(cfg) => cfg,
        Err(errors) => return report(&errors),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return report(&[InputError::new(
                ErrorCode::Io,
                "",
                format!("cannot start runtime: {e}"),
            )])
        }
    };
    let code = runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(&a.listen).await {
            Ok(l) => l,
            Err(e) => {
                return report(&[InputError::new(
                    ErrorCode::Usage,
                    "",
                    format!("cannot listen on {}: {e}", a.listen),
                )])
            }
        };
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        println!("{}", serde_json::json!({ "listening": addr }));
        tracing::info!(%addr, workers = cfg.workers, queue = cfg.queue, "serving");
        match serve(listener, cfg).await {
            Ok(()) => exit::OK,
            Err(e) => report(&[InputError::new(
                ErrorCode::Io,
                "",
                format!("server error: {e}"),
            )]),
        }
    });
    // Solves still running after the grace period were cancelled with their connections; give
    // them a moment to see the flag, never an unbounded wait.
    runtime.shutdown_timeout(Duration::from_secs(2));
    code
}
