//! The HTTP edge: actix-web routes, extractors, the error envelope and the
//! OpenAPI document.

pub mod client_ip;
pub mod cors;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pages;
pub mod rate_limit;
pub mod routes;
pub mod server;
pub mod state;
pub mod swagger_ui;

pub use actix_web::dev::{Server, ServerHandle};
pub use error::ApiError;
pub use metrics::serve_metrics;
pub use server::{ServerSettings, serve};
pub use state::{AppState, Discovery};
