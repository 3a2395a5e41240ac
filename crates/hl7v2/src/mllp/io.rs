// Async MLLP reading and writing over tokio streams (MLLP Release 2 block format). The caller
// owns the connection and the decoder, so one decoder survives across frames on a connection.

use super::decoder::{DecodeEvent, FrameDecoder};
use super::{CARRIAGE_RETURN, END_BLOCK, START_BLOCK};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The payload between the start and end blocks.
    pub payload: Vec<u8>,
    /// Bytes skipped on the connection since the previous frame (garbage, broken frames).
    pub skipped: usize,
}

/// Errors reading MLLP.
#[derive(Debug, thiserror::Error)]
pub enum MllpError {
    /// A frame exceeded the maximum size; the connection should be answered and closed.
    #[error("MLLP frame larger than the {limit}-byte limit")]
    FrameTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed inside an MLLP frame ({buffered} bytes buffered)")]
    UnexpectedEof {
        /// Bytes of the incomplete frame.
        buffered: usize,
    },
    /// The underlying stream failed.
    #[error("MLLP i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Read the next frame. `Ok(None)` means the peer closed the connection cleanly between frames.
pub async fn read_frame<R>(reader: &mut R, decoder: &mut FrameDecoder) -> Result<Option<Frame>, MllpError>
where
    R: AsyncRead + Unpin,
{
    let mut skipped = 0usize;
    let mut chunk = vec![0u8; 8192];
    loop {
        while let Some(event) = decoder.next_event() {
            match event {
                DecodeEvent::Frame(payload) => return Ok(Some(Frame { payload, skipped })),
                DecodeEvent::Skipped(n) => skipped += n,
                DecodeEvent::TooLarge { limit } => return Err(MllpError::FrameTooLarge { limit }),
            }
        }
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            let buffered = decoder.buffered();
            decoder.finish();
            return if buffered > 0 { Err(MllpError::UnexpectedEof { buffered }) } else { Ok(None) };
        }
        decoder.push(&chunk[..n]);
    }
}

/// Frame a payload: VT payload FS CR.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 3);
    out.push(START_BLOCK);
    out.extend_from_slice(payload);
    out.push(END_BLOCK);
    out.push(CARRIAGE_RETURN);
    out
}

/// Write one framed payload and flush.
pub async fn write_frame<W>(writer: &mut W, payload: &[u8]) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    writer.write_all(&frame(payload)).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_over_a_duplex_stream() {
        let (mut a, mut b) = tokio::io::duplex(16);
        let writer = tokio::spawn(async move {
            write_frame(&mut a, b"MSH|first").await.unwrap();
            a.write_all(b"noise").await.unwrap();
            write_frame(&mut a, b"MSH|second").await.unwrap();
        });
        let mut dec = FrameDecoder::default();
        let f1 = read_frame(&mut b, &mut dec).await.unwrap().unwrap();
        assert_eq!(f1, Frame { payload: b"MSH|first".to_vec(), skipped: 0 });
        let f2 = read_frame(&mut b, &mut dec).await.unwrap().unwrap();
        assert_eq!(f2, Frame { payload: b"MSH|second".to_vec(), skipped: 5 });
        writer.await.unwrap();
        assert!(read_frame(&mut b, &mut dec).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn too_large_and_eof_errors() {
        let data = frame(&[b'x'; 100]);
        let mut dec = FrameDecoder::new(10);
        let err = read_frame(&mut &data[..], &mut dec).await.unwrap_err();
        assert!(matches!(err, MllpError::FrameTooLarge { limit: 10 }));

        let mut dec = FrameDecoder::default();
        let err = read_frame(&mut &b"\x0bhalf a mess"[..], &mut dec).await.unwrap_err();
        assert!(matches!(err, MllpError::UnexpectedEof { buffered: 11 }));
    }
}
