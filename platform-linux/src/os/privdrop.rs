//! Least privilege: after binding port 123, `slewd -u user[:group]` becomes that user
//! and keeps at most one capability, CAP_SYS_TIME, and only when it disciplines the
//! kernel clock.
//!
//! The order matters, and each step is checked:
//!
//! 1. while still root: empty the capability bounding set but for CAP_SYS_TIME (or
//!    entirely), clear the ambient set, and ask the kernel to keep the permitted set
//!    across the uid change (`PR_SET_KEEPCAPS`) when CAP_SYS_TIME is to be kept;
//! 2. `setgroups([gid])`, `setresgid`, `setresuid`: no supplementary groups, and no
//!    saved uid 0 to return to;
//! 3. `capset`: CAP_SYS_TIME permitted and effective, nothing inheritable (or nothing
//!    at all); `PR_SET_KEEPCAPS` off again and `PR_SET_NO_NEW_PRIVS` on;
//! 4. read back: the capability sets must be exactly what was asked, and `setuid(0)`
//!    must fail.
//!
//! Everything goes through glibc (`prctl`, `capget`/`capset`, `setgroups`…), never
//! `syscall()`, as DESIGN.md asks of every OS call.

use std::ffi::CString;
use std::fmt;

use nix::unistd::{Gid, Group, Uid, User};

/// CAP_SYS_TIME's number (linux/capability.h).
pub const CAP_SYS_TIME: u32 = 25;

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAP_VERSION_3: u32 = 0x2008_0522;

/// Highest capability number the bounding-set loop tries when
/// /proc/sys/kernel/cap_last_cap cannot be read.
const CAP_LAST_FALLBACK: u32 = 63;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

extern "C" {
    // glibc's wrappers (sys/capability.h is libcap's; glibc exports the calls).
    fn capget(header: *mut CapHeader, data: *mut CapData) -> libc::c_int;
    fn capset(header: *mut CapHeader, data: *const CapData) -> libc::c_int;
}

/// Who to become: `-u user[:group]` looked up in the user database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The user's name.
    pub user: String,
    /// Its uid.
    pub uid: Uid,
    /// The group: the one named after `:`, or the user's primary group.
    pub gid: Gid,
}

/// Why privileges could not be dropped. The daemon must not run on as root then.
#[derive(Debug)]
#[non_exhaustive]
pub enum PrivDropError {
    /// `-u` is not `USER` or `USER:GROUP`.
    BadSpec {
        /// What `-u` said.
        spec: String,
    },
    /// The user or group database could not be read.
    Lookup {
        /// What `-u` said.
        spec: String,
        /// `user NAME` or `group NAME`.
        what: String,
        /// The lookup's error.
        source: nix::Error,
    },
    /// No such user.
    NoSuchUser {
        /// What `-u` said.
        spec: String,
        /// The user asked for.
        user: String,
    },
    /// No such group.
    NoSuchGroup {
        /// What `-u` said.
        spec: String,
        /// The group asked for.
        group: String,
    },
    /// Only root can change user.
    NotRoot {
        /// The user asked for.
        user: String,
    },
    /// `-u` named uid 0.
    TargetIsRoot,
    /// One step of the drop failed.
    Syscall {
        /// The call, with its argument (`setresuid(38)`).
        call: String,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// The check after the drop found more than was kept.
    StillPrivileged {
        /// What the check saw.
        detail: String,
    },
}

impl fmt::Display for PrivDropError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadSpec { spec } => write!(f, "-u {spec}: expected USER or USER:GROUP"),
            Self::Lookup { spec, what, source } => {
                write!(f, "-u {spec}: cannot look up {what}: {source}")
            }
            Self::NoSuchUser { spec, user } => write!(
                f,
                "-u {spec}: no user named {user} on this system; create it (useradd -r -s /sbin/nologin {user}) or name an existing one"
            ),
            Self::NoSuchGroup { spec, group } => {
                write!(f, "-u {spec}: no group named {group} on this system")
            }
            Self::NotRoot { user } => {
                write!(f, "-u {user}: slewd must be started as root to change user")
            }
            Self::TargetIsRoot => f.write_str(
                "-u: refusing to \"drop\" to uid 0; name an unprivileged user",
            ),
            Self::Syscall { call, source } => write!(f, "{call}: {source}"),
            Self::StillPrivileged { detail } => f.write_str(detail),
        }
    }
}

impl std::error::Error for PrivDropError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Lookup { source, .. } => Some(source),
            Self::Syscall { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A failed step of the drop: `call` names it.
fn syscall(call: impl Into<String>) -> impl FnOnce(std::io::Error) -> PrivDropError {
    let call = call.into();
    move |source| PrivDropError::Syscall { call, source }
}

impl Target {
    /// Looks up `user[:group]` (names or numeric ids).
    pub fn lookup(spec: &str) -> Result<Self, PrivDropError> {
        let (user, group) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        if user.is_empty() || group.is_some_and(str::is_empty) {
            return Err(PrivDropError::BadSpec { spec: spec.into() });
        }
        let found = match user.parse::<u32>() {
            Ok(n) => User::from_uid(Uid::from_raw(n)),
            Err(_) => User::from_name(user),
        }
        .map_err(|source| PrivDropError::Lookup {
            spec: spec.into(),
            what: format!("user {user}"),
            source,
        })?;
        let Some(found) = found else {
            return Err(PrivDropError::NoSuchUser {
                spec: spec.into(),
                user: user.into(),
            });
        };
        let gid = match group {
            None => found.gid,
            Some(g) => {
                let grp = match g.parse::<u32>() {
                    Ok(n) => Group::from_gid(Gid::from_raw(n)),
                    Err(_) => Group::from_name(g),
                }
                .map_err(|source| PrivDropError::Lookup {
                    spec: spec.into(),
                    what: format!("group {g}"),
                    source,
                })?;
                grp.ok_or_else(|| PrivDropError::NoSuchGroup {
                    spec: spec.into(),
                    group: g.into(),
                })?
                .gid
            }
        };
        Ok(Self {
            user: found.name,
            uid: found.uid,
            gid,
        })
    }
}

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(CAP_LAST_FALLBACK)
        .min(CAP_LAST_FALLBACK)
}

fn prctl(option: libc::c_int, arg: libc::c_ulong) -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments only; no pointers are passed.
    let rc = unsafe { libc::prctl(option, arg, 0 as libc::c_ulong, 0 as libc::c_ulong, 0) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `prctl` returning its value (`PR_CAPBSET_READ`: 1 in the bounding set, 0 not).
fn prctl_value(option: libc::c_int, arg: libc::c_ulong) -> std::io::Result<libc::c_int> {
    // SAFETY: prctl with integer arguments only; no pointers are passed.
    let rc = unsafe { libc::prctl(option, arg, 0 as libc::c_ulong, 0 as libc::c_ulong, 0) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// The (effective, permitted, inheritable) sets of this process, 64 bits each.
pub fn current_caps() -> std::io::Result<(u64, u64, u64)> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and two data words, as version 3 requires.
    let rc = unsafe { capget(&mut header, data.as_mut_ptr()) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let [lo, hi] = data;
    let join = |l: u32, h: u32| u64::from(l) | (u64::from(h) << 32);
    Ok((
        join(lo.effective, hi.effective),
        join(lo.permitted, hi.permitted),
        join(lo.inheritable, hi.inheritable),
    ))
}

fn set_caps(mask: u64) -> std::io::Result<()> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let word = |m: u64| CapData {
        effective: m as u32,
        permitted: m as u32,
        inheritable: 0,
    };
    let data = [word(mask), word(mask >> 32)];
    // SAFETY: header and two data words, as version 3 requires.
    let rc = unsafe { capset(&mut header, data.as_ptr()) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Becomes `target`, keeping CAP_SYS_TIME (effective and permitted, the only bit
/// left in the bounding set) when `keep_sys_time`, no capability at all otherwise.
/// Needs root. Returns the capability mask kept.
pub fn drop_privileges(target: &Target, keep_sys_time: bool) -> Result<u64, PrivDropError> {
    if !Uid::effective().is_root() {
        return Err(PrivDropError::NotRoot {
            user: target.user.clone(),
        });
    }
    if target.uid.is_root() {
        return Err(PrivDropError::TargetIsRoot);
    }
    let keep: u64 = if keep_sys_time { 1 << CAP_SYS_TIME } else { 0 };
    // 1. Bounding set (needs CAP_SETPCAP, so while root), ambient set, keepcaps.
    for cap in 0..=last_cap() {
        if keep & (1u64 << cap) != 0 {
            continue;
        }
        // Already out of the bounding set (systemd's CapabilityBoundingSet=, a
        // container): nothing to drop, and dropping would need CAP_SETPCAP.
        if let Ok(0) = prctl_value(libc::PR_CAPBSET_READ, libc::c_ulong::from(cap)) {
            continue;
        }
        if let Err(e) = prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap)) {
            match e.raw_os_error() {
                // The kernel does not know this capability: the loop is done.
                Some(libc::EINVAL) => break,
                // No CAP_SETPCAP (a restricted bounding set without it): the
                // bounding set stays as it is. What matters still holds: the
                // permitted and effective sets are cut to CAP_SYS_TIME below, and
                // no_new_privs stops anything from regaining the rest.
                Some(libc::EPERM) => {
                    log::warn!(
                        "cannot shrink the capability bounding set without CAP_SETPCAP; relying on no_new_privs"
                    );
                    break;
                }
                _ => {
                    return Err(PrivDropError::Syscall {
                        call: format!("prctl(PR_CAPBSET_DROP, {cap})"),
                        source: e,
                    })
                }
            }
        }
    }
    if let Err(e) = prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as _) {
        // Kernels before 4.3 have no ambient set, so nothing to clear.
        if e.raw_os_error() != Some(libc::EINVAL) {
            return Err(syscall("prctl(PR_CAP_AMBIENT_CLEAR_ALL)")(e));
        }
    }
    if keep != 0 {
        prctl(libc::PR_SET_KEEPCAPS, 1).map_err(syscall("prctl(PR_SET_KEEPCAPS, 1)"))?;
    }
    // 2. Groups, then group, then user (after setuid nothing else may change).
    nix::unistd::setgroups(&[target.gid])
        .map_err(std::io::Error::from)
        .map_err(syscall(format!("setgroups({})", target.gid)))?;
    nix::unistd::setresgid(target.gid, target.gid, target.gid)
        .map_err(std::io::Error::from)
        .map_err(syscall(format!("setresgid({})", target.gid)))?;
    nix::unistd::setresuid(target.uid, target.uid, target.uid)
        .map_err(std::io::Error::from)
        .map_err(syscall(format!("setresuid({})", target.uid)))?;
    // 3. Exactly the capabilities kept; no way back.
    set_caps(keep).map_err(syscall("capset"))?;
    if keep != 0 {
        prctl(libc::PR_SET_KEEPCAPS, 0).map_err(syscall("prctl(PR_SET_KEEPCAPS, 0)"))?;
    }
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1).map_err(syscall("prctl(PR_SET_NO_NEW_PRIVS, 1)"))?;
    // 4. Check.
    let (eff, prm, inh) = current_caps().map_err(syscall("capget"))?;
    if eff != keep || prm != keep || inh != 0 {
        return Err(PrivDropError::StillPrivileged {
            detail: format!(
                "capabilities after the drop are effective {eff:#x}, permitted {prm:#x}, inheritable {inh:#x}; expected {keep:#x}"
            ),
        });
    }
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(PrivDropError::StillPrivileged {
            detail: "setuid(0) still succeeds after dropping privileges".into(),
        });
    }
    Ok(keep)
}

/// Whether `target` (the current user after the drop) can write in `dir`: slewd
/// rewrites the driftfile there.
pub fn can_write_dir(dir: &std::path::Path) -> bool {
    let Ok(c) = CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path; access(2) only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_root_and_numeric_ids() {
        let t = Target::lookup("root").unwrap();
        assert_eq!((t.uid.as_raw(), t.gid.as_raw()), (0, 0));
        let t = Target::lookup("0:0").unwrap();
        assert_eq!(t.user, "root");
    }

    #[test]
    fn unknown_user_or_group_is_a_clear_error() {
        let e = Target::lookup("no-such-user-slew").unwrap_err().to_string();
        assert!(e.contains("no user named no-such-user-slew"), "{e}");
        let e = Target::lookup("root:no-such-group-slew")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no group named no-such-group-slew"), "{e}");
        assert!(matches!(
            Target::lookup("no-such-user-slew"),
            Err(PrivDropError::NoSuchUser { user, .. }) if user == "no-such-user-slew"
        ));
        assert!(matches!(
            Target::lookup("root:no-such-group-slew"),
            Err(PrivDropError::NoSuchGroup { .. })
        ));
        assert!(matches!(
            Target::lookup(":x"),
            Err(PrivDropError::BadSpec { .. })
        ));
        assert!(matches!(
            Target::lookup("root:"),
            Err(PrivDropError::BadSpec { .. })
        ));
    }

    #[test]
    fn refuses_uid_zero_as_target() {
        let t = Target::lookup("root").unwrap();
        let e = drop_privileges(&t, true).unwrap_err();
        // As root: refused for naming uid 0; as anyone else: refused for not being root.
        assert!(
            matches!(
                e,
                PrivDropError::TargetIsRoot | PrivDropError::NotRoot { .. }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_failed_step_keeps_the_kernels_error_as_its_source() {
        let e = syscall("setresuid(38)")(std::io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(
            e.to_string(),
            format!(
                "setresuid(38): {}",
                std::io::Error::from_raw_os_error(libc::EPERM)
            )
        );
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(
            source,
            Some(std::io::Error::from_raw_os_error(libc::EPERM).to_string())
        );
    }
}
