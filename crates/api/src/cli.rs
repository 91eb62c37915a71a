//! The `sitga` command line.

// Printing results is what a command-line tool is for.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sitga_persistence::{DbPool, PoolOptions, run_migrations, users};
use sitga_user::{Email, Role};

use crate::config::Settings;

/// sitga: live fish auctions and coffee-grounds recycling.
#[derive(Debug, Parser)]
#[command(name = "sitga", version, about, long_about = None)]
pub struct Cli {
    /// Settings (also read from the environment and `.env`).
    #[command(flatten)]
    pub settings: Settings,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Account administration.
    Admin {
        /// The action.
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Print the OpenAPI 3 document and exit.
    Openapi,
    /// Add demo accounts, live auctions with bids and chat, and a finished
    /// sale (skipped when already present).
    DemoData,
}

/// `sitga admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Give an account a role (`admin` or `operator`).
    Grant {
        /// The account's e-mail.
        email: String,
        /// `admin` or `operator`.
        role: String,
    },
    /// Take a role away from an account.
    Revoke {
        /// The account's e-mail.
        email: String,
        /// `admin` or `operator`.
        role: String,
    },
}

/// Runs the parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.settings).await,
        Command::Migrate => migrate(&cli.settings).await,
        Command::Admin { action } => admin(&cli.settings, action).await,
        Command::Openapi => print_openapi(),
        Command::DemoData => demo_data(&cli.settings).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            tracing::error!("{message}");
            eprintln!("sitga: {message}");
            ExitCode::from(code)
        }
    }
}

type CliResult = Result<(), (u8, String)>;

async fn serve(settings: &Settings) -> CliResult {
    let config = settings.resolve().map_err(|e| (2, e.to_string()))?;
    let server = crate::server::start(config, None)
        .await
        .map_err(|e| (e.exit_code(), e.to_string()))?;
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    server.stop(true).await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

async fn migrate(settings: &Settings) -> CliResult {
    let database = settings.database().map_err(|e| (2, e.to_string()))?;
    let applied = run_migrations(&database)
        .await
        .map_err(|e| (3, e.to_string()))?;
    if applied.is_empty() {
        println!("database is up to date ({})", database.redacted());
    } else {
        println!(
            "applied {} migration(s): {}",
            applied.len(),
            applied.join(", ")
        );
    }
    Ok(())
}

async fn admin(settings: &Settings, action: AdminAction) -> CliResult {
    let (email, role, grant) = match action {
        AdminAction::Grant { email, role } => (email, role, true),
        AdminAction::Revoke { email, role } => (email, role, false),
    };
    let email = Email::parse(&email).map_err(|e| (2, e.to_string()))?;
    let role = Role::parse(&role).map_err(|e| (2, e.to_string()))?;
    let database = settings.database().map_err(|e| (2, e.to_string()))?;
    run_migrations(&database)
        .await
        .map_err(|e| (3, e.to_string()))?;
    let pool = DbPool::connect(
        &database,
        PoolOptions {
            max_size: 1,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| (3, e.to_string()))?;
    let mut conn = pool.get().await.map_err(|e| (3, e.to_string()))?;
    let user = users::find_by_email(&mut conn, email.as_str())
        .await
        .map_err(|e| (3, e.to_string()))?
        .ok_or_else(|| (1, format!("no account with e-mail {email}")))?;
    let changed = if grant {
        users::grant_role(&mut conn, user.id, role).await
    } else {
        users::revoke_role(&mut conn, user.id, role).await
    }
    .map_err(|e| (3, e.to_string()))?;
    let verb = if grant { "granted" } else { "revoked" };
    if changed {
        println!(
            "{verb} {role} for {email} (user {}); it applies to tokens issued from now on",
            user.id
        );
    } else {
        println!(
            "nothing to do: {email} {} {role}",
            if grant {
                "already has"
            } else {
                "does not have"
            }
        );
    }
    Ok(())
}

fn print_openapi() -> CliResult {
    let spec = crate::openapi::spec();
    let text = serde_json::to_string_pretty(&spec).map_err(|e| (1, e.to_string()))?;
    println!("{text}");
    Ok(())
}

async fn demo_data(settings: &Settings) -> CliResult {
    let database = settings.database().map_err(|e| (2, e.to_string()))?;
    run_migrations(&database)
        .await
        .map_err(|e| (3, e.to_string()))?;
    let pool = DbPool::connect(&database, PoolOptions::default())
        .await
        .map_err(|e| (3, e.to_string()))?;
    let summary = crate::demo::seed(&pool)
        .await
        .map_err(|e| (1, e.to_string()))?;
    if summary.already_present {
        println!("demo data is already present");
    } else {
        println!(
            "demo data added: {} accounts, {} auctions, {} bids, {} coffee-grounds pickups",
            summary.users_created,
            summary.auctions_opened,
            summary.bids_placed,
            summary.pickups_written
        );
    }
    println!(
        "operator login: {} / {} (admin + operator roles); every demo account uses the same password",
        crate::demo::OPERATOR_EMAIL,
        crate::demo::DEMO_PASSWORD
    );
    Ok(())
}
