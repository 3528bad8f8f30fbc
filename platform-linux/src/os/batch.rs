//! Batched datagram I/O for the server path: `recvmmsg` into preallocated buffers with
//! a kernel receive stamp per datagram, `sendmmsg` of the answers with a plain
//! `sendmsg` fallback.
//!
//! Nothing here allocates after construction: the buffers, headers and control
//! message space are made once and reused for every batch. Both calls go through
//! glibc (DESIGN.md: LD_PRELOAD simulators must see them).

use std::io;
use std::io::IoSlice;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd};

use nix::sys::socket::{sendmsg, MsgFlags, SockaddrLike, SockaddrStorage};
use slew_core::NtpTimestamp;

use crate::os::net::{to_storage, NtpSocket, Received};
use crate::os::time::{realtime_now, timespec_to_ntp};

/// Datagrams per `recvmmsg`/`sendmmsg`.
pub const BATCH: usize = 32;

/// Largest datagram read; longer ones are cut (and reported as truncated).
pub const MAX_DATAGRAM: usize = 1024;

/// One preallocated buffer per datagram of a batch.
type Buffers = Box<[[u8; MAX_DATAGRAM]; BATCH]>;

/// Control-message room per datagram: `SCM_TIMESTAMPING` takes CMSG_SPACE(3 *
/// sizeof(struct timespec)) = 64 bytes on 64-bit Linux; twice that leaves room for
/// whatever else a kernel adds, and a cut stamp shows as MSG_CTRUNC, not garbage.
const CMSG_ROOM: usize = 128;

/// A control buffer aligned for `struct cmsghdr`.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct CmsgBuf([u8; CMSG_ROOM]);

/// The `recvmmsg` arrays: a header, a sender address, an iovec and control room per
/// datagram. Every header is armed afresh before each call ([`RecvSlots::arm`]):
/// the kernel writes the lengths back (`msg_namelen` the sender's address length,
/// `msg_controllen` the control bytes used), so a header reused as it was left
/// would hand the next datagram an IPv4 address's 16 bytes for an IPv6 sender's 28
/// (the sender cut, the rest stale: issue 11) or no room for its stamp.
struct RecvSlots {
    hdrs: [libc::mmsghdr; BATCH],
    names: [libc::sockaddr_storage; BATCH],
    iovs: [libc::iovec; BATCH],
    cmsgs: [CmsgBuf; BATCH],
}

impl RecvSlots {
    fn new() -> Box<Self> {
        // SAFETY: all-zero is a valid value for these plain C structs and byte arrays;
        // the pointers are set by `arm` before any use.
        Box::new(unsafe { std::mem::zeroed() })
    }

    /// Points header `i` at buffer `i`, its address slot and control room, with the
    /// full lengths of each: before every call, for every header.
    fn arm(&mut self, bufs: &mut Buffers) {
        let Self {
            hdrs,
            names,
            iovs,
            cmsgs,
        } = self;
        let slots = hdrs
            .iter_mut()
            .zip(names.iter_mut())
            .zip(iovs.iter_mut())
            .zip(cmsgs.iter_mut())
            .zip(bufs.iter_mut());
        for ((((hdr, name), iov), cmsg), buf) in slots {
            iov.iov_base = buf.as_mut_ptr().cast();
            iov.iov_len = MAX_DATAGRAM;
            let h = &mut hdr.msg_hdr;
            h.msg_name = (name as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = iov as *mut libc::iovec;
            h.msg_iovlen = 1;
            h.msg_control = cmsg.0.as_mut_ptr().cast();
            h.msg_controllen = CMSG_ROOM as _;
            h.msg_flags = 0;
            hdr.msg_len = 0;
        }
    }
}

/// The sender in `name`, of the length the kernel reported; `None` for another
/// family or a length that does not fit it.
fn sender(name: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match i32::from(name.ss_family) {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: sockaddr_storage is large and aligned enough for every
            // sockaddr, and the kernel wrote a sockaddr_in of this family.
            let a =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let a =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// The software receive stamp in the control messages `hdr` got, if any.
fn software_stamp(hdr: &libc::msghdr) -> Option<NtpTimestamp> {
    // SAFETY: `hdr` was armed with a control buffer of `CMSG_ROOM` bytes and the
    // kernel set `msg_controllen` to what it used of it; the CMSG macros stay
    // within that length.
    let mut c = unsafe { libc::CMSG_FIRSTHDR(hdr) };
    while !c.is_null() {
        // SAFETY: `c` is a complete cmsghdr inside the buffer (CMSG_FIRSTHDR /
        // CMSG_NXTHDR return null otherwise).
        let (level, kind, len) = unsafe { ((*c).cmsg_level, (*c).cmsg_type, (*c).cmsg_len) };
        let want = std::mem::size_of::<[libc::timespec; 3]>();
        // SAFETY: computing a length, no memory access.
        let full = unsafe { libc::CMSG_LEN(want as libc::c_uint) } as usize;
        // cmsg_len is size_t on glibc, socklen_t on musl.
        #[allow(clippy::unnecessary_cast)]
        let len = len as usize;
        if level == libc::SOL_SOCKET && kind == libc::SCM_TIMESTAMPING && len >= full {
            // SAFETY: the message carries three timespecs after its header (checked
            // length); they may be unaligned in the byte buffer.
            let ts = unsafe {
                std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<[libc::timespec; 3]>())
            };
            // [0] is the software stamp ([1] legacy, [2] hardware).
            let t = ts[0];
            if t.tv_sec != 0 || t.tv_nsec != 0 {
                return Some(timespec_to_ntp(t.tv_sec, t.tv_nsec));
            }
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        c = unsafe { libc::CMSG_NXTHDR(hdr, c) };
    }
    None
}

const EMPTY: Received = Received {
    len: 0,
    from: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
    rx_time: NtpTimestamp::ZERO,
    kernel_stamp: false,
    truncated: false,
};

/// Datagrams received by one `recvmmsg`.
///
/// `recvmmsg` is called through glibc's `libc::recvmmsg` on our own arrays rather
/// than nix's `MultiHeaders`, which keep the lengths the previous call left in its
/// private headers (nix 0.29): one batch serves every socket, IPv4 and IPv6 alike.
pub struct RecvBatch {
    slots: Box<RecvSlots>,
    bufs: Buffers,
    meta: [Received; BATCH],
    len: usize,
}

// SAFETY: the raw pointers inside `slots` point into `slots` itself and `bufs`
// (both boxed, moved along with the batch) and are rewritten before every call;
// nothing is shared with another thread.
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
            slots: RecvSlots::new(),
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
        self.slots.arm(&mut self.bufs);
        // SAFETY: every header was just armed with pointers into `self.slots` and
        // `self.bufs` and their full lengths; both outlive the call.
        let r = unsafe {
            libc::recvmmsg(
                socket.as_fd().as_raw_fd(),
                self.slots.hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(0),
                _ => Err(e),
            };
        }
        let n = (r as usize).min(BATCH);
        // Read once for the whole batch, used only for datagrams without a stamp.
        let fallback = realtime_now();
        let slots = &*self.slots;
        for ((slot, hdr), name) in self
            .meta
            .iter_mut()
            .zip(slots.hdrs.iter())
            .zip(slots.names.iter())
            .take(n)
        {
            let h = &hdr.msg_hdr;
            let rx_time = software_stamp(h);
            // Slots stay aligned with the buffers: a datagram without an IPv4/IPv6
            // sender (impossible on these sockets) is kept as a truncated one,
            // which the server path drops and counts.
            *slot = match sender(name, h.msg_namelen) {
                Some(from) => Received {
                    len: hdr.msg_len as usize,
                    from,
                    kernel_stamp: rx_time.is_some(),
                    rx_time: rx_time.unwrap_or(fallback),
                    truncated: h.msg_flags & libc::MSG_TRUNC != 0,
                },
                None => Received {
                    truncated: true,
                    rx_time: fallback,
                    ..EMPTY
                },
            };
        }
        self.len = n;
        Ok(n)
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
    /// Send system calls made (`sendmmsg` or `sendmsg`): what batching saves.
    pub calls: usize,
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
                out.calls += 1;
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
            out.calls += 1;
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
