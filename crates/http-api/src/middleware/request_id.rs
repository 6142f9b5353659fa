use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use uuid::Uuid;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request: the caller's when sane, else a new one.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn is_sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Gives every request an id, and echoes it on every response.
pub async fn request_id(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_sane(id))
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    // Handlers and extractors turn their errors into responses, so the
    // inner service fails only on a broken app; the id is lost then.
    let mut response = next.call(request).await?;
    // `is_sane` admits only visible ASCII, which is always a valid header.
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    Ok(response)
}

/// tracing-actix-web's root span, carrying our request id.
pub struct RequestIdRootSpan;

impl RootSpanBuilder for RequestIdRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        // Built by hand rather than with `root_span!`, which adds its own
        // `request_id` (a fresh UUID) that would contradict the header.
        let route = request.match_pattern().unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %request.path(),
            request_id = %id,
            // Recorded once the caller is known (token check, login).
            user_id = tracing::field::Empty,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        // A refusal (4xx) is the API doing its job: it shows in the span's
        // close line (status, error), at INFO, and nowhere at WARN (the
        // crate's `emit_event_on_error` is off). 5xx and outages are logged
        // where they are made, with their cause (`ApiError::error_response`).
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use actix_web::test::{TestRequest, call_service, init_service};
    use actix_web::{App, HttpRequest, HttpResponse, web};
    use domain::UserId;
    use tracing_actix_web::TracingLogger;

    use super::*;
    use crate::error::ApiError;
    use crate::extract::record_user;

    /// Log output kept in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn every_line_of_a_request_names_its_user_once_known() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let app = init_service(
            App::new()
                .wrap(TracingLogger::<RequestIdRootSpan>::new())
                .route(
                    "/me",
                    web::get().to(|request: HttpRequest| async move {
                        record_user(&request, UserId::new(42));
                        tracing::info!("handled");
                        HttpResponse::Ok().finish()
                    }),
                ),
        )
        .await;
        call_service(&app, TestRequest::get().uri("/me").to_request()).await;
        let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line = logs.lines().find(|line| line.contains("handled")).unwrap();
        assert!(line.contains("user_id=42"), "{line}");
    }

    #[actix_web::test]
    async fn a_refusal_is_never_logged_as_a_warning() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let app = init_service(
            App::new()
                .wrap(TracingLogger::<RequestIdRootSpan>::new())
                .route(
                    "/me",
                    web::get().to(|| async { Err::<HttpResponse, _>(ApiError::NotFound) }),
                ),
        )
        .await;
        let response = call_service(&app, TestRequest::get().uri("/me").to_request()).await;
        assert_eq!(response.status(), actix_web::http::StatusCode::NOT_FOUND);
        // The span closes once the body has gone out.
        actix_web::test::read_body(response).await;
        let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(!logs.contains("WARN"), "{logs}");
        let closed: Vec<_> = logs.lines().filter(|line| line.contains("close")).collect();
        assert_eq!(closed.len(), 1, "{logs}");
        assert!(closed[0].contains(" INFO "), "{}", closed[0]);
        assert!(closed[0].contains("http.status_code=404"), "{}", closed[0]);
    }

    #[test]
    fn accepts_only_short_plain_ids() {
        assert!(is_sane("abc-123_x.y"));
        assert!(is_sane(&"a".repeat(128)));
        assert!(!is_sane(&"a".repeat(129)));
        assert!(!is_sane(""));
        assert!(!is_sane("a b"));
        assert!(!is_sane("a\u{e9}"));
        assert!(!is_sane("<script>"));
    }
}
