//! nsqd: receives, queues and delivers messages (NSQ v1.3.0 compatible).

use clap::Parser;
use nsq_bins::cli::logging::{self, LogFormat};
use nsq_bins::cli::{self, nsqd::NsqdFlags};
use nsq_core::api::config::LogLevel;
use nsq_runtime_tokio::Nsqd;
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    let flags = NsqdFlags::parse_from(cli::args::normalize(std::env::args_os()));
    if flags.version {
        println!("{}", cli::version_line("nsqd"));
        return ExitCode::SUCCESS;
    }
    let settings = match flags.resolve(&cli::hostname()) {
        Ok(s) => s,
        Err(e) => {
            logging::fatal("[nsqd] ", LogFormat::Nsq, &e);
            return ExitCode::FAILURE;
        }
    };
    let (prefix, format) = (settings.log_prefix.clone(), settings.log_format);
    let fatal = |msg: &str| {
        logging::fatal(&prefix, format, msg);
        ExitCode::FAILURE
    };
    let reload = logging::init(&prefix, &settings.log_level, format);
    tracing::info!("{}", cli::version_line("nsqd"));
    tracing::info!("ID: {}", settings.options.node_id);
    let rt = match nsq_bins::tools::common::runtime() {
        Ok(rt) => rt,
        Err(e) => return fatal(&format!("failed to start the runtime - {e}")),
    };
    rt.block_on(async move {
        let stop = nsq_runtime_tokio::signal::shutdown_signal();
        let nsqd = match Nsqd::start(settings.options).await {
            Ok(n) => n,
            Err(e) => return fatal(&format!("failed to instantiate nsqd - {e}")),
        };
        if let Some(reload) = reload {
            // PUT /config/log_level changes the level through this.
            let current = LogLevel::parse(&settings.log_level).unwrap_or(LogLevel::Info);
            nsqd.set_log_level_hook(
                current,
                Arc::new(move |l: LogLevel| reload(l.tracing_level())),
            );
        }
        stop.await;
        nsqd.shutdown().await;
        ExitCode::SUCCESS
    })
}
