// MLLP — the Minimal Lower Layer Protocol of HL7 v2 Transport Specification (MLLP Release 2,
// HL7 v2.x implementation guide appendix C): each message is framed as
// <VT 0x0B> payload <FS 0x1C><CR 0x0D>. This module frames and unframes bytes; the listener,
// durable inbox and ACK policy belong to the server crate.

mod decoder;
mod io;

pub use decoder::{DecodeEvent, FrameDecoder, DEFAULT_MAX_FRAME};
pub use io::{frame, read_frame, write_frame, Frame, MllpError};

/// Start block (VT).
pub const START_BLOCK: u8 = 0x0B;
/// End block (FS).
pub const END_BLOCK: u8 = 0x1C;
/// Carriage return that follows the end block.
pub const CARRIAGE_RETURN: u8 = 0x0D;
