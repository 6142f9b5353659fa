use super::*;

fn body(response: HttpResponse) -> String {
    let bytes = actix_web::body::to_bytes(response.into_body());
    let bytes = futures_util::FutureExt::now_or_never(bytes)
        .unwrap()
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn every_page_renders_with_its_headers() {
    let pages = Pages::new(8).unwrap();
    for page in Page::ALL {
        let response = pages.page(page);
        assert_eq!(response.status(), StatusCode::OK, "{page:?}");
        let headers = response.headers();
        assert_eq!(
            headers.get(CONTENT_SECURITY_POLICY).unwrap(),
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        );
        assert_eq!(headers.get(REFERRER_POLICY).unwrap(), "no-referrer");
        assert_eq!(headers.get(CACHE_CONTROL).unwrap(), "no-store");
        let html = body(response);
        assert!(
            html.contains(&format!("data-page=\"{}\"", page.name())),
            "{html}"
        );
        assert!(
            html.contains(&format!("action=\"{}\"", page.form_path())),
            "{html}"
        );
        assert!(html.contains("role=\"status\""), "{html}");
    }
}

#[test]
fn every_input_has_a_label_and_nothing_is_inline() {
    let pages = Pages::new(8).unwrap();
    for page in Page::ALL {
        let html = body(pages.page(page));
        for (at, _) in html.match_indices("<input ") {
            let tag = &html[at..at + html[at..].find('>').unwrap()];
            let id = tag
                .split("id=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            assert!(
                html.contains(&format!("<label for=\"{id}\">")),
                "{page:?} {id}"
            );
            assert!(tag.contains("autocomplete="), "{page:?} {tag}");
        }
        assert!(!html.contains("style="), "{page:?}");
        assert!(!html.contains("<style"), "{page:?}");
        assert!(!html.contains("<script>"), "{page:?}");
        assert!(!html.contains(" on"), "{page:?}: an inline handler?");
        assert!(!html.contains("http"), "{page:?}: an external asset?");
    }
}

#[test]
fn an_outcome_keeps_its_status_and_escapes_its_message() {
    let pages = Pages::new(8).unwrap();
    let response = pages.outcome(Page::ResetPassword, &Outcome::invalid("<b>short</b>"));
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.headers().get(CONTENT_SECURITY_POLICY).is_some());
    let html = body(response);
    assert!(
        html.contains("&lt;b&gt;short&lt;&#x2F;b&gt;") || html.contains("&lt;b&gt;short"),
        "{html}"
    );
    assert!(html.contains("href=\"/reset-password\""), "{html}");
}
