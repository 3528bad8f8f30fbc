//! `Type=notify`: slewd tells the service manager it is ready only once time can be
//! asked for, and says so again around a SIGHUP and at stop (sd_notify's protocol,
//! read here from our own `AF_UNIX` datagram socket as systemd would).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use common::*;

const CONF: &str = "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n";

fn next_message(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = sock
        .recv(&mut buf)
        .expect("a notification within the timeout");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn ready_once_serving_reloading_around_sighup_stopping_at_exit() {
    let dir = TempDir::new("notify");
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    std::fs::write(dir.join("ntp.conf"), CONF).unwrap();
    let port = free_port();
    let server = SocketAddr::from(([127, 0, 0, 1], port));
    let mut cmd = Command::new(slew_bin("slewd"));
    cmd.args(["-n", "--clock", "observe", "-c"])
        .arg(dir.join("ntp.conf"))
        .args(["--listen", &server.to_string()])
        .env("NOTIFY_SOCKET", &path);
    let mut slewd = spawn_logged(cmd, "slewd", dir.join("slewd.log"));
    let ready = next_message(&sock);
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    // READY means serving: the very first request is answered.
    let answer = raw_query(server, Duration::from_millis(500)).expect("answered at READY");
    assert_eq!(answer[1], 11);

    // SAFETY: kill(2) on our own child's PID.
    unsafe { libc::kill(slewd.pid(), libc::SIGHUP) };
    assert_eq!(next_message(&sock), "RELOADING=1");
    assert!(next_message(&sock).lines().any(|l| l == "READY=1"));

    slewd.terminate(Duration::from_secs(5)).expect("clean exit");
    assert_eq!(next_message(&sock), "STOPPING=1");
}

#[test]
fn without_a_service_manager_nothing_is_sent_and_a_bad_socket_is_not_fatal() {
    let dir = TempDir::new("notify-bad");
    let server = SocketAddr::from(([127, 0, 0, 1], free_port()));
    std::fs::write(dir.join("ntp.conf"), CONF).unwrap();
    let mut cmd = Command::new(slew_bin("slewd"));
    cmd.args(["-n", "--clock", "observe", "-c"])
        .arg(dir.join("ntp.conf"))
        .args(["--listen", &server.to_string()])
        .env("NOTIFY_SOCKET", dir.join("nobody-listens.sock"));
    let slewd = spawn_logged(cmd, "slewd", dir.join("slewd.log"));
    wait_for_ntp(server, Duration::from_secs(10), &slewd);
    assert!(
        slewd.log_text().contains("cannot tell systemd"),
        "{}",
        slewd.log_text()
    );
}
