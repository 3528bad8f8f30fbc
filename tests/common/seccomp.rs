//! A host without IPv6 (kernel booted with `ipv6.disable=1`) or without IPv4, for one
//! child process: a seccomp filter makes `socket(FAMILY, …)` fail with
//! EAFNOSUPPORT, which is what such a kernel answers. Everything else is allowed.
//!
//! The filter is a hand-written classic BPF program over `struct seccomp_data`
//! (nr at offset 0, arch at 4, args[0] at 16, low word first on x86_64); it is
//! installed in the child between fork and exec, after PR_SET_NO_NEW_PRIVS, and
//! inherited by every thread the child starts.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// linux/audit.h: AUDIT_ARCH_X86_64 (EM_X86_64 | 64-bit | little endian).
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARG0_LOW: u32 = 16;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jeq(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    }
}

/// The program: a foreign arch or any syscall but socket → allow; socket with
/// args[0] == `family` → ERRNO(EAFNOSUPPORT); else allow.
fn program(family: i32) -> Vec<libc::sock_filter> {
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    vec![
        stmt(load, OFFSET_ARCH),
        jeq(AUDIT_ARCH_X86_64, 0, 4),
        stmt(load, OFFSET_NR),
        jeq(libc::SYS_socket as u32, 0, 2),
        stmt(load, OFFSET_ARG0_LOW),
        jeq(family as u32, 1, 0),
        stmt(ret, libc::SECCOMP_RET_ALLOW),
        stmt(
            ret,
            libc::SECCOMP_RET_ERRNO | (libc::EAFNOSUPPORT as u32 & libc::SECCOMP_RET_DATA),
        ),
    ]
}

/// Makes `cmd`'s child unable to open sockets of `family` (libc::AF_INET6 or
/// libc::AF_INET). With `netns_fd`, the child first joins that network namespace
/// (an fd of /run/netns/NAME the caller keeps open until the spawn).
pub fn deny_family(cmd: &mut Command, family: i32, netns_fd: Option<i32>) {
    #[cfg(not(target_arch = "x86_64"))]
    panic!("the filter is written for x86_64");
    let filter = program(family);
    // SAFETY: the closure runs in the forked child before exec and only makes
    // syscalls (setns, prctl) on memory prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(fd) = netns_fd {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let prog = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr().cast_mut(),
            };
            if libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                &prog as *const libc::sock_fprog as libc::c_ulong,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
