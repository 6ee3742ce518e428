//! nsqadmin: the web UI and JSON API for an NSQ cluster (NSQ v1.3.0
//! compatible).

use clap::Parser;
use nsq_bins::cli::{self, nsqadmin::NsqadminFlags};
use nsq_core::api::config::LogLevel;
use nsq_runtime_tokio::Nsqadmin;
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    let flags = NsqadminFlags::parse_from(cli::args::normalize(std::env::args_os()));
    if flags.version {
        println!("{}", cli::version_line("nsqadmin"));
        return ExitCode::SUCCESS;
    }
    let options = match flags.resolve() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("[nsqadmin] FATAL: {e}");
            return ExitCode::FAILURE;
        }
    };
    let reload = cli::logging::init(options.log_level.tracing_level());
    tracing::info!("{}", cli::version_line("nsqadmin"));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("[nsqadmin] FATAL: failed to start the runtime - {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let stop = nsq_runtime_tokio::signal::shutdown_signal();
        let admin = match Nsqadmin::start(options).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!("failed to instantiate nsqadmin - {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Some(reload) = reload {
            // PUT /config/log_level changes the level through this.
            admin.set_log_level_hook(Arc::new(move |l: LogLevel| reload(l.tracing_level())));
        }
        stop.await;
        admin.shutdown().await;
        ExitCode::SUCCESS
    })
}
