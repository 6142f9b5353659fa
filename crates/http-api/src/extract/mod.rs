//! Request extractors: the JSON body and the bearer tokens.

mod bearer;
mod json_body;
mod required;

pub use bearer::{AccessToken, FreshAccessToken, RefreshToken};
pub use json_body::{JsonBody, MAX_BODY_BYTES};
pub use required::Required;
