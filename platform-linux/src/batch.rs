//! Batched datagram I/O for the server path: `recvmmsg` into preallocated buffers with
//! a kernel receive stamp per datagram, `sendmmsg` of the answers with a plain
//! `sendmsg` fallback.
//!
//! Nothing here allocates after construction: the buffers, headers and control
//! message space are made once and reused for every batch. Both calls go through
//! glibc (DESIGN.md: LD_PRELOAD simulators must see them).

use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};

use nix::sys::socket::{
    recvmmsg, sendmsg, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrLike, SockaddrStorage,
};
use slew_core::NtpTimestamp;

use crate::net::{from_storage, to_storage, NtpSocket, Received};
use crate::time::{realtime_now, timespec_to_ntp};

/// Datagrams per `recvmmsg`/`sendmmsg`.
pub const BATCH: usize = 32;

/// Largest datagram read; longer ones are cut (and reported as truncated).
pub const MAX_DATAGRAM: usize = 1024;

/// One preallocated buffer per datagram of a batch.
type Buffers = Box<[[u8; MAX_DATAGRAM]; BATCH]>;

const EMPTY: Received = Received {
    len: 0,
    from: SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::UNSPECIFIED,
        0,
    )),
    rx_time: NtpTimestamp::ZERO,
    kernel_stamp: false,
    truncated: false,
};

/// Datagrams received by one `recvmmsg`.
pub struct RecvBatch {
    headers: MultiHeaders<SockaddrStorage>,
    bufs: Buffers,
    meta: [Received; BATCH],
    len: usize,
}

// SAFETY: the raw pointers inside `MultiHeaders` point into its own boxed address and
// control-message buffers (moved along with it) or, during a `recvmmsg` call only, into
// `bufs`; nothing is shared with another thread.
unsafe impl Send for RecvBatch {}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Default for RecvBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl RecvBatch {
    /// Buffers for [`BATCH`] datagrams with room for their timestamps.
    pub fn new() -> Self {
        Self {
            headers: MultiHeaders::preallocate(
                BATCH,
                Some(nix::cmsg_space!(nix::sys::socket::Timestamps)),
            ),
            bufs: Box::new([[0; MAX_DATAGRAM]; BATCH]),
            meta: [EMPTY; BATCH],
            len: 0,
        }
    }

    /// Datagrams in the last batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the last batch was empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Datagram `i` of the last batch: its metadata and bytes.
    pub fn get(&self, i: usize) -> Option<(&Received, &[u8])> {
        if i >= self.len {
            return None;
        }
        let meta = self.meta.get(i)?;
        let bytes = self.bufs.get(i)?.get(..meta.len.min(MAX_DATAGRAM))?;
        Some((meta, bytes))
    }

    /// Receives up to [`BATCH`] datagrams without blocking; `Ok(0)` when none is queued.
    pub fn recv(&mut self, socket: &NtpSocket) -> io::Result<usize> {
        self.len = 0;
        let Self {
            headers,
            bufs,
            meta,
            len,
        } = self;
        let mut iovs = bufs.each_mut().map(|b| [IoSliceMut::new(&mut b[..])]);
        let results = match recvmmsg::<_, SockaddrStorage, _>(
            socket.as_fd().as_raw_fd(),
            headers,
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        ) {
            Ok(r) => r,
            Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => return Ok(0),
            Err(e) => return Err(io::Error::from_raw_os_error(e as i32)),
        };
        // Read once for the whole batch, used only for datagrams without a stamp.
        let fallback = realtime_now();
        for (slot, msg) in meta.iter_mut().zip(results) {
            let mut rx_time = None;
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    if let ControlMessageOwned::ScmTimestampsns(ts) = c {
                        let t = ts.system;
                        if t.tv_sec() != 0 || t.tv_nsec() != 0 {
                            rx_time = Some(timespec_to_ntp(t.tv_sec(), t.tv_nsec()));
                        }
                    }
                }
            }
            // Slots stay aligned with the buffers: a datagram without an IPv4/IPv6
            // sender (impossible on these sockets, but not for the type system) is
            // kept as a truncated one, which the server path drops and counts.
            let Some(from) = msg.address.as_ref().and_then(from_storage) else {
                *slot = Received {
                    len: 0,
                    from: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
                    kernel_stamp: false,
                    rx_time: fallback,
                    truncated: true,
                };
                *len += 1;
                continue;
            };
            *slot = Received {
                len: msg.bytes,
                from,
                kernel_stamp: rx_time.is_some(),
                rx_time: rx_time.unwrap_or(fallback),
                truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
            };
            *len += 1;
        }
        Ok(*len)
    }
}

/// How answers are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendMode {
    /// `sendmmsg`, one call per batch.
    Batch,
    /// One `sendmsg` per datagram: after `sendmmsg` failed with ENOSYS or EINVAL.
    Single,
}

/// What one flush sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Datagrams the kernel took.
    pub sent: usize,
    /// Datagrams dropped on a send error (full socket buffer, unreachable).
    pub failed: usize,
    /// The last error, if any.
    pub last_error: Option<i32>,
}

/// Answers queued for one `sendmmsg`.
pub struct SendBatch {
    bufs: Buffers,
    lens: [usize; BATCH],
    addrs: [Option<SockaddrStorage>; BATCH],
    len: usize,
    mode: SendMode,
}

impl std::fmt::Debug for SendBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendBatch")
            .field("len", &self.len)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Default for SendBatch {
    fn default() -> Self {
        Self::new()
    }
}

/// True for the errors that mean "this kernel or sandbox has no usable sendmmsg":
/// switch to `sendmsg` for good.
pub fn sendmmsg_unsupported(errno: i32) -> bool {
    errno == libc::ENOSYS || errno == libc::EINVAL
}

impl SendBatch {
    /// Empty, sending with `sendmmsg`.
    pub fn new() -> Self {
        Self {
            bufs: Box::new([[0; MAX_DATAGRAM]; BATCH]),
            lens: [0; BATCH],
            addrs: [None; BATCH],
            len: 0,
            mode: SendMode::Batch,
        }
    }

    /// How this batch sends (it falls back to [`SendMode::Single`] by itself).
    pub fn mode(&self) -> SendMode {
        self.mode
    }

    /// Forces a mode (tests, or a port that knows `sendmmsg` is missing).
    pub fn set_mode(&mut self, mode: SendMode) {
        self.mode = mode;
    }

    /// Answers queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when no further answer fits: flush first.
    pub fn is_full(&self) -> bool {
        self.len >= BATCH
    }

    /// The buffer for the next answer (`None` when full). Write into it, then
    /// [`SendBatch::push`].
    pub fn next_buf(&mut self) -> Option<&mut [u8; MAX_DATAGRAM]> {
        self.bufs.get_mut(self.len)
    }

    /// Queues the first `len` bytes of [`SendBatch::next_buf`] for `to`.
    pub fn push(&mut self, len: usize, to: SocketAddr) {
        if let (Some(l), Some(a)) = (self.lens.get_mut(self.len), self.addrs.get_mut(self.len)) {
            *l = len.min(MAX_DATAGRAM);
            *a = Some(to_storage(to));
            self.len += 1;
        }
    }

    /// Sends everything queued on `socket` and empties the batch.
    pub fn flush(&mut self, socket: &NtpSocket) -> Flushed {
        let mut out = Flushed::default();
        let mut start = 0;
        while start < self.len {
            if self.mode == SendMode::Batch {
                match self.sendmmsg(socket, start) {
                    Ok(n) => {
                        out.sent += n;
                        start += n.max(1);
                        if n == 0 {
                            out.failed += 1;
                        }
                        continue;
                    }
                    Err(errno) if sendmmsg_unsupported(errno) => {
                        log::info!("sendmmsg failed ({errno}): answering with sendmsg");
                        self.mode = SendMode::Single;
                    }
                    Err(errno) => {
                        // The first datagram could not be sent: drop it, go on.
                        out.failed += 1;
                        out.last_error = Some(errno);
                        start += 1;
                        continue;
                    }
                }
            }
            match self.sendmsg_one(socket, start) {
                Ok(()) => out.sent += 1,
                Err(errno) => {
                    out.failed += 1;
                    out.last_error = Some(errno);
                }
            }
            start += 1;
        }
        self.len = 0;
        out
    }

    fn sendmsg_one(&self, socket: &NtpSocket, i: usize) -> Result<(), i32> {
        let (Some(buf), Some(&len), Some(Some(addr))) =
            (self.bufs.get(i), self.lens.get(i), self.addrs.get(i))
        else {
            return Err(libc::EINVAL);
        };
        let iov = [IoSlice::new(buf.get(..len).unwrap_or_default())];
        sendmsg(
            socket.as_fd().as_raw_fd(),
            &iov,
            &[],
            MsgFlags::MSG_DONTWAIT,
            Some(addr),
        )
        .map(|_| ())
        .map_err(|e| e as i32)
    }

    /// One `sendmmsg` of datagrams `start..len`: how many the kernel took, or the
    /// errno when it took none.
    fn sendmmsg(&mut self, socket: &NtpSocket, start: usize) -> Result<usize, i32> {
        // The headers live on the stack for the duration of the call: they hold
        // pointers into `bufs` and `addrs`, which outlive it.
        // SAFETY: all-zero is a valid value for these plain C structs.
        let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        let mut n = 0;
        for i in start..self.len {
            let (Some(buf), Some(&len), Some(Some(addr)), Some(iov), Some(hdr)) = (
                self.bufs.get_mut(i),
                self.lens.get(i),
                self.addrs.get(i),
                iovs.get_mut(n),
                hdrs.get_mut(n),
            ) else {
                break;
            };
            iov.iov_base = buf.as_mut_ptr().cast();
            iov.iov_len = len;
            hdr.msg_hdr.msg_name = addr.as_ptr().cast_mut().cast();
            hdr.msg_hdr.msg_namelen = addr.len();
            hdr.msg_hdr.msg_iov = iov as *mut libc::iovec;
            hdr.msg_hdr.msg_iovlen = 1;
            n += 1;
        }
        // SAFETY: `hdrs[..n]` point at live iovecs, buffers and addresses of the right
        // lengths; the kernel only reads them during the call.
        let r = unsafe {
            libc::sendmmsg(
                socket.as_fd().as_raw_fd(),
                hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO));
        }
        Ok(r as usize)
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
