//! nsqlookupd: the directory of which nsqd carries which topics and
//! channels (NSQ v1.3.0 compatible).

use clap::Parser;
use nsq_bins::cli::logging::{self, LogFormat};
use nsq_bins::cli::{self, nsqlookupd::NsqlookupdFlags};
use nsq_runtime_tokio::Nsqlookupd;
use std::process::ExitCode;

fn main() -> ExitCode {
    let flags = NsqlookupdFlags::parse_from(cli::args::normalize(std::env::args_os()));
    if flags.version {
        println!("{}", cli::version_line("nsqlookupd"));
        return ExitCode::SUCCESS;
    }
    let settings = match flags.resolve(&cli::hostname()) {
        Ok(s) => s,
        Err(e) => {
            logging::fatal("[nsqlookupd] ", LogFormat::Nsq, &e);
            return ExitCode::FAILURE;
        }
    };
    let (prefix, format) = (settings.log_prefix.clone(), settings.log_format);
    let fatal = |msg: &str| {
        logging::fatal(&prefix, format, msg);
        ExitCode::FAILURE
    };
    logging::init(&prefix, &settings.log_level, format);
    tracing::info!("{}", cli::version_line("nsqlookupd"));
    let rt = match nsq_bins::tools::common::runtime() {
        Ok(rt) => rt,
        Err(e) => return fatal(&format!("failed to start the runtime - {e}")),
    };
    rt.block_on(async move {
        let stop = nsq_runtime_tokio::signal::shutdown_signal();
        let lookupd = match Nsqlookupd::start(settings.options).await {
            Ok(l) => l,
            Err(e) => return fatal(&format!("failed to instantiate nsqlookupd - {e}")),
        };
        stop.await;
        lookupd.shutdown().await;
        ExitCode::SUCCESS
    })
}
