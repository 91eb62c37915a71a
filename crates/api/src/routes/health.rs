//! Liveness and readiness.

use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::Serialize;

use sitga_realtime::chain::ChainHealth;

use crate::error::ApiError;
use crate::state::AppState;

/// The process is up.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct HealthResponse {
    /// Always `ok`.
    pub status: String,
    /// sitga version.
    pub version: String,
}

/// Liveness: the process answers
#[api_v2_operation(tags(Operations))]
pub async fn health() -> Result<web::Json<HealthResponse>, ApiError> {
    Ok(web::Json(HealthResponse {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

/// One dependency's state.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct Check {
    /// Whether this dependency is configured at all.
    pub configured: bool,
    /// Whether it answered.
    pub ok: bool,
    /// Backend or mode (e.g. `mysql`, `sqlite`, `in-process`).
    pub mode: String,
    /// What was found: a short state, never the underlying error (that is
    /// logged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Readiness of each dependency. On 503 it also carries `error` and
/// `message` like every error body.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ReadyResponse {
    /// `ready` or `not_ready`.
    pub status: String,
    /// The database.
    pub database: Check,
    /// Redis (`configured: false` in embedded mode).
    pub redis: Check,
    /// The fish species model.
    pub model: Check,
    /// The EVM node donations are recorded on. Reported only: the API never
    /// waits on the chain, so an unreachable node does not make the instance
    /// unready (the outbox retries).
    pub chain: Check,
    /// Where photo files are kept (`directory` or `s3`): uploads and photo
    /// pages fail without it.
    pub photos: Check,
    /// `not_ready` when not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What is not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Readiness: the database (and Redis, when configured) answer
///
/// 200 when every configured dependency answers, 503 otherwise.
#[api_v2_operation(tags(Operations))]
pub async fn ready(state: web::Data<AppState>) -> Result<web::Json<ReadyResponse>, ApiError> {
    let database = match state.db.ping().await {
        Ok(()) => Check {
            configured: true,
            ok: true,
            mode: state.db.backend().into(),
            detail: None,
        },
        Err(e) => {
            // The reason goes to the log; the public body says only that.
            tracing::warn!(error = %e, "readiness: database unreachable");
            Check {
                configured: true,
                ok: false,
                mode: state.db.backend().into(),
                detail: Some("unreachable".into()),
            }
        }
    };
    let redis = match &state.redis {
        None => Check {
            configured: false,
            ok: true,
            mode: "in-process".into(),
            detail: None,
        },
        Some(pool) => match ping_redis(pool).await {
            Ok(()) => Check {
                configured: true,
                ok: true,
                mode: "redis".into(),
                detail: None,
            },
            Err(error) => {
                tracing::warn!(%error, "readiness: redis unreachable");
                Check {
                    configured: true,
                    ok: false,
                    mode: "redis".into(),
                    detail: Some("unreachable".into()),
                }
            }
        },
    };
    let model = match &state.fish {
        Ok(species) => model_check(species),
        Err(reason) if reason.contains("disabled") => Check {
            configured: false,
            ok: true,
            mode: "disabled".into(),
            detail: Some(reason.clone()),
        },
        Err(reason) => Check {
            configured: true,
            ok: false,
            mode: "onnxruntime".into(),
            detail: Some(reason.clone()),
        },
    };
    let chain = match &state.chain {
        None => Check {
            configured: false,
            ok: true,
            mode: "off".into(),
            detail: Some(
                "on-chain recording is off (CHAIN_RPC_URL, CHAIN_PRIVATE_KEY, CHAIN_CONTRACT_ADDRESS not set)".into(),
            ),
        },
        Some(chain) => {
            let (ok, detail) = match chain.health().await {
                ChainHealth::Ok(block) => (
                    true,
                    format!("contract {} at block {block}", chain.contract()),
                ),
                ChainHealth::NoContract => (
                    false,
                    format!("no contract at {} on this chain", chain.contract()),
                ),
                ChainHealth::Unreachable => (false, "unreachable".to_owned()),
            };
            Check {
                configured: true,
                ok,
                mode: "evm".into(),
                detail: Some(detail),
            }
        }
    };
    let photos = {
        let store = state.photos.store();
        let mode = if store.location().starts_with("s3://") {
            "s3"
        } else {
            "directory"
        };
        match store.check().await {
            Ok(()) => Check {
                configured: true,
                ok: true,
                mode: mode.into(),
                detail: None,
            },
            Err(error) => {
                tracing::warn!(%error, "readiness: the photo store does not answer");
                Check {
                    configured: true,
                    ok: false,
                    mode: mode.into(),
                    detail: Some("the photo store does not answer".into()),
                }
            }
        }
    };
    let failing: Vec<&str> = [
        ("database", &database),
        ("redis", &redis),
        ("model", &model),
        ("photos", &photos),
    ]
    .into_iter()
    .filter(|(_, c)| !c.ok)
    .map(|(name, _)| name)
    .collect();
    let response = ReadyResponse {
        status: if failing.is_empty() {
            "ready"
        } else {
            "not_ready"
        }
        .into(),
        error: (!failing.is_empty()).then(|| "not_ready".to_owned()),
        message: (!failing.is_empty()).then(|| format!("unavailable: {}", failing.join(", "))),
        database,
        redis,
        model,
        chain,
        photos,
    };
    if response.error.is_some() {
        return Err(ApiError::NotReady(Box::new(response)));
    }
    Ok(web::Json(response))
}

async fn ping_redis(pool: &deadpool_redis::Pool) -> Result<(), String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    let pong: String = deadpool_redis::redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    if pong == "PONG" {
        Ok(())
    } else {
        Err(format!("unexpected reply {pong:?}"))
    }
}

/// The species model's line: which model and version serve, and from
/// where (the configured folder or an install), and an install that could
/// not be served.
fn model_check(species: &sitga_realtime::species::Species) -> Check {
    let head = species.model().head();
    let serving = species.serving();
    let source = match serving.install {
        Some(id) => format!("install #{id}"),
        None => "the configured folder".to_owned(),
    };
    let refused = serving
        .refused
        .as_ref()
        .map(|(id, _)| format!("; install #{id} was refused (see the log)"))
        .unwrap_or_default();
    Check {
        configured: true,
        ok: true,
        mode: format!("{} v{}", head.manifest().model, head.manifest().version),
        detail: Some(format!("{source}{refused}")),
    }
}
