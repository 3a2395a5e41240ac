//! A small pool of reader connections. Both drivers' connections are synchronous; reads run on
//! tokio's blocking threads, each borrowing a connection for the duration of one request.
use crate::conn::Conn;
use crate::error::StoreError;
use parking_lot::{Condvar, Mutex};

type Connect = Box<dyn Fn() -> Result<Box<dyn Conn>, StoreError> + Send + Sync>;

pub(crate) struct Pool {
    connect: Connect,
    idle: Mutex<(Vec<Box<dyn Conn>>, usize)>,
    freed: Condvar,
    max: usize,
}

impl Pool {
    pub(crate) fn new(max: usize, connect: Connect) -> Pool {
        Pool { connect, idle: Mutex::new((Vec::new(), 0)), freed: Condvar::new(), max: max.max(1) }
    }

    /// Borrows a connection, opening one if fewer than `max` exist, else waiting for one.
    pub(crate) fn get(&self) -> Result<Pooled<'_>, StoreError> {
        let mut g = self.idle.lock();
        loop {
            if let Some(c) = g.0.pop() {
                return Ok(Pooled { pool: self, conn: Some(c) });
            }
            if g.1 < self.max {
                g.1 += 1;
                drop(g);
                return match (self.connect)() {
                    Ok(c) => Ok(Pooled { pool: self, conn: Some(c) }),
                    Err(e) => {
                        self.idle.lock().1 -= 1;
                        Err(e)
                    }
                };
            }
            self.freed.wait(&mut g);
        }
    }
}

/// A borrowed connection, returned to the pool on drop.
pub(crate) struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<Box<dyn Conn>>,
}

impl Pooled<'_> {
    pub(crate) fn conn(&mut self) -> &mut dyn Conn {
        self.conn.as_deref_mut().expect("connection present until drop")
    }

    /// Drops a connection that failed, so the pool opens a fresh one next time.
    pub(crate) fn discard(mut self) {
        self.conn = None;
        self.pool.idle.lock().1 -= 1;
        self.pool.freed.notify_one();
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.pool.idle.lock().0.push(c);
            self.pool.freed.notify_one();
        }
    }
}
