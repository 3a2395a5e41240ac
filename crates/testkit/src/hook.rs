//! A notification receiver for tests: an HTTP endpoint on a free port that keeps every request
//! it receives and answers 200, or 500 for paths under `/fail`.
use std::sync::{Arc, Mutex};

/// One request received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: String,
}

/// What the receiver has got so far.
pub type Inbox = Arc<Mutex<Vec<Received>>>;

/// Starts a receiver; returns its base URL (`http://127.0.0.1:PORT`) and its inbox.
pub async fn receiver() -> (String, Inbox) {
    let got: Inbox = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let keep = keep.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, 16 << 20).await.unwrap_or_default();
            let path = parts.uri.path().to_string();
            let failing = path.starts_with("/fail");
            keep.lock().expect("inbox").push(Received {
                method: parts.method.to_string(),
                path,
                authorization: parts
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(String::from),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
            if failing {
                axum::http::StatusCode::INTERNAL_SERVER_ERROR
            } else {
                axum::http::StatusCode::OK
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), got)
}
