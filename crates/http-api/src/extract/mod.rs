//! Request extractors: the JSON body, the bearer tokens and the client's
//! device.

mod bearer;
mod client_device;
pub(crate) mod field;
mod json_body;

pub(crate) use bearer::record_user;
pub use bearer::{
    AccessToken, FreshAccessToken, FreshLiveAccessToken, FreshLiveAccessTokenAnyLevel,
    LiveAccessToken, LiveAccessTokenAnyLevel, RefreshToken,
};
pub use client_device::Device;
pub use field::{Field, parsed};
pub use json_body::{BodyReadTimeout, JsonBody, MAX_BODY_BYTES, OptionalJsonBody};
