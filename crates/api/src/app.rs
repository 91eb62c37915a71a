//! The actix application: middleware, routes, spec and docs.

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use actix_web_prom::PrometheusMetrics;
use paperclip::actix::OpenApiExt;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder, TracingLogger};

use crate::error::{ApiError, body_for_status};
use crate::openapi::{DOCS_PATH, SPEC_PATH};
use crate::state::AppState;

/// Everything a worker needs to build its `App`.
#[derive(Clone)]
pub struct AppParts {
    /// Shared state.
    pub state: AppState,
    /// Metrics middleware (shared registry).
    pub metrics: PrometheusMetrics,
    /// The OpenAPI document, generated once.
    pub spec: Arc<serde_json::Value>,
    /// CORS origins.
    pub cors_origins: Vec<String>,
    /// Where `/assets` files live.
    pub assets_dir: std::path::PathBuf,
    /// When set, `GET /metrics` needs `Authorization: Bearer <token>`.
    pub metrics_token: Option<Arc<str>>,
}

/// The role a path needs before anything else is read: `/api/v1/admin/`
/// is an admin's, except business verification, an operator's task.
fn role_for_path(path: &str) -> Option<sitga_user::Role> {
    if path.starts_with("/api/v1/admin/verifications") {
        Some(sitga_user::Role::Operator)
    } else if path.starts_with("/api/v1/admin/") {
        Some(sitga_user::Role::Admin)
    } else {
        None
    }
}

/// Refuses every `/api/v1/admin/` request without the role it needs before
/// its handler's extractors run: the answer to a member is 403 whatever the
/// body, even while their session is being looked up (extractors are polled
/// together, so a body check could otherwise answer first).
async fn admins_only_first(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(role) = role_for_path(req.path()) {
        let checked = crate::auth::AuthUser::of_request(req.request().clone())
            .await
            .and_then(|user| user.require(role));
        if let Err(refused) = checked {
            return Ok(req
                .into_response(refused.error_response())
                .map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Root span with a `user_id` slot that the auth extractor fills in.
pub struct SitgaRootSpan;

impl RootSpanBuilder for SitgaRootSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        let span = tracing_actix_web::root_span!(request, user_id = tracing::field::Empty);
        // A WebSocket client may pass its token in the query; no log line
        // under this span may carry it.
        if let Some(target) = target_without_token(request.path(), request.query_string()) {
            span.record("http.target", target.as_str());
        }
        span
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// The request target with an `access_token` query value replaced, when
/// there is one to hide.
fn target_without_token(path: &str, query: &str) -> Option<String> {
    if !query.contains("access_token") {
        return None;
    }
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("access_token", _)) => "access_token=[redacted]".to_owned(),
            _ => pair.to_owned(),
        })
        .collect();
    Some(format!("{path}?{}", query.join("&")))
}

/// Whether a `/metrics` request may be answered.
fn metrics_allowed(req: &ServiceRequest, token: Option<&str>) -> bool {
    let Some(token) = token else { return true };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Compared as digests: equal-length inputs, so the time taken does
    // not tell how much of the token was right.
    use sha2::Digest;
    sha2::Sha256::digest(given.trim().as_bytes()) == sha2::Sha256::digest(token.as_bytes())
}

/// Scripts, styles, images and connections from this server only (Swagger
/// UI and Chart.js set styles from script, hence `'unsafe-inline'` for
/// styles; no script is inline), never framed, no plugins, no `<base>`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

async fn serve_spec(spec: web::Data<serde_json::Value>) -> HttpResponse {
    HttpResponse::Ok().json(spec.get_ref())
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::NotFound().json(body_for_status(actix_web::http::StatusCode::NOT_FOUND)))
}

/// Gives a JSON error body to any 4xx/5xx response that has none (actix's
/// own 405, payload errors…), keeping its status and headers.
fn json_error_body<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    if status.is_server_error() {
        // `ApiError` logs its own; this is one actix produced (a payload
        // error, a panic in a handler).
        tracing::error!(status = status.as_u16(), "server error");
    }
    let (req, old) = res.into_parts();
    let mut new = HttpResponse::build(status);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.append_header((name.clone(), value.clone()));
        }
    }
    let new = new.json(body_for_status(status));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_NONE_MATCH,
        ])
        .expose_headers([
            header::RETRY_AFTER,
            header::ETAG,
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Whether responses under `path` may hold a secret next to text another
/// user wrote: tokens (sign-up, login, refresh) and a sale's handover code.
fn carries_secrets(path: &str) -> bool {
    ["/api/v1/auth/", "/api/v1/sales/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// Builds the application for one worker.
pub fn build(
    parts: AppParts,
) -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let metrics_token = parts.metrics_token.clone();
    // Read once per worker: a few small files.
    let page = crate::web_page::WebPage::load(&parts.assets_dir);
    actix_web::App::new()
        .app_data(web::Data::new(parts.state))
        .app_data(web::Data::from(parts.spec))
        .wrap(actix_web::middleware::from_fn(admins_only_first))
        // Echo the request id so a client can quote it in a bug report.
        .wrap_fn(|req, srv| {
            let id = req.extensions().get::<RequestId>().copied();
            let fut = srv.call(req);
            async move {
                let mut res = fut.await?;
                if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id.to_string()).ok()) {
                    res.headers_mut()
                        .insert(HeaderName::from_static("x-request-id"), value);
                }
                Ok(res)
            }
        })
        .wrap(ErrorHandlers::new().default_handler(json_error_body))
        .wrap(cors(&parts.cors_origins))
        .wrap(parts.metrics)
        // Outside the metrics middleware, which answers `/metrics` itself.
        .wrap_fn(move |req, srv| {
            let refused =
                req.path() == "/metrics" && !metrics_allowed(&req, metrics_token.as_deref());
            let outcome = if refused { Err(req) } else { Ok(srv.call(req)) };
            async move {
                match outcome {
                    Ok(fut) => fut.await.map(ServiceResponse::map_into_boxed_body),
                    Err(req) => Ok(req.into_response(
                        ApiError::Unauthorized {
                            code: crate::error::ErrorCode::InvalidToken,
                            message: "metrics need `Authorization: Bearer <SITGA_METRICS_TOKEN>`",
                        }
                        .error_response(),
                    )),
                }
            }
        })
        // gzip, brotli or zstd as the client accepts (images stay as they
        // are: already compressed); WebSocket upgrades are never encoded.
        .wrap(actix_web::middleware::Compress::default())
        // Responses that carry secrets (tokens, a handover code) are never
        // compressed: with text an attacker chose in the same response,
        // the compressed length would leak the secret (BREACH).
        .wrap_fn(|mut req, srv| {
            if carries_secrets(req.path()) {
                req.headers_mut().remove(header::ACCEPT_ENCODING);
            }
            srv.call(req)
        })
        .wrap(TracingLogger::<SitgaRootSpan>::new())
        // Outermost, so every response has them: no MIME sniffing, never
        // framed (clickjacking), no referrer to other sites, and pages (the
        // bidders' page, the dashboard, the API docs) that run only this server's own script
        // files: no inline or foreign code, so injected markup cannot run.
        .wrap(
            actix_web::middleware::DefaultHeaders::new()
                .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .add((header::X_FRAME_OPTIONS, "DENY"))
                .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                .add((header::REFERRER_POLICY, "no-referrer")),
        )
        // Static files, the bidders' page and the operator dashboard (plain
        // actix: files are no API operations).
        .service(web::resource("/").route(web::get().to({
            let page = page.clone();
            move || {
                let page = page.clone();
                async move {
                    match page {
                        Some(page) => HttpResponse::Ok()
                            .content_type("text/html; charset=utf-8")
                            .insert_header((header::CACHE_CONTROL, "no-cache"))
                            .body(page.html),
                        None => HttpResponse::NotFound()
                            .json(body_for_status(actix_web::http::StatusCode::NOT_FOUND)),
                    }
                }
            }
        })))
        .service(web::resource("/dashboard").route(web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, "/dashboard/"))
                .finish()
        })))
        .service(
            actix_files::Files::new("/dashboard", parts.assets_dir.join("dashboard"))
                .index_file("index.html"),
        )
        .service(
            web::scope("/assets")
                // The page's own files at their current version are kept for
                // a year (the link changes with the content); any other file
                // is revalidated.
                .wrap_fn({
                    let page = page.clone();
                    move |req, srv| {
                        let current = page
                            .as_ref()
                            .is_some_and(|p| p.is_current(req.path(), req.query_string()));
                        let response = srv.call(req);
                        async move {
                            let mut response = response.await?;
                            let policy = if current {
                                crate::web_page::IMMUTABLE
                            } else {
                                "no-cache"
                            };
                            if response.status().is_success() {
                                response.headers_mut().insert(
                                    header::CACHE_CONTROL,
                                    header::HeaderValue::from_static(policy),
                                );
                            }
                            Ok(response)
                        }
                    }
                })
                .service(actix_files::Files::new("", &parts.assets_dir)),
        )
        // Plain actix: a WebSocket upgrade is no OpenAPI operation.
        .service(web::resource("/ws").route(web::get().to(crate::ws::upgrade)))
        // Served ahead of paperclip's Swagger 2 handler on the same path.
        .service(web::resource(SPEC_PATH).route(web::get().to(serve_spec)))
        // The API docs: a current Swagger UI (vendored from npm) on our own
        // page, pinned to SPEC_PATH.
        .service(web::resource(DOCS_PATH).route(web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, format!("{DOCS_PATH}/")))
                .finish()
        })))
        .service(
            actix_files::Files::new(DOCS_PATH, parts.assets_dir.join("docs"))
                .index_file("index.html"),
        )
        .default_service(web::to(not_found))
        .wrap_api_with_spec(crate::openapi::base())
        .configure(crate::routes::configure)
        .with_json_spec_at(SPEC_PATH)
        .build()
}

/// One worker's HTTP service for `sitga serve` (what `HttpServer` builds,
/// with its defaults), but for one thing: a connection that upgrades to a
/// WebSocket leaves the HTTP/1 dispatcher ([`crate::ws::takeover`]), so an
/// idle socket keeps none of its buffers. `shutdown` resolves when the
/// server stops gracefully (idle keep-alive connections then close).
pub fn http_service<F>(
    parts: AppParts,
    local_addr: std::net::SocketAddr,
    shutdown: impl Fn() -> F + 'static,
) -> impl ServiceFactory<
    tokio::net::TcpStream,
    Config = (),
    Response = (),
    Error = actix_http::error::DispatchError,
    InitError = (),
>
where
    F: std::future::Future<Output = ()> + 'static,
{
    // The default `AppConfig` (`HttpServer` puts the bound address as its
    // host): read only for a request without a `Host` header (the log's
    // `http.host`) and for URLs the app builds (none).
    let app =
        |parts| actix_service::map_config(build(parts), |()| actix_web::dev::AppConfig::default());
    actix_http::HttpService::build()
        .keep_alive(actix_http::KeepAlive::default())
        .client_request_timeout(std::time::Duration::from_secs(5))
        .client_disconnect_timeout(std::time::Duration::from_secs(1))
        // A response or frame written in pieces (a compressed body, room
        // frames) goes out at once instead of waiting ~40 ms for the
        // client's delayed ACK (Nagle's algorithm).
        .tcp_nodelay(true)
        .local_addr(local_addr)
        .graceful_shutdown_signal(shutdown)
        .upgrade(crate::ws::takeover::factory(app(parts.clone())))
        .finish(app(parts))
        .tcp()
}

#[cfg(test)]
mod tests {
    use super::target_without_token;

    #[test]
    fn a_query_token_never_reaches_the_request_span() {
        assert_eq!(
            target_without_token("/ws", "access_token=eyJhbGciOi.x.y&lang=ko"),
            Some("/ws?access_token=[redacted]&lang=ko".to_owned())
        );
        assert_eq!(
            target_without_token("/ws", "room=1&access_token=abc"),
            Some("/ws?room=1&access_token=[redacted]".to_owned())
        );
        assert_eq!(target_without_token("/api/v1/auctions", "page=2"), None);
    }
}
