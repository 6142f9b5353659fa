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

/// A JSON request body with the contract's errors: 415 for another media
/// type, 413 over 16 KiB, 400 for broken JSON, and 422 naming the field
/// for a value of the wrong type.
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
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            if declared_length.is_some_and(|length| length > MAX_BODY_BYTES) {
                return Err(ApiError::PayloadTooLarge);
            }
            let mut body = Vec::with_capacity(declared_length.unwrap_or(256).min(MAX_BODY_BYTES));
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| ApiError::InvalidJson)?;
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(ApiError::PayloadTooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            parse(&body).map(JsonBody)
        })
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    use serde_json::error::Category;

    // Structs also deserialize from arrays; the contract wants objects.
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

/// serde's message without its position, capitalised as a sentence.
fn describe(error: &serde_json::Error) -> String {
    let text = error.to_string();
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
    fn a_wrong_type_names_the_field() {
        match parse::<Body>(br#"{"email": 5}"#) {
            Err(ApiError::Validation(fields)) => {
                assert_eq!(
                    fields["email"],
                    ["Invalid type: integer `5`, expected a string."]
                );
            }
            other => panic!("unexpected {other:?}"),
        }
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
