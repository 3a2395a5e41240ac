//! The receive queue's file: messages accepted before they are applied, one frame each.
//!
//! A feed that acknowledges on receipt (see [`crate::queue`]) writes each message here with one
//! `write()` before its ACK goes out, and the applier takes it into the store afterwards. The
//! file is what makes "acknowledged" mean "will be applied": after a crash every frame in it
//! is applied again at start-up, and the inbox's key (feed, control id, content hash) turns
//! those already applied into no-ops, so each is applied exactly once.
//!
//! Why a file of its own and not an inbox row: a row would be written by the store's single
//! writer, so every ACK would wait for a group commit behind the apply work of earlier
//! messages; an append here costs a few microseconds on the connection's own task. A
//! `write()` that has returned is in the OS page cache and survives the process being
//! killed, which is the durability SQLite gives a commit with `synchronous = NORMAL`; with
//! `sync` set each append is also `fdatasync`ed, which survives power loss.
//!
//! Frame: `LEN u32 LE | CRC32 u32 LE | PAYLOAD` where PAYLOAD is
//! `FEED_LEN u16 LE | FEED | RECEIVED i64 LE | RAW`. Only the last frame can be torn by a
//! crash (appends are sequential); it was never acknowledged, so it is cut off at start-up.
//! A bad frame before the end is damage, not a crash, and start-up refuses rather than guess.
//!
//! The queue is one process's: [`QueueLock`] holds an exclusive lock on `PATH.lock` while it is
//! open. It has at most two segments, the file at `PATH` and one set aside at [`older_path`]
//! (see `crate::queue`); start-up reads the set-aside one first.
//!
//! Hand-written because the format is twenty lines and no crate offers an append-only,
//! checksummed record file with this crash contract.
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The queue's file name inside the data directory.
pub const QUEUE_FILE: &str = "feeds.queue";

const HEADER: usize = 8;
/// Larger frames are damage: no HL7 v2 message (MLLP frames are capped well below) is 256 MiB.
const MAX_PAYLOAD: usize = 256 << 20;

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub feed: String,
    /// Microseconds since the epoch, when it was received.
    pub received: i64,
    pub raw: Vec<u8>,
}

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        let feed = self.feed.as_bytes();
        let feed = &feed[..feed.len().min(u16::MAX as usize)];
        let mut payload = Vec::with_capacity(2 + feed.len() + 8 + self.raw.len());
        payload.extend_from_slice(&(feed.len() as u16).to_le_bytes());
        payload.extend_from_slice(feed);
        payload.extend_from_slice(&self.received.to_le_bytes());
        payload.extend_from_slice(&self.raw);
        let mut out = Vec::with_capacity(HEADER + payload.len());
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }
}

/// What reading a queue file found.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    pub frames: Vec<Frame>,
    /// Bytes of whole, intact frames from the start.
    pub good: usize,
    /// Why decoding stopped before the end, if it did.
    pub stopped: Option<String>,
}

/// Decodes frames from the start of `bytes` until the end or the first frame that is
/// incomplete or fails its checksum. Never panics, whatever the bytes.
pub fn decode(bytes: &[u8]) -> Decoded {
    let mut frames = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < HEADER {
            return Decoded {
                stopped: Some(format!("incomplete frame header at byte {at}")),
                frames,
                good: at,
            };
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len > MAX_PAYLOAD || rest.len() - HEADER < len {
            return Decoded { stopped: Some(format!("incomplete frame at byte {at}")), frames, good: at };
        }
        let payload = &rest[HEADER..HEADER + len];
        if crc32fast::hash(payload) != crc {
            return Decoded {
                stopped: Some(format!("checksum mismatch in the frame at byte {at}")),
                frames,
                good: at,
            };
        }
        match parse_payload(payload) {
            Some(f) => frames.push(f),
            None => {
                return Decoded { stopped: Some(format!("malformed frame at byte {at}")), frames, good: at }
            }
        }
        at += HEADER + len;
    }
    Decoded { frames, good: at, stopped: None }
}

fn parse_payload(p: &[u8]) -> Option<Frame> {
    let n = u16::from_le_bytes([*p.first()?, *p.get(1)?]) as usize;
    let feed = std::str::from_utf8(p.get(2..2 + n)?).ok()?.to_string();
    let t = p.get(2 + n..10 + n)?;
    let received = i64::from_le_bytes(t.try_into().ok()?);
    Some(Frame { feed, received, raw: p[10 + n..].to_vec() })
}

/// The open queue file, held exclusively by this process.
pub struct QueueFile {
    path: PathBuf,
    file: File,
    len: u64,
    sync: bool,
}

/// Why the queue file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum QueueFileError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(
        "another Lantern process holds the feeds queue {0} (a server running on this data \
         directory?): stop it first"
    )]
    Held(String),
    #[error(
        "the feeds queue {path} is damaged ({why}) before its last frame; it holds acknowledged \
         messages, so Lantern will not start over it: move it aside and replay what it holds"
    )]
    Damaged { path: String, why: String },
}

/// The exclusive lock on a queue (`PATH.lock`), held while the queue is open. A lock file of
/// its own, because the queue's segments are renamed and replaced under it.
pub struct QueueLock {
    _file: File,
}

impl QueueLock {
    pub fn take(path: &Path) -> Result<QueueLock, QueueFileError> {
        let lock_path = lock_path(path);
        let io = |source| QueueFileError::Io { path: lock_path.display().to_string(), source };
        let file =
            OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(QueueLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(QueueFileError::Held(path.display().to_string())),
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// The older segment of the queue at `path`: the file it was renamed to when it grew past its
/// bound while messages in it were still unapplied (see `crate::queue`).
pub fn older_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".older");
    PathBuf::from(p)
}

impl QueueFile {
    /// Opens (creating) the segment at `path` and returns it with the frames it holds, oldest
    /// first. A torn last frame is cut off; damage before it is an error. The caller holds
    /// the queue's [`QueueLock`].
    pub fn open(path: &Path, sync: bool) -> Result<(QueueFile, Vec<Frame>), QueueFileError> {
        let io = |source| QueueFileError::Io { path: path.display().to_string(), source };
        let mut file =
            OpenOptions::new().create(true).truncate(false).read(true).write(true).open(path).map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let d = decode(&bytes);
        if let Some(why) = &d.stopped {
            if !tail_is_torn(&bytes[d.good..]) {
                return Err(QueueFileError::Damaged { path: path.display().to_string(), why: why.clone() });
            }
            tracing::warn!(path = %path.display(), "cutting off an incomplete last frame ({why}): it was never acknowledged");
            file.set_len(d.good as u64).map_err(io)?;
        }
        file.seek(SeekFrom::Start(d.good as u64)).map_err(io)?;
        Ok((QueueFile { path: path.to_path_buf(), file, len: d.good as u64, sync }, d.frames))
    }

    /// Renames this segment to `to` and starts a new, empty one at its old path.
    pub fn rotate(&mut self, to: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, to)?;
        let file = OpenOptions::new().create(true).truncate(true).read(true).write(true).open(&self.path)?;
        if self.sync {
            if let Some(dir) = self.path.parent() {
                File::open(dir)?.sync_all()?;
            }
        }
        self.file = file;
        self.len = 0;
        Ok(())
    }

    /// Appends one frame; when this returns, the frame survives the process being killed.
    pub fn append(&mut self, frame: &Frame) -> std::io::Result<()> {
        let bytes = frame.encode();
        if let Err(e) = self.file.write_all(&bytes) {
            // A partial write would leave a torn frame mid-file once later appends follow it.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(e);
        }
        // Counted before the sync: the bytes are in the file even if the sync fails, and a
        // later failed append must cut back to the end of this frame, not into it.
        self.len += bytes.len() as u64;
        if self.sync {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Empties the file (every frame in it has been applied).
    pub fn clear(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        if self.sync {
            self.file.sync_data()?;
        }
        self.len = 0;
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Whether the bytes after the last good frame are what an interrupted append leaves: one
/// frame, cut short. A complete frame with a bad checksum, or a short frame followed by more
/// bytes than it claims, is damage.
fn tail_is_torn(rest: &[u8]) -> bool {
    if rest.len() < HEADER {
        return true;
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    rest.len() - HEADER < len
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(n: u8) -> Frame {
        Frame {
            feed: format!("feed-{n}"),
            received: 1_700_000_000_000_000 + n as i64,
            raw: vec![b'M', n, b'\r'],
        }
    }

    #[test]
    fn frames_round_trip() {
        let mut bytes = Vec::new();
        for n in 0..5 {
            bytes.extend(frame(n).encode());
        }
        let d = decode(&bytes);
        assert_eq!(d.frames, (0..5).map(frame).collect::<Vec<_>>());
        assert_eq!((d.good, d.stopped), (bytes.len(), None));
    }

    #[test]
    fn a_torn_last_frame_is_cut_off_and_appends_follow_the_good_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(QUEUE_FILE);
        let mut bytes = frame(1).encode();
        let second = frame(2).encode();
        bytes.extend(&second[..second.len() - 2]);
        std::fs::write(&path, &bytes).unwrap();
        let (mut q, frames) = QueueFile::open(&path, false).unwrap();
        assert_eq!(frames, vec![frame(1)]);
        q.append(&frame(3)).unwrap();
        drop(q);
        let (_, frames) = QueueFile::open(&path, false).unwrap();
        assert_eq!(frames, vec![frame(1), frame(3)]);
    }

    #[test]
    fn damage_before_the_end_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(QUEUE_FILE);
        let mut bytes = frame(1).encode();
        bytes[HEADER + 3] ^= 0xff;
        bytes.extend(frame(2).encode());
        std::fs::write(&path, &bytes).unwrap();
        let e = QueueFile::open(&path, false).err().expect("damaged");
        assert!(matches!(e, QueueFileError::Damaged { .. }), "{e}");
        assert!(e.to_string().contains("checksum mismatch in the frame at byte 0"), "{e}");
    }

    #[test]
    fn a_second_holder_is_refused_and_clear_and_rotate_start_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(QUEUE_FILE);
        let _lock = QueueLock::take(&path).unwrap();
        assert!(matches!(QueueLock::take(&path), Err(QueueFileError::Held(_))));
        let (mut q, _) = QueueFile::open(&path, true).unwrap();
        q.append(&frame(1)).unwrap();
        q.clear().unwrap();
        q.append(&frame(2)).unwrap();
        assert_eq!(decode(&std::fs::read(&path).unwrap()).frames, vec![frame(2)]);
        q.rotate(&older_path(&path)).unwrap();
        q.append(&frame(3)).unwrap();
        assert_eq!(decode(&std::fs::read(older_path(&path)).unwrap()).frames, vec![frame(2)]);
        assert_eq!(decode(&std::fs::read(&path).unwrap()).frames, vec![frame(3)]);
    }

    proptest! {
        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let d = decode(&bytes);
            prop_assert!(d.good <= bytes.len());
        }

        #[test]
        fn any_prefix_of_good_frames_keeps_the_whole_ones(
            raws in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..6),
            cut in 0usize..400,
        ) {
            let frames: Vec<Frame> = raws.into_iter().enumerate()
                .map(|(i, raw)| Frame { feed: format!("f{i}"), received: i as i64, raw }).collect();
            let bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
            let cut = cut.min(bytes.len());
            let d = decode(&bytes[..cut]);
            prop_assert!(frames.starts_with(&d.frames));
            prop_assert!(d.stopped.is_none() || tail_is_torn(&bytes[d.good..cut]));
        }
    }
}
