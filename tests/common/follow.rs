//! slewd following a fresh chronyd on loopback: the setup the follow and wide-offset
//! interop tests share. slewd runs on the clock its arguments name (the virtual clock
//! in these tests), so nothing touches this machine's clock; chronyd runs with `-x`.

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::Duration;

use super::{
    free_port, run_with_timeout, slew_bin, start_chronyd_server, start_slewd, Proc, TempDir,
};

/// 127.0.0.1:`port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A slewd serving on 127.0.0.1:`port` that follows a chronyd of its own on
/// 127.0.0.1:`upstream`. Fields drop in order: slewd first, then chronyd.
pub struct Follower {
    pub slewd: Proc,
    pub chronyd: Proc,
    /// chronyd's NTP port.
    pub upstream: u16,
    /// slewd's NTP port.
    pub port: u16,
}

/// Starts a fresh chronyd (files in `dir`) and a slewd with `args` whose ntp.conf
/// is `server 127.0.0.1 port <chronyd's> iburst minpoll 3 maxpoll 3` (8 s polls:
/// bounded tests) followed by `extra_conf`; returns once slewd answers.
pub fn follow_fresh_chronyd(dir: &TempDir, extra_conf: &str, args: &[&str]) -> Follower {
    let upstream = free_port();
    let chronyd = start_chronyd_server(dir, upstream, "");
    let port = free_port();
    let conf = format!("server 127.0.0.1 port {upstream} iburst minpoll 3 maxpoll 3\n{extra_conf}");
    let slewd = start_slewd(dir, &conf, &[loopback(port)], args);
    Follower {
        slewd,
        chronyd,
        upstream,
        port,
    }
}

/// `slewd -q -n --clock virtual --listen 127.0.0.1:0 <args> -c <conf>` against a
/// fresh chronyd (its files in a new temp dir tagged `tag`), where the conf is
/// `server 127.0.0.1 port <chronyd's> iburst`; returns slewd's output (70 s at
/// most). chronyd stops when this returns.
pub fn slewd_q_against_fresh_chronyd(tag: &str, args: &[&str]) -> Output {
    let dir = TempDir::new(tag);
    let upstream = free_port();
    let _chronyd = start_chronyd_server(&dir, upstream, "");
    std::fs::write(
        dir.join("ntp.conf"),
        format!("server 127.0.0.1 port {upstream} iburst\n"),
    )
    .unwrap();
    let mut cmd = Command::new(slew_bin("slewd"));
    cmd.args(["-q", "-n", "--clock", "virtual", "--listen", "127.0.0.1:0"])
        .args(args)
        .arg("-c")
        .arg(dir.join("ntp.conf"));
    run_with_timeout(cmd, Duration::from_secs(70))
}
