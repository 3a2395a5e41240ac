//! The real binary: `lantern serve --data TMP --http 127.0.0.1:PORT`, waited for on /health,
//! then one create and one read over plain HTTP/1.1, then killed. Uses only std so the root
//! package needs no extra test dependencies.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends one request and returns (status, headers, body).
fn request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> std::io::Result<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{auth}Content-Type: application/fhir+json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let (head, rest) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, head.to_string(), rest.to_string()))
}

#[test]
fn serve_create_read() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let data = std::env::temp_dir().join(format!("lantern-serve-test-{}-{port}", std::process::id()));
    // `lantern token` makes the development issuer's key in the data directory and signs with it.
    let out = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["token", "--data", data.to_str().unwrap(), "--system"])
        .output()
        .expect("lantern token");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The new key is announced on stderr (stdout holds only the token).
    assert!(String::from_utf8_lossy(&out.stderr).contains("created a new signing key"));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let token = Some(token.as_str());
    let child = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["serve", "--data", data.to_str().unwrap(), "--http", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lantern serve");
    let _server = Server(child);
    let started = Instant::now();
    loop {
        if let Ok((200, _, _)) = request(port, "GET", "/health", None, None) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "lantern serve did not answer /health");
        std::thread::sleep(Duration::from_millis(100));
    }
    let patient = r#"{"resourceType":"Patient","name":[{"family":"Binary"}]}"#;
    let (status, _, body) = request(port, "POST", "/fhir/Patient", Some(patient), None).unwrap();
    assert_eq!(status, 401, "without a token: {body}");
    let (status, head, body) = request(port, "POST", "/fhir/Patient", Some(patient), token).unwrap();
    assert_eq!(status, 201, "{head}\n{body}");
    let location = head
        .lines()
        .find_map(|l| l.strip_prefix("location: ").or_else(|| l.strip_prefix("Location: ")))
        .expect("Location header")
        .to_string();
    let path = &location[location.find("/fhir/").unwrap()..location.find("/_history").unwrap()];
    let (status, _, body) = request(port, "GET", path, None, token).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("\"Binary\""), "{body}");
    drop(_server);
    let _ = std::fs::remove_dir_all(&data);
}
