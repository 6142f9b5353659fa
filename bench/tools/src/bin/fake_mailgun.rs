//! A fake Mailgun for benchmarks: accepts `POST /v3/{domain}/messages`,
//! answers 200 after a fixed delay, and counts what it accepted.
//!
//! fake_mailgun PORT DELAY_MS      GET /count -> number of messages accepted

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};

struct Fake {
    delay: Duration,
    accepted: AtomicU64,
}

async fn messages(fake: web::Data<Arc<Fake>>, _body: web::Bytes) -> HttpResponse {
    tokio::time::sleep(fake.delay).await;
    let n = fake.accepted.fetch_add(1, Ordering::Relaxed) + 1;
    HttpResponse::Ok()
        .json(serde_json::json!({"id": format!("<{n}@fake>"), "message": "Queued. Thank you."}))
}

async fn count(fake: web::Data<Arc<Fake>>) -> HttpResponse {
    HttpResponse::Ok().body(fake.accepted.load(Ordering::Relaxed).to_string())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|a| a.parse().ok()).unwrap_or(9900);
    let delay_ms: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let fake = Arc::new(Fake {
        delay: Duration::from_millis(delay_ms),
        accepted: AtomicU64::new(0),
    });
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(fake.clone()))
            .route("/v3/{domain}/messages", web::post().to(messages))
            .route("/count", web::get().to(count))
    })
    .workers(1)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
