//! Request extractors: the JSON body and the bearer tokens.

mod bearer;
mod json_body;

pub use bearer::{AccessToken, FreshAccessToken, RefreshToken};
pub use json_body::{JsonBody, MAX_BODY_BYTES};
