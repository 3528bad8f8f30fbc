//! Shared harness for the interop tests: temporary directories, slewd and chronyd
//! processes owned by PID, network namespaces created and deleted by the test.
//!
//! Every peer runs on loopback or inside a namespace the test made; none touches the
//! clock (`chronyd -x`, slewd serves only). A missing peer binary fails the test with
//! a message naming the package; nothing skips to green.
#![allow(dead_code)]
// Test support: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod follow;
pub mod gps;
pub mod mode6;
pub mod ntpsec;
pub mod nts;
pub mod seccomp;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

static BUILD: Once = Once::new();

/// Path of one of slew-linux's binaries, built once per test process (a no-op when
/// `cargo build` already made them, as `.ci/run` does).
pub fn slew_bin(name: &str) -> PathBuf {
    BUILD.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "slew-linux", "--bins"])
            .current_dir(root())
            .status()
            .expect("run cargo build for slew-linux's binaries");
        assert!(status.success(), "building slewd/slewctl failed");
    });
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> -> target/debug/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let path = dir.join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// Finds a peer program or fails loudly naming the Debian package that has it.
pub fn require(program: &str, package: &str) -> PathBuf {
    for dir in [
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
        "/usr/local/bin",
        "/usr/local/sbin",
    ] {
        let p = Path::new(dir).join(program);
        if p.exists() {
            return p;
        }
    }
    panic!(
        "{program} is missing: install the Debian package `{package}` (.ci/run does this); \
         this test needs the real peer and does not skip"
    );
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

static SEQ: AtomicU32 = AtomicU32::new(0);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("slew-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        Self(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free UDP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind port 0");
    s.local_addr().expect("local addr").port()
}

/// A child process killed by PID when dropped (SIGTERM, then SIGKILL after 3 s).
pub struct Proc {
    pub child: Child,
    pub name: String,
    pub log: Option<PathBuf>,
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends SIGTERM and waits up to `limit` for the exit status.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        // SAFETY: plain kill(2) on our own child's PID.
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            if self.terminate(Duration::from_secs(3)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// Spawns `cmd` with stdout and stderr into `log`.
pub fn spawn_logged(mut cmd: Command, name: &str, log: PathBuf) -> Proc {
    let out = std::fs::File::create(&log).expect("create log");
    let err = out.try_clone().expect("clone log handle");
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    Proc {
        child,
        name: name.into(),
        log: Some(log),
    }
}

/// Runs a command to completion within `limit`, returning its output.
pub fn run_with_timeout(mut cmd: Command, limit: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn command");
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("collect output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "command timed out after {limit:?}: {cmd:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends one mode-3 request and returns the raw answer, if any, within `wait`.
pub fn raw_query(addr: SocketAddr, wait: Duration) -> Option<Vec<u8>> {
    let bind = if addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.set_read_timeout(Some(wait)).ok()?;
    let mut req = [0u8; 48];
    req[0] = 0x23;
    req[40..48].copy_from_slice(&0x0123_4567_89ab_cdefu64.to_be_bytes());
    s.send_to(&req, addr).ok()?;
    let mut buf = [0u8; 1024];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

/// Waits until an NTP server answers at `addr`, or panics after `limit`.
pub fn wait_for_ntp(addr: SocketAddr, limit: Duration, who: &Proc) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if raw_query(addr, Duration::from_millis(200)).is_some() {
            return;
        }
    }
    panic!(
        "{} did not answer NTP on {addr}; its log:\n{}",
        who.name,
        who.log_text()
    );
}

/// slewd in the foreground with `conf` as its ntp.conf, serving on `listen`.
pub fn start_slewd(dir: &TempDir, conf: &str, listen: &[SocketAddr], extra: &[&str]) -> Proc {
    start_slewd_with(dir, conf, listen, extra, None)
}

/// As [`start_slewd`], inside network namespace `netns` when given.
pub fn start_slewd_with(
    dir: &TempDir,
    conf: &str,
    listen: &[SocketAddr],
    extra: &[&str],
    netns: Option<&NetNs>,
) -> Proc {
    let conf_path = dir.join("ntp.conf");
    std::fs::write(&conf_path, conf).expect("write ntp.conf");
    let slewd = slew_bin("slewd");
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &ns.name]).arg(&slewd);
            c
        }
        None => Command::new(&slewd),
    };
    cmd.arg("-n").arg("-c").arg(&conf_path);
    for l in listen {
        cmd.arg("--listen").arg(l.to_string());
    }
    cmd.args(extra);
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let p = spawn_logged(cmd, "slewd", dir.join(&format!("slewd-{n}.log")));
    if netns.is_none() {
        if let Some(first) = listen.first() {
            wait_for_ntp(*first, Duration::from_secs(10), &p);
        }
    }
    p
}

/// A real chronyd serving its own clock at `local stratum 10` on 127.0.0.1:`port`,
/// never touching the clock (`-x`), with all its files under `dir`.
pub fn start_chronyd_server(dir: &TempDir, port: u16, extra_conf: &str) -> Proc {
    start_chronyd_server_env(dir, port, extra_conf, &[])
}

/// The libfaketime preload library (Debian package `faketime`).
pub fn libfaketime() -> PathBuf {
    let p = PathBuf::from("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1");
    assert!(
        p.exists(),
        "libfaketime is missing: install the Debian package `faketime` (.ci/run does this)"
    );
    p
}

/// As [`start_chronyd_server`] (no extra configuration), its clock moved by
/// libfaketime's `FAKETIME` (e.g. `+1s`): a falseticker that keeps its own PID.
pub fn start_chronyd_server_faked(dir: &TempDir, port: u16, faketime: &str) -> Proc {
    let lib = libfaketime();
    start_chronyd_server_env(
        dir,
        port,
        "",
        &[
            ("LD_PRELOAD", lib.as_os_str()),
            ("FAKETIME", std::ffi::OsStr::new(faketime)),
        ],
    )
}

/// As [`start_chronyd_server`], with extra environment variables (e.g. libfaketime's
/// `LD_PRELOAD` + `FAKETIME=+1s` for a falseticker that keeps its own PID).
pub fn start_chronyd_server_env(
    dir: &TempDir,
    port: u16,
    extra_conf: &str,
    env: &[(&str, &std::ffi::OsStr)],
) -> Proc {
    let chronyd = require("chronyd", "chrony");
    let conf = dir.join("chrony.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbindaddress 127.0.0.1\nlocal stratum 10\nallow 127.0.0.0/8\n\
             cmdport 0\npidfile {}\ndriftfile {}\n{extra_conf}\n",
            dir.join("chronyd.pid").display(),
            dir.join("chrony.drift").display()
        ),
    )
    .expect("write chrony.conf");
    let mut cmd = Command::new(chronyd);
    cmd.args(["-x", "-d", "-f"]).arg(&conf);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let p = spawn_logged(cmd, "chronyd", dir.join("chronyd.log"));
    wait_for_ntp(
        SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(10),
        &p,
    );
    p
}

/// `chronyd -Q`: a real chronyd measuring a server without touching the clock.
/// Returns (exit success, combined output of every attempt).
///
/// chronyd -Q polls every 1/64 s and takes four samples; on a loaded 2-core machine
/// one late answer crosses the next request and chronyd gives up ("No suitable
/// source"). So, as a client with a clock filter would, up to three runs: the
/// first that accepts the server counts, and a refusal must be repeated three times.
pub fn chronyd_query(host: &str, port: u16) -> (bool, String) {
    let mut text = String::new();
    for attempt in 1..=3 {
        let (ok, out) = chronyd_query_once(host, port);
        text.push_str(&format!("--- chronyd -Q attempt {attempt}\n{out}"));
        if ok {
            return (true, out);
        }
    }
    (false, text)
}

fn chronyd_query_once(host: &str, port: u16) -> (bool, String) {
    let chronyd = require("chronyd", "chrony");
    let mut cmd = Command::new(chronyd);
    cmd.args(["-Q", "-t", "6"]).arg(format!(
        "server {host} port {port} iburst minpoll -6 maxpoll -6 maxsamples 4"
    ));
    let out = run_with_timeout(cmd, Duration::from_secs(20));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The number right after `marker` on the first line of `text` that contains
/// `marker` (up to a blank or a comma): `offset` in ntpdate's lines, chronyd's
/// "wrong by", ntpd -q's "time set".
pub fn number_after(text: &str, marker: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.contains(marker))?;
    let after = line.split(marker).nth(1)?;
    after
        .split(|c: char| c.is_whitespace() || c == ',')
        .find(|w| !w.is_empty())?
        .parse()
        .ok()
}

/// Parses chronyd -Q's "System clock wrong by X seconds" line.
pub fn chronyd_offset(text: &str) -> Option<f64> {
    number_after(text, "System clock wrong by")
}

/// A network namespace with loopback up, deleted on drop. For the tools that insist
/// on port 123.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    pub fn new(tag: &str) -> Self {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let name = format!("slew-{tag}-{}-{n}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "`ip netns add {name}` failed: these tests need root and iproute2"
        );
        let ns = Self { name };
        let ok = ns.exec_status(&["ip", "link", "set", "lo", "up"]);
        assert!(ok, "cannot bring up lo in {}", ns.name);
        ns
    }

    /// A command that runs inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    pub fn exec_status(&self, argv: &[&str]) -> bool {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(argv);
        c.status().map(|s| s.success()).unwrap_or(false)
    }

    /// Moves the calling thread (only it: a network namespace is per thread) into
    /// the namespace; sockets it opens and processes it spawns live there.
    pub fn enter_this_thread(&self) {
        let f = std::fs::File::open(format!("/run/netns/{}", self.name)).expect("open netns");
        use std::os::fd::AsRawFd;
        // SAFETY: setns(2) on a namespace fd we hold open; affects this thread only.
        let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(
            r,
            0,
            "setns into {}: {}",
            self.name,
            std::io::Error::last_os_error()
        );
    }

    /// Adds `addr` (CIDR) to the namespace's lo: the extra loopback-only source
    /// addresses a test needs (ULA fd00::/8 for IPv6, never routed anywhere).
    pub fn add_lo_addr(&self, cidr: &str) {
        let ok = if cidr.contains(':') {
            self.exec_status(&["ip", "-6", "addr", "add", cidr, "dev", "lo", "nodad"])
        } else {
            self.exec_status(&["ip", "addr", "add", cidr, "dev", "lo"])
        };
        assert!(ok, "cannot add {cidr} to lo in {}", self.name);
    }

    /// Waits until something answers NTP on 127.0.0.1:123 inside the namespace.
    pub fn wait_for_ntp(&self, who: &Proc) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let ok = self.exec_status(&[
                "python3",
                "-c",
                "import socket,sys;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);\
                 s.settimeout(0.3);r=bytearray(48);r[0]=0x23;s.sendto(r,('127.0.0.1',123));\
                 s.recv(1024)",
            ]);
            if ok {
                return;
            }
        }
        panic!(
            "{} did not answer in {}; log:\n{}",
            who.name,
            self.name,
            who.log_text()
        );
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// stdout + stderr of an output as one string.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ---- TAP links for the embedded (smoltcp) tests ----

/// A TAP device inside a namespace, its kernel side addressed from the documentation
/// ranges (192.0.2.0/24, 2001:db8::/64). Nothing routes out of the namespace; the
/// device goes when the namespace is deleted.
pub struct TapLink {
    pub dev: String,
    /// The kernel ("host") side of the link, where the servers listen.
    pub host_v4: std::net::IpAddr,
    pub host_v6: std::net::IpAddr,
    /// Addresses for the appliance (smoltcp) side, as `--addr` takes them.
    pub appliance_cidrs: [&'static str; 2],
}

/// Creates `tap0` in `ns` with 192.0.2.1/24 and 2001:db8::1/64 (no DAD, so it is
/// usable at once) on the kernel side.
pub fn add_tap_link(ns: &NetNs) -> TapLink {
    let dev = "tap0";
    for argv in [
        vec!["ip", "tuntap", "add", "dev", dev, "mode", "tap"],
        vec!["ip", "link", "set", dev, "up"],
        vec!["ip", "addr", "add", "192.0.2.1/24", "dev", dev],
        vec!["ip", "addr", "add", "2001:db8::1/64", "dev", dev, "nodad"],
    ] {
        assert!(ns.exec_status(&argv), "{argv:?} failed in {}", ns.name);
    }
    TapLink {
        dev: dev.into(),
        host_v4: "192.0.2.1".parse().unwrap(),
        host_v6: "2001:db8::1".parse().unwrap(),
        appliance_cidrs: ["192.0.2.2/24", "2001:db8::2/64"],
    }
}

/// A real chronyd inside `ns` serving its clock (`local stratum 10`) on port 123 of
/// the link's kernel-side addresses, never touching the clock (`-x`), files under
/// `dir`. The caller waits for it (the appliance's iburst copes with a late start).
pub fn start_chronyd_on_link(ns: &NetNs, dir: &TempDir, link: &TapLink) -> Proc {
    let chronyd = require("chronyd", "chrony");
    let conf = dir.join("chrony.conf");
    std::fs::write(
        &conf,
        format!(
            "port 123\nbindaddress {}\nbindaddress {}\nlocal stratum 10\nallow all\n\
             cmdport 0\npidfile {}\ndriftfile {}\n",
            link.host_v4,
            link.host_v6,
            dir.join("chronyd.pid").display(),
            dir.join("chrony.drift").display()
        ),
    )
    .expect("write chrony.conf");
    let mut cmd = ns.command(chronyd.to_str().expect("utf-8 path"));
    cmd.args(["-x", "-d", "-u", "root", "-f"]).arg(&conf);
    spawn_logged(cmd, "chronyd", dir.join("chronyd.log"))
}

static BUILD_APPLIANCE: Once = Once::new();

/// Path of the appliance example (examples/appliance), built once per test process.
pub fn appliance_bin() -> PathBuf {
    BUILD_APPLIANCE.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "slew-appliance", "--bins"])
            .current_dir(root())
            .status()
            .expect("run cargo build for the appliance");
        assert!(status.success(), "building the appliance failed");
    });
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let path = dir.join("appliance");
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// One NTP exchange with `addr`: (offset of its clock from ours in seconds, stratum,
/// refid bytes), from the four timestamps, or `None` without an answer.
pub fn measure(addr: SocketAddr) -> Option<(f64, u8, [u8; 4])> {
    fn now_ntp() -> (u64, f64) {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let secs = d.as_secs() + 2_208_988_800;
        let frac = ((d.subsec_nanos() as u64) << 32) / 1_000_000_000;
        ((secs << 32) | frac, d.as_secs_f64())
    }
    fn ts(b: &[u8]) -> f64 {
        let v = u64::from_be_bytes(b.try_into().unwrap());
        (v >> 32) as f64 - 2_208_988_800.0 + (v & 0xffff_ffff) as f64 / 4_294_967_296.0
    }
    let bind = if addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let mut req = [0u8; 48];
    req[0] = 0x23;
    let (t1_bits, t1) = now_ntp();
    req[40..48].copy_from_slice(&t1_bits.to_be_bytes());
    s.send_to(&req, addr).ok()?;
    let mut buf = [0u8; 1024];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    let (_, t4) = now_ntp();
    if n < 48 || buf[24..32] != t1_bits.to_be_bytes() {
        return None;
    }
    let (t2, t3) = (ts(&buf[32..40]), ts(&buf[40..48]));
    let offset = ((t2 - t1) + (t3 - t4)) / 2.0;
    Some((offset, buf[1], [buf[12], buf[13], buf[14], buf[15]]))
}

/// Waits (bounded) until `check` holds for a measurement of `addr`; returns the last
/// measurement, or panics with `what` and `log` after `limit`.
pub fn wait_until(
    addr: SocketAddr,
    limit: Duration,
    what: &str,
    who: &Proc,
    check: impl Fn(f64, u8, [u8; 4]) -> bool,
) -> (f64, u8, [u8; 4]) {
    let deadline = Instant::now() + limit;
    let mut last = None;
    while Instant::now() < deadline {
        if let Some((o, st, r)) = measure(addr) {
            last = Some((o, st, r));
            if check(o, st, r) {
                return (o, st, r);
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!(
        "{what}: not reached within {limit:?}; last measurement {last:?}; {} log:\n{}",
        who.name,
        who.log_text()
    );
}

/// Writes `leap-seconds.list` into `dir` with the next leap second (an insertion) at
/// the midnight ten days from now, inside ntpd's 28-day announcement window; returns
/// its path.
pub fn write_leapfile_ten_days_ahead(dir: &TempDir) -> PathBuf {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let midnight = (now / 86_400 + 10) * 86_400 + 2_208_988_800;
    let list = format!(
        "#@\t{}\n2272060800\t10\t# 1 Jan 1972\n3692217600\t37\t# 1 Jan 2017\n{midnight}\t38\n",
        midnight + 86_400 * 100
    );
    let path = dir.join("leap-seconds.list");
    std::fs::write(&path, list).expect("write leapfile");
    path
}
