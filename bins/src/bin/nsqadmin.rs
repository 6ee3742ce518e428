//! nsqadmin: the web UI and JSON API for an NSQ cluster (NSQ v1.3.0
//! compatible).

use clap::Parser;
use nsq_bins::cli::logging::{self, LogFormat};
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
    let (options, format) = match flags.resolve_with_format() {
        Ok(o) => o,
        Err(e) => {
            logging::fatal("[nsqadmin] ", LogFormat::Nsq, &e);
            return ExitCode::FAILURE;
        }
    };
    let prefix = options.log_prefix.clone();
    let fatal = |msg: &str| {
        logging::fatal(&prefix, format, msg);
        ExitCode::FAILURE
    };
    let level = format!("{:?}", options.log_level).to_ascii_lowercase();
    let reload = logging::init(&prefix, &level, format);
    tracing::info!("{}", cli::version_line("nsqadmin"));
    let rt = match nsq_bins::tools::common::runtime() {
        Ok(rt) => rt,
        Err(e) => return fatal(&format!("failed to start the runtime - {e}")),
    };
    rt.block_on(async move {
        let stop = nsq_runtime_tokio::signal::shutdown_signal();
        let admin = match Nsqadmin::start(options).await {
            Ok(a) => a,
            Err(e) => return fatal(&format!("failed to instantiate nsqadmin - {e}")),
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
