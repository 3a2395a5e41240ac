//! The real binary: `lantern serve --data TMP --http 127.0.0.1:PORT`, waited for on /health,
//! then driven over plain HTTP/1.1 and killed: one create and one read; a bulk export that
//! must outlive a restart. Plain std sockets, so the root package needs no HTTP client.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::Server;

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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `lantern token --data DATA --system`, and whether it made a new signing key.
fn system_token(data: &std::path::Path) -> (String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["token", "--data", data.to_str().unwrap(), "--system"])
        .output()
        .expect("lantern token");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The new key is announced on stderr (stdout holds only the token).
    let new_key = String::from_utf8_lossy(&out.stderr).contains("created a new signing key");
    (String::from_utf8(out.stdout).unwrap().trim().to_string(), new_key)
}

/// `lantern serve` on DATA and PORT, once it answers /health.
fn serve(data: &std::path::Path, port: u16) -> Server {
    serve_with(data, port, &[])
}

/// As [`serve`], with more arguments.
fn serve_with(data: &std::path::Path, port: u16, more: &[&str]) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["serve", "--data", data.to_str().unwrap(), "--http", &format!("127.0.0.1:{port}")])
        .args(more)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lantern serve");
    let server = Server(child);
    let started = Instant::now();
    loop {
        if let Ok((200, _, _)) = request(port, "GET", "/health", None, None) {
            return server;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "lantern serve did not answer /health");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn serve_create_read() {
    let port = free_port();
    let data = std::env::temp_dir().join(format!("lantern-serve-test-{}-{port}", std::process::id()));
    // `lantern token` makes the development issuer's key in the data directory and signs with it.
    let (token, new_key) = system_token(&data);
    assert!(new_key);
    let token = Some(token.as_str());
    let _server = serve(&data, port);
    let patient = r#"{"resourceType":"Patient","name":[{"family":"Binary"}]}"#;
    let (status, _, body) = request(port, "POST", "/fhir/Patient", Some(patient), None).unwrap();
    assert_eq!(status, 401, "without a token: {body}");
    let (status, head, body) = request(port, "POST", "/fhir/Patient", Some(patient), token).unwrap();
    assert_eq!(status, 201, "{head}\n{body}");
    let location = header(&head, "location").expect("Location header").to_string();
    let path = &location[location.find("/fhir/").unwrap()..location.find("/_history").unwrap()];
    let (status, _, body) = request(port, "GET", path, None, token).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("\"Binary\""), "{body}");
    drop(_server);
    let _ = std::fs::remove_dir_all(&data);
}

/// A finished bulk export is still offered after the server is killed and started again: a
/// client polling its status URL through a restart gets the same manifest and files.
#[test]
fn a_finished_export_survives_a_restart() {
    let port = free_port();
    let data = std::env::temp_dir().join(format!("lantern-export-restart-{}-{port}", std::process::id()));
    let (token, _) = system_token(&data);
    let token = Some(token.as_str());
    let server = serve(&data, port);
    let patient = r#"{"resourceType":"Patient","id":"kept","name":[{"family":"Restart"}]}"#;
    let (status, _, body) = request(port, "PUT", "/fhir/Patient/kept", Some(patient), token).unwrap();
    assert_eq!(status, 201, "{body}");
    let (status, head, body) =
        request(port, "GET", "/fhir/Patient/$export?_type=Patient", None, token).unwrap();
    assert_eq!(status, 202, "{head}\n{body}");
    let url = header(&head, "content-location").expect("Content-Location").to_string();
    let status_path = url[url.find("/fhir/").unwrap()..].to_string();
    let started = Instant::now();
    let manifest = loop {
        let (status, _, body) = request(port, "GET", &status_path, None, token).unwrap();
        if status == 200 {
            break body;
        }
        assert_eq!(status, 202, "{body}");
        assert!(started.elapsed() < Duration::from_secs(60), "the export did not finish");
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(server); // SIGKILL: nothing is written on the way out

    let port = free_port();
    let _server = serve(&data, port);
    let (status, _, again) = request(port, "GET", &status_path, None, token).unwrap();
    assert_eq!(status, 200, "{again}");
    let (a, b): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(&manifest).unwrap(), serde_json::from_str(&again).unwrap());
    assert_eq!(a["transactionTime"], b["transactionTime"]);
    assert_eq!(a["output"].as_array().map(Vec::len), Some(1), "{manifest}");
    let file = a["output"][0]["url"].as_str().unwrap();
    assert_eq!(
        b["output"][0]["url"].as_str().map(|u| &u[u.find("/fhir/").unwrap()..]),
        Some(&file[file.find("/fhir/").unwrap()..])
    );
    let (status, _, ndjson) =
        request(port, "GET", &file[file.find("/fhir/").unwrap()..], None, token).unwrap();
    assert_eq!(status, 200, "{ndjson}");
    assert!(ndjson.contains("\"Restart\""), "{ndjson}");
    drop(_server);
    let _ = std::fs::remove_dir_all(&data);
}

/// With `--cors-origin`, a browser app from that origin gets its preflight answered without a
/// token (browsers send none with it), the CapabilityStatement says so, and the request itself
/// is still refused without a token; another origin gets no permission.
#[test]
fn cross_origin_requests_from_a_named_origin() {
    let port = free_port();
    let data = std::env::temp_dir().join(format!("lantern-cors-{}-{port}", std::process::id()));
    let (token, _) = system_token(&data);
    let _server = serve_with(&data, port, &["--cors-origin", "https://app.example.org"]);
    let preflight = |origin: &str| {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "OPTIONS /fhir/Patient HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nOrigin: {origin}\r\n\
             Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let answer = preflight("https://app.example.org");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(header(&answer, "access-control-allow-origin"), Some("https://app.example.org"), "{answer}");
    let other = preflight("https://elsewhere.example");
    assert_eq!(header(&other, "access-control-allow-origin"), None, "{other}");
    let (_, _, cs) = request(port, "GET", "/fhir/metadata", None, None).unwrap();
    assert!(cs.contains("\"cors\":true"), "the CapabilityStatement says so");
    let (status, _, _) = request(port, "GET", "/fhir/Patient", None, None).unwrap();
    assert_eq!(status, 401, "the request itself still needs a token");
    let (status, _, _) = request(port, "GET", "/fhir/Patient", None, Some(&token)).unwrap();
    assert_eq!(status, 200);
    drop(_server);
    let _ = std::fs::remove_dir_all(&data);
}

/// A one-request HTTP endpoint: answers 200 to the first request and hands over its request
/// line and body.
fn one_request_endpoint() -> (u16, std::sync::mpsc::Receiver<(String, String)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        // Headers, then as many body bytes as Content-Length says.
        let (head, body_at) = loop {
            let n = s.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                break (String::from_utf8_lossy(&got[..i]).to_string(), i + 4);
            }
            assert!(n > 0, "the request ended early");
        };
        let length: usize = header(&head, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        while got.len() < body_at + length {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "the body ended early");
            got.extend_from_slice(&buf[..n]);
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        let line = head.lines().next().unwrap_or("").to_string();
        let _ = tx.send((line, String::from_utf8_lossy(&got[body_at..body_at + length]).to_string()));
    });
    (port, rx)
}

/// What `lantern serve` runs beside the API: a Subscription made over HTTP is activated, and
/// an admission that arrives as an HL7 v2 ADT A01 over MLLP is sent to its endpoint.
#[test]
fn a_subscription_hears_of_an_admission_sent_over_mllp() {
    let (port, mllp) = (free_port(), free_port());
    let data = std::env::temp_dir().join(format!("lantern-notify-{}-{port}", std::process::id()));
    let (token, _) = system_token(&data);
    let token = Some(token.as_str());
    let _server = serve_with(&data, port, &["--mllp", &format!("127.0.0.1:{mllp}")]);
    let (hook, received) = one_request_endpoint();
    let subscription = format!(
        r#"{{"resourceType":"Subscription","status":"requested","reason":"admissions","criteria":"Encounter?class=IMP",
            "channel":{{"type":"rest-hook","endpoint":"http://127.0.0.1:{hook}/hook","payload":"application/fhir+json"}}}}"#
    );
    let (status, head, body) =
        request(port, "POST", "/fhir/Subscription", Some(&subscription), token).unwrap();
    assert_eq!(status, 201, "{body}");
    let location = header(&head, "location").unwrap();
    let path = &location[location.find("/fhir/").unwrap()..location.find("/_history").unwrap()];
    let started = Instant::now();
    while !request(port, "GET", path, None, token).unwrap().2.contains(r#""status":"active""#) {
        assert!(started.elapsed() < Duration::from_secs(30), "the Subscription was not activated");
        std::thread::sleep(Duration::from_millis(100));
    }
    let adt = "MSH|^~\\&|PAS|RVJ|LANTERN|REGION|20240501100000||ADT^A01^ADT_A01|NOTIFY1|P|2.5.1\r\
               EVN|A01|20240501100000\r\
               PID|1||N1^^^RVJ^MR||Admitted^Ada||19800101|F\r\
               PV1|1|I|W1^B1^1||||||||||||||||VN1\r";
    let mut s = TcpStream::connect(("127.0.0.1", mllp)).unwrap();
    s.write_all(&lantern_hl7v2::mllp::frame(adt.as_bytes())).unwrap();
    let mut ack = [0u8; 1024];
    let n = s.read(&mut ack).unwrap();
    assert!(
        String::from_utf8_lossy(&ack[..n]).contains("MSA|AA|NOTIFY1"),
        "{}",
        String::from_utf8_lossy(&ack[..n])
    );
    let (line, sent) = received.recv_timeout(Duration::from_secs(30)).expect("no notification arrived");
    assert!(line.starts_with("PUT /hook/Encounter/"), "{line}");
    assert!(sent.contains(r#""code":"IMP""#) && sent.contains("Patient/"), "{sent}");
    drop(_server);
    let _ = std::fs::remove_dir_all(&data);
}
