//! `vmplace serve`.

use super::{exit, report};
use clap::Args;
use vmplace::format::{errors::ErrorCode, InputError};
use vmplace::service::http::{serve, ServerConfig};

/// Arguments of `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the bound address is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Solves running at once (default: number of cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Requests allowed to wait for a worker before 503.
    #[arg(long, default_value_t = 16)]
    pub queue: usize,
    /// Cap on each request's time limit, seconds.
    #[arg(long, default_value_t = 60.0)]
    pub max_time_limit: f64,
    /// Largest accepted body, bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub body_limit: usize,
}

/// Runs the server until SIGTERM.
pub fn run(a: ServeArgs) -> i32 {
    let mut cfg = ServerConfig::default();
    cfg.workers = a.workers.unwrap_or(cfg.workers).max(1);
    cfg.queue = a.queue;
    cfg.max_time_limit_s = a.max_time_limit;
    cfg.body_limit = a.body_limit;
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
    runtime.block_on(async move {
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
    })
}
