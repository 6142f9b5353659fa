use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw};
use paperclip::v2::schema::Apiv2Schema;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// How long a client may take to send a whole body (app data; the default
/// applies when none is registered). A body trickled slower than that is
/// a `408`, so it cannot hold a connection without limit.
#[derive(Debug, Clone, Copy)]
pub struct BodyReadTimeout(pub Duration);

impl Default for BodyReadTimeout {
    fn default() -> Self {
        Self(Duration::from_secs(10))
    }
}

/// A JSON request body with the errors of `docs/http-api.md#request-bodies`: 415 for another media
/// type, 413 over 16 KiB, 408 when it arrives too slowly, 400 for broken
/// JSON (invalid UTF-8 anywhere included), and 422 for a JSON value that is
/// not an object. Field types are the body type's business: see
/// [`crate::extract::Field`], which collects every bad field.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = request.mime_type().ok().flatten().is_some_and(|mime| {
            mime.type_() == "application"
                && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
        });
        let declared_length = request
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        let read_timeout = request
            .app_data::<BodyReadTimeout>()
            .copied()
            .unwrap_or_default();
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            if declared_length.is_some_and(|length| length > MAX_BODY_BYTES) {
                return Err(ApiError::PayloadTooLarge);
            }
            let read = async {
                let capacity = declared_length.unwrap_or(256).min(MAX_BODY_BYTES);
                let mut body = Vec::with_capacity(capacity);
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|_| ApiError::InvalidJson)?;
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(ApiError::PayloadTooLarge);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            };
            let body = tokio::time::timeout(read_timeout.0, read)
                .await
                .map_err(|_| ApiError::RequestTimeout)??;
            parse(&body).map(JsonBody)
        })
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    use serde_json::error::Category;

    // serde_json checks UTF-8 only in the strings it keeps: a field the
    // body type ignores could carry any bytes. Bodies are UTF-8 (`docs/http-api.md#request-bodies`).
    if std::str::from_utf8(body).is_err() {
        return Err(ApiError::InvalidJson);
    }
    // Structs also deserialize from arrays; a body is an object (`docs/http-api.md#request-bodies`).
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => ApiError::validation("body", "Expected a JSON object."),
                Err(_) => ApiError::InvalidJson,
            },
        );
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize::<_, T>(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                ApiError::validation(field, describe(&inner))
            }
            Category::Syntax | Category::Eof | Category::Io => ApiError::InvalidJson,
        }
    })?;
    deserializer.end().map_err(|_| ApiError::InvalidJson)?;
    Ok(value)
}

/// serde's message without its position, capitalised as a sentence; a
/// message that would quote the value is replaced, as the value may be a
/// secret.
fn describe(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if text.starts_with("invalid type") || text.starts_with("invalid value") {
        return "Invalid value.".to_owned();
    }
    let text = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(head, _)| head);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => "Invalid value.".to_owned(),
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
        actix_web::web::Json::<T>::update_parameter(op);
    }
}

/// A JSON body that may be left out entirely (no body, or an empty one):
/// then `None`. A body that is there gets every rule of [`JsonBody`].
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = request.headers();
        let length = headers
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .map(str::trim);
        let chunked = headers.contains_key(actix_web::http::header::TRANSFER_ENCODING);
        let absent = match length {
            Some(length) => length == "0",
            None => !chunked,
        };
        if absent {
            return Box::pin(async { Ok(OptionalJsonBody(None)) });
        }
        let body = JsonBody::<T>::from_request(request, payload);
        Box::pin(async move {
            body.await
                .map(|JsonBody(value)| OptionalJsonBody(Some(value)))
        })
    }
}

impl<T: Apiv2Schema> Apiv2Schema for OptionalJsonBody<T> {
    fn name() -> Option<String> {
        T::name()
    }

    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }
}

impl<T: Apiv2Schema> OperationModifier for OptionalJsonBody<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        actix_web::web::Json::<T>::update_parameter(op);
        // The body may be left out.
        for parameter in op.parameters.iter_mut() {
            if let paperclip::v2::models::Either::Right(parameter) = parameter
                && parameter.in_ == paperclip::v2::models::ParameterIn::Body
            {
                parameter.required = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default)]
        email: Option<String>,
    }

    #[test]
    fn broken_json_is_invalid_json() {
        for raw in [&b"{"[..], b"", b"{\"email\": }", b"{} trailing", b"nul"] {
            assert!(
                matches!(parse::<Body>(raw), Err(ApiError::InvalidJson)),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn a_wrong_type_names_the_field_without_its_value() {
        match parse::<Body>(br#"{"email": 12345}"#) {
            Err(ApiError::Validation(fields)) => {
                assert_eq!(fields["email"], ["Invalid value."]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn invalid_utf8_anywhere_is_invalid_json() {
        for raw in [
            &b"{\"ignored\": \"\xff\xfe\"}"[..],
            b"{\"email\": \"a\xc3\"}",
            b"{\"\xffkey\": 1}",
        ] {
            assert!(
                matches!(parse::<Body>(raw), Err(ApiError::InvalidJson)),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn control_characters_in_strings_are_data() {
        let body = parse::<Body>(br#"{"email": "a\u0000\u001f\u0085b"}"#).unwrap();
        assert_eq!(body.email.as_deref(), Some("a\0\u{1f}\u{85}b"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_ends_is_a_timeout() {
        use actix_web::test::TestRequest;
        use actix_web::web::Bytes;

        let (request, _) = TestRequest::post()
            .insert_header(("content-type", "application/json"))
            .app_data(BodyReadTimeout(Duration::from_secs(10)))
            .to_http_parts();
        let trickle = futures_util::stream::once(async {
            Ok::<_, actix_web::error::PayloadError>(Bytes::from_static(b"{\"email\""))
        })
        .chain(futures_util::stream::pending());
        let mut payload = Payload::from(
            Box::pin(trickle) as std::pin::Pin<Box<dyn futures_util::Stream<Item = _>>>
        );
        let result = JsonBody::<Body>::from_request(&request, &mut payload).await;
        assert!(matches!(result, Err(ApiError::RequestTimeout)));
    }

    #[test]
    fn a_non_object_body_is_a_validation_error_of_the_body() {
        for raw in [&b"[1, 2]"[..], b" \"text\"", b"5", b"null"] {
            match parse::<Body>(raw) {
                Err(ApiError::Validation(fields)) => {
                    assert_eq!(fields["body"], ["Expected a JSON object."]);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn missing_optional_fields_parse() {
        assert_eq!(parse::<Body>(b"{}").unwrap().email, None);
    }
}
