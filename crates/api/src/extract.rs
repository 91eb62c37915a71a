//! Request extractors whose errors name the offending field.
//!
//! actix's own `Json`/`Query` report serde's message, which for a wrong type
//! does not say which field was wrong. These read the same input but
//! deserialize through `serde_path_to_error`, and are documented in the
//! OpenAPI spec exactly like `Json`/`Query`.

use std::collections::BTreeMap;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw, SecurityScheme};
use paperclip::v2::schema::Apiv2Schema;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::error::ErrorCode;

/// Largest JSON body the API accepts.
pub const JSON_LIMIT: usize = 64 * 1024;

/// A JSON request body of type `T`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = match req.mime_type() {
            Ok(Some(mime)) => mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON),
            _ => false,
        };
        let declared_too_large = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|len| len > JSON_LIMIT);
        let payload = web::Payload::from_request(req, payload).into_inner();
        Box::pin(async move {
            if declared_too_large {
                return Err(ApiError::PayloadTooLarge { limit: JSON_LIMIT });
            }
            if !content_type_ok {
                return Err(ApiError::UnsupportedMediaType {
                    expected: "application/json",
                });
            }
            let payload = payload.map_err(ApiError::internal)?;
            let bytes = match payload.to_bytes_limited(JSON_LIMIT).await {
                Ok(Ok(bytes)) => bytes,
                Ok(Err(err)) => {
                    return Err(ApiError::bad_request(
                        ErrorCode::UnreadableBody,
                        format!("could not read the request body: {err}"),
                    ));
                }
                Err(_) => return Err(ApiError::PayloadTooLarge { limit: JSON_LIMIT }),
            };
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Err(ApiError::bad_request(
                    ErrorCode::MalformedJson,
                    "the request body is empty; send a JSON object",
                ));
            }
            // Every body is an object: serde would also fill a struct from
            // an array, field by field, which no client means.
            if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidField,
                    "the request body must be a JSON object",
                ));
            }
            let mut de = serde_json::Deserializer::from_slice(&bytes);
            let value = serde_path_to_error::deserialize(&mut de).map_err(json_error)?;
            de.end().map_err(|e| {
                ApiError::bad_request(
                    ErrorCode::MalformedJson,
                    format!("trailing data after JSON: {e}"),
                )
            })?;
            Ok(JsonBody(value))
        })
    }
}

fn json_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => {
            let message = strip_position(&inner.to_string());
            let field = field_name(&path, &message);
            ApiError::BadRequest {
                code: ErrorCode::InvalidField,
                message: match &field {
                    Some(f) if !message.contains(&format!("`{f}`")) => format!("{f}: {message}"),
                    _ => message,
                },
                field,
            }
        }
        _ => ApiError::bad_request(ErrorCode::MalformedJson, format!("malformed JSON: {inner}")),
    }
}

/// The field a deserialization error is about: the path when it points at a
/// field, else the name serde quotes in "missing field `x`" / "unknown field
/// `x`" messages (those are reported at the parent).
fn field_name(path: &str, message: &str) -> Option<String> {
    if path != "." && !path.is_empty() {
        return Some(path.to_owned());
    }
    if !["missing field", "unknown field", "duplicate field"]
        .iter()
        .any(|prefix| message.starts_with(prefix))
    {
        return None;
    }
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

/// serde_json appends " at line 1 column 12"; clients need the field, not
/// the column.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

impl<T: Apiv2Schema> Apiv2Schema for JsonBody<T> {
    fn name() -> Option<String> {
        T::name()
    }

    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }
}

impl<T: Apiv2Schema> OperationModifier for JsonBody<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        web::Json::<T>::update_parameter(op);
    }

    fn update_response(op: &mut DefaultOperationRaw) {
        web::Json::<T>::update_response(op);
    }

    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        web::Json::<T>::update_definitions(map);
    }

    fn update_security(op: &mut DefaultOperationRaw) {
        web::Json::<T>::update_security(op);
    }

    fn update_security_definitions(map: &mut BTreeMap<String, SecurityScheme>) {
        web::Json::<T>::update_security_definitions(map);
    }
}

/// Query-string parameters of type `T`.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for QueryParams<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = form_urlencoded::parse(req.query_string().as_bytes());
        let de = serde_urlencoded::Deserializer::new(parsed);
        std::future::ready(
            serde_path_to_error::deserialize(de)
                .map(QueryParams)
                .map_err(|err| {
                    let path = err.path().to_string();
                    let message = err.into_inner().to_string();
                    let field = field_name(&path, &message);
                    ApiError::BadRequest {
                        code: ErrorCode::InvalidQuery,
                        message: match &field {
                            Some(f) if !message.contains(&format!("`{f}`")) => {
                                format!("{f}: {message}")
                            }
                            _ => message,
                        },
                        field,
                    }
                }),
        )
    }
}

impl<T: Apiv2Schema> Apiv2Schema for QueryParams<T> {}

impl<T: Apiv2Schema> OperationModifier for QueryParams<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        web::Query::<T>::update_parameter(op);
    }

    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        web::Query::<T>::update_definitions(map);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_from_path_or_message() {
        assert_eq!(field_name("email", "invalid type"), Some("email".into()));
        assert_eq!(
            field_name(".", "missing field `password`"),
            Some("password".into())
        );
        assert_eq!(field_name(".", "invalid type: null"), None);
        assert_eq!(
            field_name(".", "invalid type: integer `5`, expected a map"),
            None
        );
    }

    #[test]
    fn position_is_stripped() {
        assert_eq!(
            strip_position("invalid type: integer `5`, expected a string at line 1 column 12"),
            "invalid type: integer `5`, expected a string"
        );
    }
}
