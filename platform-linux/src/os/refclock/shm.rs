//! ntpd's shared-memory refclock (type 28) on System V shared memory: the segment
//! gpsd (and chrony's and ntpd's other feeders) write, at key `0x4E545030 + unit`.
//!
//! [`ShmSegment::attach`] finds (or creates, as ntpd does) the segment and refuses
//! one whose size is not `struct shmTime`'s 96 bytes: another program's segment at
//! that key, or a 32-bit writer's layout, is reported and never read.
//! [`ShmSegment::read`] copies the record with the count/valid handshake and clears
//! `valid`; [`ShmReader`] adds the core's duplicate and stalled-writer checks.
//! Units 0 and 1 are created mode 0600 (root's, as ntpd and gpsd make them), higher
//! units 0666 unless `mode` bit 0 asks for a private one.

use core::sync::atomic::{fence, Ordering};
use std::fmt;
use std::ptr::{addr_of, addr_of_mut};

use slew_core::refclock::shm::{
    sample_from, ShmError, ShmRecord, ShmWatch, SHM_KEY_BASE, SHM_SIZE_LP64,
};
use slew_core::refclock::{RefSample, UnixTime};

/// `struct shmTime` as ntpd and gpsd lay it out.
#[repr(C)]
#[derive(Clone, Copy)]
struct ShmTime {
    mode: libc::c_int,
    count: libc::c_int,
    clock_sec: libc::time_t,
    clock_usec: libc::c_int,
    receive_sec: libc::time_t,
    receive_usec: libc::c_int,
    leap: libc::c_int,
    precision: libc::c_int,
    nsamples: libc::c_int,
    valid: libc::c_int,
    clock_nsec: libc::c_uint,
    receive_nsec: libc::c_uint,
    dummy: [libc::c_int; 8],
}

// The layout the writers use on LP64 Linux; a mismatch is a build error, not garbage.
const _: () = assert!(std::mem::size_of::<ShmTime>() == SHM_SIZE_LP64);

/// Why a segment could not be attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachError {
    /// No segment at the key (and we were not to create one).
    Missing,
    /// A segment exists at the key with another size: not a `struct shmTime`.
    WrongSize {
        /// Its size, bytes.
        found: usize,
        /// 96.
        expected: usize,
    },
    /// shmget/shmat/shmctl failed otherwise (permissions: units 0–1 are root's).
    Os(nix::errno::Errno),
}

impl AttachError {
    /// The core's reason, where there is one.
    pub fn as_shm_error(self) -> Option<ShmError> {
        match self {
            AttachError::WrongSize { found, expected } => {
                Some(ShmError::WrongSize { found, expected })
            }
            _ => None,
        }
    }
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachError::Missing => f.write_str("no shared-memory segment at the unit's key"),
            AttachError::WrongSize { found, expected } => write!(
                f,
                "shared-memory segment has {found} bytes, struct shmTime has {expected}: not ours, not read"
            ),
            AttachError::Os(e) => write!(f, "shared-memory segment: {e}"),
        }
    }
}

impl std::error::Error for AttachError {}

/// The key of a unit's segment.
pub fn shm_key(unit: u8) -> libc::key_t {
    (SHM_KEY_BASE + u32::from(unit)) as libc::key_t
}

/// The size of the segment with `shmid`.
fn segment_size(shmid: libc::c_int) -> Result<usize, AttachError> {
    // SAFETY: shmid_ds is plain data; IPC_STAT fills it or fails.
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a shmid_ds we own.
    let rc = unsafe { libc::shmctl(shmid, libc::IPC_STAT, &mut ds) };
    if rc == -1 {
        return Err(AttachError::Os(nix::errno::Errno::last()));
    }
    Ok(ds.shm_segsz)
}

/// One attached `struct shmTime` segment.
#[derive(Debug)]
pub struct ShmSegment {
    ptr: *mut ShmTime,
    shmid: libc::c_int,
    unit: u8,
}

// The segment is process-shared memory accessed only with volatile reads and writes.
unsafe impl Send for ShmSegment {}

impl ShmSegment {
    /// Attach unit `unit`'s segment, creating it when `create` (ntpd creates it; a
    /// reader next to gpsd may do either). `private` makes a created unit ≥ 2 mode
    /// 0600 (ntpd's `mode 1`); units 0–1 always are.
    pub fn attach(unit: u8, create: bool, private: bool) -> Result<Self, AttachError> {
        let key = shm_key(unit);
        let perms = if unit < 2 || private { 0o600 } else { 0o666 };
        let flags = if create { libc::IPC_CREAT | perms } else { 0 };
        // SAFETY: plain syscall wrapper.
        let shmid = unsafe { libc::shmget(key, SHM_SIZE_LP64, flags) };
        if shmid == -1 {
            let errno = nix::errno::Errno::last();
            return Err(match errno {
                nix::errno::Errno::ENOENT => AttachError::Missing,
                // EINVAL: a segment exists at the key and is smaller than asked.
                nix::errno::Errno::EINVAL => {
                    // SAFETY: plain syscall wrapper; size 0 finds any existing segment.
                    let id = unsafe { libc::shmget(key, 0, 0) };
                    if id == -1 {
                        AttachError::Os(errno)
                    } else {
                        match segment_size(id) {
                            Ok(found) => AttachError::WrongSize {
                                found,
                                expected: SHM_SIZE_LP64,
                            },
                            Err(e) => e,
                        }
                    }
                }
                e => AttachError::Os(e),
            });
        }
        let found = segment_size(shmid)?;
        if found != SHM_SIZE_LP64 {
            return Err(AttachError::WrongSize {
                found,
                expected: SHM_SIZE_LP64,
            });
        }
        // SAFETY: attach the segment anywhere; failure is (void*)-1.
        let p = unsafe { libc::shmat(shmid, std::ptr::null(), 0) };
        if p as isize == -1 {
            return Err(AttachError::Os(nix::errno::Errno::last()));
        }
        Ok(Self {
            ptr: p.cast::<ShmTime>(),
            shmid,
            unit,
        })
    }

    /// The unit.
    pub fn unit(&self) -> u8 {
        self.unit
    }

    /// Copy the record with the handshake: if `valid` is set, note `count`, copy
    /// the fields, clear `valid`, read `count` again; the core judges the copy.
    /// `now` is `CLOCK_REALTIME` at the read (for the age check).
    pub fn read(&mut self, now: UnixTime) -> Result<RefSample, ShmError> {
        let p = self.ptr;
        // SAFETY: p points to an attached segment of the struct's size (checked at
        // attach) for as long as self lives; other processes write it concurrently,
        // hence volatile accesses with fences between the steps of the protocol.
        unsafe {
            if std::ptr::read_volatile(addr_of!((*p).valid)) == 0 {
                return Err(ShmError::NotReady);
            }
            let count = std::ptr::read_volatile(addr_of!((*p).count));
            fence(Ordering::SeqCst);
            let copy: ShmTime = std::ptr::read_volatile(p);
            fence(Ordering::SeqCst);
            std::ptr::write_volatile(addr_of_mut!((*p).valid), 0);
            fence(Ordering::SeqCst);
            let count_after = std::ptr::read_volatile(addr_of!((*p).count));
            let rec = ShmRecord {
                mode: copy.mode,
                count,
                clock_sec: copy.clock_sec,
                clock_usec: copy.clock_usec,
                receive_sec: copy.receive_sec,
                receive_usec: copy.receive_usec,
                leap: copy.leap,
                precision: copy.precision,
                nsamples: copy.nsamples,
                valid: 1,
                clock_nsec: copy.clock_nsec,
                receive_nsec: copy.receive_nsec,
            };
            sample_from(&rec, count_after, now)
        }
    }

    /// The writer's precision field (log2 s), as last written.
    pub fn precision_log2(&self) -> i8 {
        // SAFETY: as in `read`.
        let p = unsafe { std::ptr::read_volatile(addr_of!((*self.ptr).precision)) };
        p.clamp(-30, 0) as i8
    }

    /// Write a record the way gpsd does (mode 1: valid off, count up, fields, count
    /// up, valid on). For tests and tools that feed a reader; slewd only reads.
    pub fn write(&mut self, rec: &ShmRecord) {
        let p = self.ptr;
        // SAFETY: as in `read`.
        unsafe {
            std::ptr::write_volatile(addr_of_mut!((*p).valid), 0);
            let c = std::ptr::read_volatile(addr_of!((*p).count));
            std::ptr::write_volatile(addr_of_mut!((*p).count), c.wrapping_add(1));
            fence(Ordering::SeqCst);
            std::ptr::write_volatile(addr_of_mut!((*p).mode), rec.mode);
            std::ptr::write_volatile(addr_of_mut!((*p).clock_sec), rec.clock_sec);
            std::ptr::write_volatile(addr_of_mut!((*p).clock_usec), rec.clock_usec);
            std::ptr::write_volatile(addr_of_mut!((*p).clock_nsec), rec.clock_nsec);
            std::ptr::write_volatile(addr_of_mut!((*p).receive_sec), rec.receive_sec);
            std::ptr::write_volatile(addr_of_mut!((*p).receive_usec), rec.receive_usec);
            std::ptr::write_volatile(addr_of_mut!((*p).receive_nsec), rec.receive_nsec);
            std::ptr::write_volatile(addr_of_mut!((*p).leap), rec.leap);
            std::ptr::write_volatile(addr_of_mut!((*p).precision), rec.precision);
            std::ptr::write_volatile(addr_of_mut!((*p).nsamples), rec.nsamples);
            fence(Ordering::SeqCst);
            std::ptr::write_volatile(addr_of_mut!((*p).count), c.wrapping_add(2));
            fence(Ordering::SeqCst);
            std::ptr::write_volatile(addr_of_mut!((*p).valid), rec.valid);
        }
    }

    /// Mark the segment for removal (it goes when the last process detaches). Only
    /// for segments this process created, such as a test's.
    pub fn remove(&self) -> Result<(), nix::errno::Errno> {
        // SAFETY: plain syscall wrapper.
        let rc = unsafe { libc::shmctl(self.shmid, libc::IPC_RMID, std::ptr::null_mut()) };
        if rc == -1 {
            Err(nix::errno::Errno::last())
        } else {
            Ok(())
        }
    }
}

impl Drop for ShmSegment {
    fn drop(&mut self) {
        // SAFETY: ptr came from shmat and is detached once.
        unsafe {
            libc::shmdt(self.ptr.cast::<libc::c_void>());
        }
    }
}

/// A segment plus the core's watch: duplicates and a stalled writer are reported.
#[derive(Debug)]
pub struct ShmReader {
    segment: ShmSegment,
    watch: ShmWatch,
}

impl ShmReader {
    /// Read `segment` from now on.
    pub fn new(segment: ShmSegment) -> Self {
        Self {
            segment,
            watch: ShmWatch::new(),
        }
    }

    /// The segment.
    pub fn segment(&self) -> &ShmSegment {
        &self.segment
    }

    /// One read (ntpd reads once a second): a new sample, or why not.
    pub fn read(&mut self) -> Result<RefSample, ShmError> {
        let r = self.segment.read(super::realtime_unix());
        self.watch.judge(r)
    }
}
