//! Limits keyed by what only an authenticated request knows (a user id):
//! the handler counts the request itself, and its answer, success or
//! error, carries the `RateLimit` headers.

use std::collections::BTreeMap;

use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, Responder, ResponseError};
use application::Allowance;
use application::rate_limits::Rule;
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw, SecurityScheme};
use paperclip::v2::schema::Apiv2Schema;

use super::headers::allowance_headers;
use crate::error::ApiError;
use crate::state::AppState;

/// Counts a request of `subject` under `rule`, then runs `handler`. Over
/// the limit, `handler` does not run and the answer is the `429`.
pub(crate) async fn counted<T>(
    state: &AppState,
    rule: Rule,
    subject: &str,
    handler: impl Future<Output = Result<T, ApiError>>,
) -> Result<Counted<T>, ApiError> {
    let allowance = state.request_limits.check(rule, subject).await?;
    Ok(Counted {
        answer: handler.await,
        allowance,
    })
}

/// A handler's answer with the allowance it was counted under. Documented
/// in OpenAPI as `T` itself.
pub(crate) struct Counted<T> {
    answer: Result<T, ApiError>,
    allowance: Option<Allowance>,
}

impl<T: Responder> Responder for Counted<T> {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse<BoxBody> {
        let mut response = match self.answer {
            Ok(answer) => answer.respond_to(request).map_into_boxed_body(),
            Err(error) => error.error_response(),
        };
        if let Some(allowance) = self.allowance {
            allowance_headers(&allowance, response.headers_mut());
        }
        response
    }
}

impl<T: Apiv2Schema> Apiv2Schema for Counted<T> {
    fn name() -> Option<String> {
        T::name()
    }

    fn description() -> &'static str {
        T::description()
    }

    fn required() -> bool {
        T::required()
    }

    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }

    fn schema_with_ref() -> DefaultSchemaRaw {
        T::schema_with_ref()
    }
}

impl<T: OperationModifier> OperationModifier for Counted<T> {
    fn update_parameter(operation: &mut DefaultOperationRaw) {
        T::update_parameter(operation);
    }

    fn update_response(operation: &mut DefaultOperationRaw) {
        T::update_response(operation);
    }

    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        T::update_definitions(map);
    }

    fn update_security(operation: &mut DefaultOperationRaw) {
        T::update_security(operation);
    }

    fn update_security_definitions(map: &mut BTreeMap<String, SecurityScheme>) {
        T::update_security_definitions(map);
    }
}
