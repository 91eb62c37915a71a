//! The `sitga` binary.

use std::process::ExitCode;

use clap::Parser;
use sitga_server::cli::Cli;

fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is worth saying.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("sitga: ignoring .env: {e}");
    }
    let cli = Cli::parse();
    sitga_server::logging::init(&cli.settings.log, cli.settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sitga: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(sitga_server::cli::run(cli))
}
