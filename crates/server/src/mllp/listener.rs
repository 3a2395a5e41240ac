//! Accept loop and one task per connection. Each connection reads a frame, hands the payload to
//! the feeds service, and writes back the ACK it returns, strictly one message at a time (MLLP
//! senders wait for the ACK before sending the next message, which is also what orders one
//! connection's messages). Any number of connections run concurrently.
//!
//! When the feeds service could not store a message it returns no ACK; the connection is then
//! closed so the sender retries rather than wait. A frame over the size limit, or a peer that
//! closes mid-frame, also closes the connection (nothing was acknowledged).
use lantern_feeds::{Disposition, Feeds, Route};
use lantern_hl7v2::mllp::{read_frame, write_frame, FrameDecoder, MllpError};
use tokio::net::{TcpListener, TcpStream};

/// Listener settings.
#[derive(Debug, Clone)]
pub struct MllpConfig {
    /// Which feed the listener serves: its own, or route by MSH-4.
    pub route: Route,
    /// Largest frame accepted, in bytes.
    pub max_frame: usize,
    /// Peers allowed to connect (empty: loopback only). A feed authenticates by where it
    /// connects from; anything else is closed before a byte is read.
    pub allow: Vec<ipnet::IpNet>,
}

impl Default for MllpConfig {
    fn default() -> Self {
        MllpConfig {
            route: Route::ByFacility,
            max_frame: lantern_hl7v2::mllp::DEFAULT_MAX_FRAME,
            allow: Vec::new(),
        }
    }
}

impl MllpConfig {
    pub fn admits(&self, peer: std::net::IpAddr) -> bool {
        if self.allow.is_empty() {
            return peer.is_loopback();
        }
        self.allow.iter().any(|n| n.contains(&peer))
    }
}

/// Parses an allow-list entry: an address (`10.1.2.3`) or a network (`10.1.0.0/16`).
pub fn parse_allow(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("'{s}' is not an IP address or CIDR network"))
}

/// Accepts connections on `listener` until the process ends.
pub async fn serve_mllp(listener: TcpListener, feeds: Feeds, cfg: MllpConfig) -> std::io::Result<()> {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("MLLP accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if !cfg.admits(peer.ip()) {
            tracing::warn!(%peer, "MLLP connection refused: the peer is not in this listener's allow list");
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let (feeds, cfg) = (feeds.clone(), cfg.clone());
        tokio::spawn(async move {
            if let Err(e) = connection(stream, &feeds, &cfg).await {
                tracing::info!(%peer, "MLLP connection closed: {e}");
            }
        });
    }
}

async fn connection(mut stream: TcpStream, feeds: &Feeds, cfg: &MllpConfig) -> Result<(), MllpError> {
    let mut decoder = FrameDecoder::new(cfg.max_frame);
    while let Some(frame) = read_frame(&mut stream, &mut decoder).await? {
        let done = feeds.ingest_v2(&frame.payload, &cfg.route).await;
        if done.disposition == Disposition::NotStored {
            return Err(MllpError::Io(std::io::Error::other(
                "message not stored; closing so the sender retries",
            )));
        }
        if let Some(ack) = done.ack {
            write_frame(&mut stream, &ack).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod allow_tests {
    use super::*;

    #[test]
    fn loopback_only_unless_allowed() {
        let mut cfg = MllpConfig::default();
        assert!(cfg.admits("127.0.0.1".parse().unwrap()));
        assert!(cfg.admits("::1".parse().unwrap()));
        assert!(!cfg.admits("10.1.2.3".parse().unwrap()));
        cfg.allow = vec![parse_allow("10.1.0.0/16").unwrap(), parse_allow("192.168.5.9").unwrap()];
        assert!(cfg.admits("10.1.2.3".parse().unwrap()));
        assert!(cfg.admits("192.168.5.9".parse().unwrap()));
        assert!(!cfg.admits("192.168.5.10".parse().unwrap()));
        assert!(!cfg.admits("127.0.0.1".parse().unwrap()));
        assert!(parse_allow("not-an-address").is_err());
    }
}
