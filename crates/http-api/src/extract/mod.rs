//! Request extractors: the JSON body and the bearer tokens.

mod bearer;
pub(crate) mod field;
mod json_body;

pub use bearer::{AccessToken, FreshAccessToken, RefreshToken};
pub use field::Field;
pub use json_body::{BodyReadTimeout, JsonBody, MAX_BODY_BYTES};
