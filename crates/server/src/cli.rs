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
    /// sale (skipped when already present; refused on a database with real
    /// accounts unless --force).
    DemoData {
        /// Add the demo accounts (all with the README's password) even
        /// though the database has real ones.
        #[arg(long)]
        force: bool,
    },
    /// The fish species model.
    Model {
        /// The action.
        #[command(subcommand)]
        action: crate::model_cli::ModelAction,
    },
    /// The donation contract on the EVM chain.
    Chain {
        /// The action.
        #[command(subcommand)]
        action: ChainAction,
    },
}

/// `sitga chain …`.
#[derive(Debug, Subcommand)]
pub enum ChainAction {
    /// Deploy a new DonationRegistry to `CHAIN_RPC_URL` from the account of
    /// `CHAIN_PRIVATE_KEY` (its only recorder) and print its address.
    Deploy,
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
        Command::DemoData { force } => demo_data(&cli.settings, force).await,
        Command::Model { action } => crate::model_cli::run(&cli.settings, action).await,
        Command::Chain {
            action: ChainAction::Deploy,
        } => chain_deploy(&cli.settings).await,
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

async fn end_sessions(conn: &mut sitga_persistence::DbConn, user: sitga_core::UserId) -> CliResult {
    sitga_persistence::refresh_tokens::revoke_user_sessions(conn, user, None)
        .await
        .map(|_| ())
        .map_err(|e| (3, e.to_string()))
}

async fn admin(settings: &Settings, action: AdminAction) -> CliResult {
    let (email, role, grant) = match action {
        AdminAction::Grant { email, role } => (email, role, true),
        AdminAction::Revoke { email, role } => (email, role, false),
    };
    let email = Email::parse(&email).map_err(|e| (2, e.to_string()))?;
    let role = Role::parse(&role).map_err(|e| (2, e.to_string()))?;
    let pool = crate::model_cli::connect(settings).await?;
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
    if changed {
        // The account's tokens carry its roles: end its sessions so the
        // change applies now (a server notices within its session cache's
        // 30 s), not when they expire.
        end_sessions(&mut conn, user.id).await?;
        // From the command line: no acting account, the reason names the role.
        let reason = format!("{role} via the sitga command line");
        sitga_persistence::audit::record(
            &mut conn,
            &sitga_persistence::audit::NewAudit {
                actor: None,
                action: if grant {
                    sitga_persistence::audit::AuditAction::RoleGrant
                } else {
                    sitga_persistence::audit::AuditAction::RoleRevoke
                },
                subject_user: Some(user.id),
                subject_auction: None,
                amount: None,
                reason: Some(&reason),
            },
        )
        .await
        .map_err(|e| (3, e.to_string()))?;
    }
    let verb = if grant { "granted" } else { "revoked" };
    if changed {
        println!(
            "{verb} {role} for {email} (user {}); the account's sessions were ended: it applies from its next login",
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
    let spec = sitga_api::openapi::spec();
    let text = serde_json::to_string_pretty(&spec).map_err(|e| (1, e.to_string()))?;
    println!("{text}");
    Ok(())
}

async fn demo_data(settings: &Settings, force: bool) -> CliResult {
    let database = settings.database().map_err(|e| (2, e.to_string()))?;
    run_migrations(&database)
        .await
        .map_err(|e| (3, e.to_string()))?;
    let pool = DbPool::connect(&database, PoolOptions::default())
        .await
        .map_err(|e| (3, e.to_string()))?;
    // With CHAIN_* set, recent demo donations are queued for the chain.
    let chain = match settings.resolve() {
        Ok(config) => match &config.chain {
            Some(c) => Some(sitga_realtime::chain::Chain::new(c).map_err(|e| (2, e.to_string()))?),
            None => None,
        },
        Err(e) if settings.chain_rpc_url.is_some() => return Err((2, e.to_string())),
        Err(_) => None,
    };
    let calendar = settings.calendar().map_err(|e| (2, e.to_string()))?;
    let store =
        sitga_photos::PhotoStore::from_setting(settings.photo_store.as_deref(), &settings.data_dir)
            .map_err(|e| (2, format!("SITGA_PHOTO_STORE: {e}")))?;
    let photos = sitga_realtime::photos::Photos::new(pool.clone(), store);
    let summary = crate::demo::seed(&pool, chain.as_ref(), &photos, calendar, force)
        .await
        .map_err(|e| match e {
            crate::demo::DemoError::RealUsers(_) => (2, e.to_string()),
            e => (1, e.to_string()),
        })?;
    if summary.already_present {
        println!("demo data is already present");
    } else {
        println!(
            "demo data added: {} accounts, {} auctions with {} photos, {} bids, {} steps on sales after the hammer, {} coffee-grounds pickups, {} forecasts, {} donations queued for the chain",
            summary.users_created,
            summary.auctions_opened,
            summary.photos_stored,
            summary.bids_placed,
            summary.sales_moved,
            summary.pickups_written,
            summary.forecasts_made,
            summary.chain_records_queued
        );
    }
    println!(
        "operator login: {} / {} (operator role); every demo account uses the same password",
        crate::demo::OPERATOR_EMAIL,
        crate::demo::DEMO_PASSWORD
    );
    Ok(())
}

async fn chain_deploy(settings: &Settings) -> CliResult {
    let missing = |name: &str| (2, format!("{name} is not set"));
    let rpc = settings
        .chain_rpc_url
        .as_deref()
        .ok_or_else(|| missing("CHAIN_RPC_URL"))?;
    let key = settings
        .chain_private_key
        .as_deref()
        .ok_or_else(|| missing("CHAIN_PRIVATE_KEY"))?;
    let address = sitga_chain::deploy(rpc, key, std::time::Duration::from_secs(120))
        .await
        .map_err(|e| match e {
            sitga_chain::ChainError::Config(m) => (2, m),
            other => (3, other.to_string()),
        })?;
    println!("DonationRegistry deployed at {address}");
    println!("export CHAIN_CONTRACT_ADDRESS={address}");
    Ok(())
}
