//! Durable before acknowledged, exactly once: `lantern serve` takes ADT A01s from several MLLP
//! connections and is killed with SIGKILL at a random moment. After a restart on the same data
//! directory every message is sent again (as senders re-send what was not acknowledged, and
//! some that was). Then every message — above all every one acknowledged before the kill — must
//! have been applied exactly once: one inbox row, one Patient, at version 1.
use lantern_hl7v2::mllp::{frame, FrameDecoder};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::Server;

const THREADS: usize = 6;
// Enough that the kill lands while ACKs are still being sent (the server acknowledges on
// receipt, thousands a second) or while its applier is still taking the queue in.
const PER_THREAD: usize = 1000;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts the server; its standard error goes to `log`.
fn start(data: &std::path::Path, mllp: u16, log: &std::path::Path) -> Server {
    let server = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["serve", "--data"])
        .arg(data)
        .args(["--http", &format!("127.0.0.1:{}", free_port()), "--mllp", &format!("127.0.0.1:{mllp}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    // Wrapped at once, so that a server that never starts is killed when the assert fails.
    let server = Server(server);
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", mllp)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(60), "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

fn message(id: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|PAS|KILLTEST|LANTERN|REGION|20240501100000||ADT^A01^ADT_A01|{id}|P|2.5.1\r\
         EVN|A01|20240501100000\r\
         PID|1||{id}^^^KILLTEST^MR||Test^Kill||19800101|F\r\
         PV1|1|I|W1^B1^1||||||||||||||||V{id}\r"
    )
    .into_bytes()
}

/// Sends one message and waits for its ACK; None if the connection failed.
fn send(s: &mut TcpStream, dec: &mut FrameDecoder, m: &[u8]) -> Option<String> {
    s.write_all(&frame(m)).ok()?;
    let mut buf = [0u8; 4096];
    loop {
        if let Some(lantern_hl7v2::mllp::DecodeEvent::Frame(p)) = dec.next_event() {
            return Some(String::from_utf8_lossy(&p).to_string());
        }
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        dec.push(&buf[..n]);
    }
}

fn is_aa(ack: &str) -> bool {
    ack.split('\r').any(|l| l.starts_with("MSA|AA|"))
}

#[test]
fn every_acknowledged_message_survives_kill_9_exactly_once() {
    let data = std::env::temp_dir().join(format!("lantern-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let port = free_port();
    let log = |n: u32| std::env::temp_dir().join(format!("lantern-kill9-{}-{n}.log", std::process::id()));
    let mut server = start(&data, port, &log(1));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut threads = Vec::new();
    for t in 0..THREADS {
        let acked = acked.clone();
        threads.push(std::thread::spawn(move || {
            let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return };
            let mut dec = FrameDecoder::default();
            for i in 0..PER_THREAD {
                let id = format!("K{t}-{i}");
                match send(&mut s, &mut dec, &message(&id)) {
                    Some(ack) if is_aa(&ack) => acked.lock().unwrap().push(id),
                    Some(ack) => panic!("{id}: {ack}"),
                    None => return,
                }
            }
        }));
    }
    // Kill at a pseudo-random moment while the senders are busy.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let delay = Duration::from_millis(300 + u64::from(nanos % 1200));
    std::thread::sleep(delay);
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    for t in threads {
        t.join().unwrap();
    }
    let acked_before: Vec<String> = acked.lock().unwrap().clone();
    println!("killed after {delay:?} with {} messages acknowledged", acked_before.len());
    assert!(!acked_before.is_empty(), "nothing was acknowledged before the kill; raise the delay");

    // Restart and send everything again from one connection per sender.
    let mut server = start(&data, port, &log(2));
    let mut threads = Vec::new();
    for t in 0..THREADS {
        threads.push(std::thread::spawn(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let mut dec = FrameDecoder::default();
            for i in 0..PER_THREAD {
                let id = format!("K{t}-{i}");
                let ack = send(&mut s, &mut dec, &message(&id)).expect("ACK after restart");
                assert!(is_aa(&ack), "{id}: {ack}");
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    // Beside the running server, which holds the audit journal: reading the dead letters
    // works; what would write an audit record is refused with the reason, not half done.
    let lantern = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lantern")).args(args).arg("--data").arg(&data).output().unwrap()
    };
    // The server acknowledges on receipt: wait for its applier to take in everything (what
    // was queued when it was killed was applied first, at start-up).
    let total = (THREADS * PER_THREAD) as i64;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let status = lantern(&["feeds", "status"]);
        let out = String::from_utf8_lossy(&status.stdout).to_string();
        if out.lines().any(|l| l == format!("processed: {total}")) {
            break;
        }
        if std::time::Instant::now() >= deadline
            || out.lines().any(|l| l.starts_with("dead: ") && l != "dead: 0")
        {
            let dead = lantern(&["feeds", "dead-letters"]);
            let logged: String = (1..=2)
                .map(|n| std::fs::read_to_string(log(n)).unwrap_or_default())
                .flat_map(|t| {
                    t.lines()
                        .filter(|l| l.contains("ERROR") || l.contains("WARN"))
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
                .join("\n");
            panic!(
                "the queue did not drain: {out}\ndead letters:\n{}{}\nthe servers' errors and warnings:\n{logged}",
                String::from_utf8_lossy(&dead.stdout),
                String::from_utf8_lossy(&dead.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let restarted = std::fs::read_to_string(log(2)).unwrap_or_default();
    let left =
        restarted.lines().find(|l| l.starts_with("Lantern: applying")).unwrap_or("nothing left in the queue");
    println!("at restart: {left}");
    let dead = lantern(&["feeds", "dead-letters"]);
    assert!(dead.status.success(), "{}", String::from_utf8_lossy(&dead.stderr));
    let replay = lantern(&["feeds", "replay", "1"]);
    assert!(!replay.status.success());
    assert!(
        String::from_utf8_lossy(&replay.stderr).contains("another Lantern process holds the audit journal")
    );
    let import = lantern(&["import", "/nonexistent.hl7"]);
    assert!(!import.status.success());
    assert!(
        String::from_utf8_lossy(&import.stderr).contains("another Lantern process holds the audit journal"),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    // Killed again with records still in the audit journal: the log verifies intact.
    let verify = lantern(&["audit", "verify"]);
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );

    // Count in the store itself.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (inbox, patients, max_ver, per_id) = rt.block_on(async {
        let backend = Arc::new(lantern_store_sqlite::SqliteBackend::in_dir(&data).unwrap());
        let store = lantern_store::Store::open(backend, Arc::new(lantern_store::SystemClock)).unwrap();
        store
            .with_reader(|c, _| {
                let inbox = c.query_int("SELECT COUNT(*) FROM inbox WHERE status = 'processed'", &[])?.unwrap_or(0);
                let patients = c.query_int(
                    "SELECT COUNT(*) FROM resource r JOIN rtype t ON t.id = r.type WHERE t.name = 'Patient'",
                    &[],
                )?;
                let max_ver = c.query_int(
                    "SELECT MAX(r.ver) FROM resource r JOIN rtype t ON t.id = r.type WHERE t.name IN ('Patient', 'Encounter')",
                    &[],
                )?;
                let mut per_id = std::collections::HashMap::new();
                c.query("SELECT control_id, COUNT(*) FROM inbox GROUP BY control_id", &[], &mut |r| {
                    per_id.insert(r.text(0)?.unwrap_or_default(), r.int(1)?.unwrap_or(0));
                    Ok(())
                })?;
                Ok((inbox, patients.unwrap_or(0), max_ver.unwrap_or(0), per_id))
            })
            .await
            .unwrap()
    });
    println!("after restart: {inbox} inbox rows processed, {patients} patients, highest version {max_ver}");
    for id in &acked_before {
        assert_eq!(per_id.get(id), Some(&1), "acknowledged message {id} is not recorded exactly once");
    }
    assert_eq!(inbox, total);
    assert_eq!(patients, total);
    assert_eq!(max_ver, 1, "a message was applied twice");
    let _ = std::fs::remove_dir_all(&data);
    let _ = (std::fs::remove_file(log(1)), std::fs::remove_file(log(2)));
}
