//! What other services need to verify our tokens without sharing a
//! secret: the public keys (JWKS, RFC 7517) and a discovery document that
//! points to them (`docs/http-api.md#signing-keys`).

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::header;
use actix_web::web::Data;
use paperclip::actix::api_v2_operation;

use crate::state::AppState;

/// The public keys our tokens are signed with
///
/// The public JWK of every standby, active and retired key (`kid`, `kty`,
/// `alg`, `use: sig`); never a shared-secret key. Cacheable for
/// `JWKS_MAX_AGE` seconds.
#[api_v2_operation(tags(Keys))]
pub async fn jwks(state: Data<AppState>) -> HttpResponse {
    let body = state
        .signing_keys
        .as_ref()
        .map_or_else(|| Arc::from(r#"{"keys":[]}"#), |keys| keys.jwks());
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", state.discovery.jwks_max_age.as_secs()),
        ))
        .body(body.to_string())
}

/// Where the public keys are, for discovery clients
///
/// `issuer` is `JWT_ISSUER`; `jwks_uri` is absolute, from
/// `PUBLIC_API_URL` (default: this server's address as the request
/// reached it).
#[api_v2_operation(tags(Keys))]
pub async fn openid_configuration(
    state: Data<AppState>,
    request: actix_web::HttpRequest,
) -> HttpResponse {
    let discovery = &state.discovery;
    let base = match &discovery.public_api_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let connection = request.connection_info();
            format!("{}://{}", connection.scheme(), connection.host())
        }
    };
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", discovery.jwks_max_age.as_secs()),
        ))
        .json(serde_json::json!({
            "issuer": discovery.issuer,
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "id_token_signing_alg_values_supported": discovery.algorithms,
        }))
}
