//! A small MLLP client (HL7 v2 MLLP Release 1 framing): send one message, wait for its ACK,
//! report MSA-1 and, when it is not AA, the ACK's ERR text (which names fields, not patient data).
use lantern_hl7v2::mllp::{read_frame, write_frame, FrameDecoder};
use tokio::net::TcpStream;

pub(super) struct Client {
    stream: TcpStream,
    decoder: FrameDecoder,
}

/// MSA-1 of an acknowledgement, and the ERR segments' texts if any.
pub(super) fn ack_code(ack: &[u8]) -> (String, String) {
    let (msg, _) = lantern_hl7v2::parse(ack);
    let code = msg.segment("MSA").map(|s| s.value(1).to_string()).unwrap_or_default();
    let errors: Vec<String> = msg
        .segments_named("ERR")
        .map(|e| if e.value(8).is_empty() { e.value(1).to_string() } else { e.value(8).to_string() })
        .collect();
    (code, errors.join("; "))
}

impl Client {
    pub(super) async fn connect(addr: std::net::SocketAddr) -> std::io::Result<Client> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Client { stream, decoder: FrameDecoder::default() })
    }

    /// Sends one message and returns its acknowledgement's payload.
    pub(super) async fn send(&mut self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        write_frame(&mut self.stream, message).await?;
        match read_frame(&mut self.stream, &mut self.decoder).await? {
            Some(f) => Ok(f.payload),
            None => anyhow::bail!("the MLLP connection closed before the ACK"),
        }
    }
}
