//! The actix application: middleware, routes, spec and docs.

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, guard, web};
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
}

/// Root span with a `user_id` slot that the auth extractor fills in.
pub struct SitgaRootSpan;

impl RootSpanBuilder for SitgaRootSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        tracing_actix_web::root_span!(request, user_id = tracing::field::Empty)
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Swagger UI files paperclip bundles; anything else under `/docs` is ours
/// to answer (paperclip would panic on an unknown file name).
const SWAGGER_FILES: &[&str] = &[
    "index.html",
    "oauth2-redirect.html",
    "swagger-ui.css",
    "swagger-ui.css.map",
    "swagger-ui.js",
    "swagger-ui.js.map",
    "swagger-ui-bundle.js",
    "swagger-ui-bundle.js.map",
    "swagger-ui-es-bundle.js",
    "swagger-ui-es-bundle.js.map",
    "swagger-ui-es-bundle-core.js",
    "swagger-ui-es-bundle-core.js.map",
    "swagger-ui-standalone-preset.js",
    "swagger-ui-standalone-preset.js.map",
    "favicon-16x16.png",
    "favicon-32x32.png",
];

fn docs_request_paperclip_cannot_serve(ctx: &guard::GuardContext<'_>) -> bool {
    let path = ctx.head().uri.path();
    let file = path
        .strip_prefix(DOCS_PATH)
        .map(|rest| rest.trim_start_matches('/'))
        .unwrap_or_default();
    let has_query = ctx.head().uri.query().is_some_and(|q| !q.is_empty());
    if file.is_empty() {
        has_query
    } else {
        !SWAGGER_FILES.contains(&file)
    }
}

async fn docs_fallback(req: HttpRequest) -> HttpResponse {
    if req.match_info().query("file").is_empty() {
        HttpResponse::PermanentRedirect()
            .insert_header((
                header::LOCATION,
                format!("{DOCS_PATH}/index.html?url={SPEC_PATH}"),
            ))
            .finish()
    } else {
        HttpResponse::NotFound().json(body_for_status(actix_web::http::StatusCode::NOT_FOUND))
    }
}

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
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([header::RETRY_AFTER, HeaderName::from_static("x-request-id")])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
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
    actix_web::App::new()
        .app_data(web::Data::new(parts.state))
        .app_data(web::Data::from(parts.spec))
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
        .wrap(TracingLogger::<SitgaRootSpan>::new())
        // Static files and the operator dashboard (plain actix: files are no
        // API operations).
        .service(web::resource("/dashboard").route(web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, "/dashboard/"))
                .finish()
        })))
        .service(
            actix_files::Files::new("/dashboard", parts.assets_dir.join("dashboard"))
                .index_file("index.html"),
        )
        .service(actix_files::Files::new("/assets", &parts.assets_dir))
        // Plain actix: a WebSocket upgrade is no OpenAPI operation.
        .service(web::resource("/ws").route(web::get().to(crate::ws::upgrade)))
        // Served ahead of paperclip's Swagger 2 handler on the same path.
        .service(web::resource(SPEC_PATH).route(web::get().to(serve_spec)))
        .service(
            web::resource([DOCS_PATH.to_owned(), format!("{DOCS_PATH}/{{file:.*}}")])
                .guard(guard::fn_guard(docs_request_paperclip_cannot_serve))
                .route(web::get().to(docs_fallback)),
        )
        .default_service(web::to(not_found))
        .wrap_api_with_spec(crate::openapi::base())
        .configure(crate::routes::configure)
        .with_json_spec_at(SPEC_PATH)
        .with_swagger_ui_at(DOCS_PATH)
        .build()
}
