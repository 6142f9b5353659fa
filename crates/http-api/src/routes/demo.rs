//! The demo routes of the original service: one open, one needing an
//! access token, one needing a fresh one.

use paperclip::actix::{Apiv2Schema, api_v2_operation, web::Json};
use serde::Serialize;

use crate::extract::{AccessToken, FreshAccessToken};

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct MessageBody {
    pub message: &'static str,
}

/// Open to everyone
#[api_v2_operation(tags(Demo))]
pub async fn guest() -> Json<MessageBody> {
    Json(MessageBody {
        message: "This endpoint is open to everyone.",
    })
}

/// Needs an access token
#[api_v2_operation(tags(Demo))]
pub async fn protected(_: AccessToken) -> Json<MessageBody> {
    Json(MessageBody {
        message: "This is a protected endpoint.",
    })
}

/// Needs a fresh access token (straight from /login)
#[api_v2_operation(tags(Demo))]
pub async fn fresh_protected(_: FreshAccessToken) -> Json<MessageBody> {
    Json(MessageBody {
        message: "This is a protected endpoint. You used a fresh token to access it.",
    })
}
