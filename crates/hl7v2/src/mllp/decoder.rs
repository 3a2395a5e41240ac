// Incremental MLLP frame decoding (MLLP Release 2, section "Block format"): bytes arrive in any
// chunking; several frames may share one read; bytes outside a frame are skipped and reported;
// a frame longer than the configured maximum is rejected rather than buffered forever.

use super::{CARRIAGE_RETURN, END_BLOCK, START_BLOCK};

/// Default largest payload accepted: 16 MiB (large enough for embedded PDFs in OBX-5).
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// What the decoder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeEvent {
    /// A complete payload (without framing bytes).
    Frame(Vec<u8>),
    /// This many bytes before a start block (or of an unterminated frame cut short by a new
    /// start block) were skipped.
    Skipped(usize),
    /// A frame grew past the limit; its bytes are being discarded up to its end block.
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for a start block.
    Idle,
    /// Inside a frame.
    InFrame,
    /// Inside an oversized frame, discarding until its end.
    Discarding,
}

/// An incremental MLLP decoder. Feed it bytes with [`FrameDecoder::push`], then drain events
/// with [`FrameDecoder::next_event`] until it returns `None`.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// How far `buf` has been examined (to avoid rescanning on every push).
    scanned: usize,
    state: State,
    max: usize,
    skipped: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(DEFAULT_MAX_FRAME)
    }
}

impl FrameDecoder {
    /// A decoder accepting payloads of at most `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        FrameDecoder { buf: Vec::new(), scanned: 0, state: State::Idle, max: max_frame.max(1), skipped: 0 }
    }

    /// Add bytes received from the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        match self.state {
            State::Idle if self.buf.is_empty() => {
                // Only bytes from the first start block on matter; count the rest as skipped.
                match bytes.iter().position(|&b| b == START_BLOCK) {
                    Some(i) => {
                        self.skipped += i;
                        self.buf.extend_from_slice(&bytes[i..]);
                    }
                    None => self.skipped += bytes.len(),
                }
            }
            State::Idle | State::InFrame => self.buf.extend_from_slice(bytes),
            State::Discarding => {
                // Keep only a possible trailing end block so FS/CR split across reads is seen.
                self.buf.extend_from_slice(bytes);
                let keep = self.buf.len().min(2);
                let drop = self.buf.len() - keep;
                self.discard_scan(drop);
            }
        }
    }

    /// True if no partial frame is buffered.
    pub fn is_idle(&self) -> bool {
        self.state == State::Idle && self.buf.is_empty()
    }

    /// Bytes buffered in an incomplete frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next event, or `None` when more bytes are needed.
    pub fn next_event(&mut self) -> Option<DecodeEvent> {
        loop {
            match self.state {
                State::Idle => {
                    let start = self.buf.iter().position(|&b| b == START_BLOCK);
                    match start {
                        Some(i) => {
                            self.skipped += i;
                            self.buf.drain(..=i);
                            self.scanned = 0;
                            self.state = State::InFrame;
                        }
                        None => {
                            self.skipped += self.buf.len();
                            self.buf.clear();
                        }
                    }
                    if self.skipped > 0 {
                        let n = std::mem::take(&mut self.skipped);
                        return Some(DecodeEvent::Skipped(n));
                    }
                    if self.state == State::Idle {
                        return None;
                    }
                }
                State::InFrame => return self.scan_frame(),
                State::Discarding => {
                    if self.discard_scan(self.buf.len()) {
                        continue;
                    }
                    return None;
                }
            }
        }
    }

    /// Look for the end of the current frame.
    fn scan_frame(&mut self) -> Option<DecodeEvent> {
        let from = self.scanned;
        let found =
            self.buf[from..].iter().position(|&b| b == END_BLOCK || b == START_BLOCK).map(|i| from + i);
        match found {
            Some(i) if self.buf[i] == START_BLOCK => {
                // A new frame starts before this one ended: drop the unterminated part.
                self.buf.drain(..=i);
                self.scanned = 0;
                Some(DecodeEvent::Skipped(i + 1))
            }
            Some(i) => {
                if i > self.max {
                    return Some(self.start_discarding());
                }
                // Need to see the byte after FS to know whether CR follows.
                if i + 1 >= self.buf.len() {
                    self.scanned = i;
                    return None;
                }
                let payload: Vec<u8> = self.buf[..i].to_vec();
                let consumed = if self.buf[i + 1] == CARRIAGE_RETURN { i + 2 } else { i + 1 };
                self.buf.drain(..consumed);
                self.scanned = 0;
                self.state = State::Idle;
                Some(DecodeEvent::Frame(payload))
            }
            None => {
                self.scanned = self.buf.len();
                if self.buf.len() > self.max {
                    return Some(self.start_discarding());
                }
                None
            }
        }
    }

    fn start_discarding(&mut self) -> DecodeEvent {
        self.state = State::Discarding;
        let n = self.buf.len();
        self.discard_scan(n);
        DecodeEvent::TooLarge { limit: self.max }
    }

    /// Discard up to `upto` bytes looking for the oversized frame's end block; returns true if
    /// it was found (state is then Idle and the rest of the buffer is kept).
    fn discard_scan(&mut self, upto: usize) -> bool {
        let upto = upto.min(self.buf.len());
        if let Some(i) = self.buf[..upto].iter().position(|&b| b == END_BLOCK) {
            let mut end = i + 1;
            if self.buf.get(end) == Some(&CARRIAGE_RETURN) {
                end += 1;
            }
            self.buf.drain(..end);
            self.state = State::Idle;
            self.scanned = 0;
            return true;
        }
        self.buf.drain(..upto);
        false
    }

    /// At end of input: report whatever partial frame is left as skipped.
    pub fn finish(&mut self) -> Option<DecodeEvent> {
        let n = self.buf.len() + std::mem::take(&mut self.skipped);
        self.buf.clear();
        self.scanned = 0;
        self.state = State::Idle;
        (n > 0).then_some(DecodeEvent::Skipped(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(d: &mut FrameDecoder) -> Vec<DecodeEvent> {
        std::iter::from_fn(|| d.next_event()).collect()
    }

    #[test]
    fn one_frame_in_pieces() {
        let mut d = FrameDecoder::default();
        let data = b"\x0bMSH|abc\x1c\x0d";
        for b in data.chunks(1) {
            d.push(b);
            let ev = drain(&mut d);
            if !ev.is_empty() {
                assert_eq!(ev, vec![DecodeEvent::Frame(b"MSH|abc".to_vec())]);
            }
        }
        assert!(d.is_idle());
    }

    #[test]
    fn several_frames_and_garbage() {
        let mut d = FrameDecoder::default();
        d.push(b"junk\x0bA\x1c\x0d\r\n\x0bB\x1c\x0d\x0bC");
        assert_eq!(
            drain(&mut d),
            vec![
                DecodeEvent::Skipped(4),
                DecodeEvent::Frame(b"A".to_vec()),
                DecodeEvent::Skipped(2),
                DecodeEvent::Frame(b"B".to_vec()),
            ]
        );
        d.push(b"\x1c\x0d");
        assert_eq!(drain(&mut d), vec![DecodeEvent::Frame(b"C".to_vec())]);
    }

    #[test]
    fn fs_without_cr_is_accepted() {
        let mut d = FrameDecoder::default();
        d.push(b"\x0bA\x1c\x0bB\x1c\x0d");
        assert_eq!(drain(&mut d), vec![DecodeEvent::Frame(b"A".to_vec()), DecodeEvent::Frame(b"B".to_vec())]);
    }

    #[test]
    fn restart_inside_frame_skips_partial() {
        let mut d = FrameDecoder::default();
        d.push(b"\x0bpartial\x0bwhole\x1c\x0d");
        assert_eq!(drain(&mut d), vec![DecodeEvent::Skipped(8), DecodeEvent::Frame(b"whole".to_vec())]);
    }

    #[test]
    fn oversized_frame_is_rejected_then_recovers() {
        let mut d = FrameDecoder::new(8);
        d.push(b"\x0b0123456789");
        assert_eq!(drain(&mut d), vec![DecodeEvent::TooLarge { limit: 8 }]);
        d.push(&[b'x'; 1000]);
        assert!(drain(&mut d).is_empty());
        assert!(d.buffered() <= 2);
        d.push(b"\x1c\x0d\x0bok\x1c\x0d");
        assert_eq!(drain(&mut d), vec![DecodeEvent::Frame(b"ok".to_vec())]);
    }

    #[test]
    fn finish_reports_leftovers() {
        let mut d = FrameDecoder::default();
        d.push(b"\x0bhalf");
        assert!(drain(&mut d).is_empty());
        assert_eq!(d.finish(), Some(DecodeEvent::Skipped(4)));
    }
}
