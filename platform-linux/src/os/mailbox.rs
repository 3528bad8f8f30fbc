//! Results from helper threads (name lookups, configuration reloads, NTS-KE) that
//! wake the poll loop when they arrive, so the loop never wakes up just to look.
//!
//! A [`Mailbox`] is a channel plus a socket pair: a [`Poster`] sends the value, then
//! writes a byte to the socket the loop polls ([`Mailbox::poll_fd`]). The byte is
//! written after the value, so a loop that drains the socket and then the channel
//! ([`Mailbox::try_recv`] does both, in that order) either sees the value or is woken
//! again by its byte.

use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

/// The receiving end, kept by the loop.
#[derive(Debug)]
pub struct Mailbox<T> {
    tx: Sender<T>,
    rx: Receiver<T>,
    /// Read end (non-blocking) and write end of the wake-up pair; `None` when the
    /// pair could not be made: values are then seen at the loop's next turn.
    wake: Option<(UnixDatagram, Arc<UnixDatagram>)>,
}

/// The sending end, for a helper thread.
#[derive(Debug)]
pub struct Poster<T> {
    tx: Sender<T>,
    wake: Option<Arc<UnixDatagram>>,
}

impl<T> Clone for Poster<T> {
    fn clone(&self) -> Self {
        Poster {
            tx: self.tx.clone(),
            wake: self.wake.clone(),
        }
    }
}

impl<T> Poster<T> {
    /// Hands `value` to the loop and wakes it. False when the loop is gone.
    pub fn post(&self, value: T) -> bool {
        let sent = self.tx.send(value).is_ok();
        if let Some(w) = &self.wake {
            // A full socket buffer already holds a wake-up: nothing is lost.
            let _ = w.send(&[1]);
        }
        sent
    }
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Mailbox<T> {
    /// An empty mailbox.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        let wake = UnixDatagram::pair().ok().and_then(|(r, w)| {
            r.set_nonblocking(true).ok()?;
            w.set_nonblocking(true).ok()?;
            Some((r, Arc::new(w)))
        });
        Mailbox { tx, rx, wake }
    }

    /// A sending end for a helper thread.
    pub fn poster(&self) -> Poster<T> {
        Poster {
            tx: self.tx.clone(),
            wake: self.wake.as_ref().map(|(_, w)| Arc::clone(w)),
        }
    }

    /// Readable when something was posted: poll it with `POLLIN`, then call
    /// [`try_recv`](Self::try_recv) until it returns `None`.
    pub fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        self.wake.as_ref().map(|(r, _)| r.as_fd())
    }

    /// A posted value, if any; never blocks.
    pub fn try_recv(&self) -> Option<T> {
        if let Some((r, _)) = &self.wake {
            let mut b = [0u8; 64];
            while r.recv(&mut b).is_ok() {}
        }
        self.rx.try_recv().ok()
    }

    /// Everything posted so far; never blocks.
    pub fn drain(&self) -> Vec<T> {
        let mut out = Vec::new();
        while let Some(v) = self.try_recv() {
            out.push(v);
        }
        out
    }

    /// Waits up to `timeout` for a value (tests and tools).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<T> {
        self.rx.recv_timeout(timeout).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

    fn readable(m: &Mailbox<u32>, wait_ms: u16) -> bool {
        let Some(fd) = m.poll_fd() else { return false };
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::from(wait_ms)).unwrap() == 1
    }

    #[test]
    fn a_post_from_another_thread_wakes_the_poll_and_is_received_once() {
        let m = Mailbox::<u32>::new();
        assert!(!readable(&m, 0), "nothing posted: the poll sleeps");
        let p = m.poster();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            assert!(p.post(7));
        });
        assert!(readable(&m, 5000), "the post woke the poll");
        assert_eq!(m.try_recv(), Some(7));
        assert_eq!(m.try_recv(), None);
        assert!(
            !readable(&m, 0),
            "the wake-up byte was drained with the value"
        );
        t.join().unwrap();
    }

    #[test]
    fn many_posts_are_all_received_in_order_and_a_closed_mailbox_refuses() {
        let m = Mailbox::<u32>::new();
        let p = m.poster();
        for i in 0..1000 {
            assert!(p.clone().post(i));
        }
        assert_eq!(m.drain(), (0..1000).collect::<Vec<_>>());
        drop(m);
        assert!(!p.post(1), "the loop is gone");
    }
}
