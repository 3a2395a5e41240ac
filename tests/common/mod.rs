//! What the end-to-end tests of the binary share.
use std::process::Child;

/// A `lantern serve` child process, killed and reaped when dropped, so that a failing test
/// (a panic unwinds through it) leaves no server running to slow the tests after it.
pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
