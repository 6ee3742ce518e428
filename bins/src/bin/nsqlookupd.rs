//! nsqlookupd: the directory of which nsqd carries which topics and
//! channels (NSQ v1.3.0 compatible).

use clap::Parser;
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
            eprintln!("[nsqlookupd] FATAL: {e}");
            return ExitCode::FAILURE;
        }
    };
    cli::logging::init(&settings.log_level);
    tracing::info!("{}", cli::version_line("nsqlookupd"));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("[nsqlookupd] FATAL: failed to start the runtime - {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let stop = nsq_runtime_tokio::signal::shutdown_signal();
        let lookupd = match Nsqlookupd::start(settings.options).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("failed to instantiate nsqlookupd - {e}");
                return ExitCode::FAILURE;
            }
        };
        stop.await;
        lookupd.shutdown().await;
        ExitCode::SUCCESS
    })
}
