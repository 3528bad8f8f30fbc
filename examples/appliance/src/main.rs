//! The appliance firmware's main loop, run on Linux: smoltcp over a TAP device
//! (Ethernet frames, ARP and NDP by smoltcp itself), linux-embedded-hal's `Delay`
//! between stack polls, slew-embedded's `Ntp` service disciplining a `SoftClock`
//! that counts `CLOCK_MONOTONIC` nanoseconds.
//!
//! The soft clock starts off the system clock by `--offset` seconds and runs
//! `--freq-error` ppm fast, as a board with a bad RTC and a cheap crystal would; the
//! program prints, once a second, how far it is from the system clock (which the
//! server on the other end of the link serves) and, at the end, the final figure:
//!
//! ```text
//! appliance: final offset vs system clock +0.000012 s; within 1 ms since 3.1 s; steps 1
//! ```
//!
//! See the README ("The appliance on a TAP link") for the commands that make the link.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use linux_embedded_hal::Delay;
use slew_core::access::AccessFlags;
use slew_core::{NtpDuration, NtpTimestamp};
use slew_embedded::{
    allow_queries_from, lan_policy, sleep_until, Builder, DiscardParams, LanPolicy, Ntp, Server,
    SoftClock, StepPolicy, TickSource,
};
use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
use smoltcp::phy::{Medium, TunTapInterface};
use smoltcp::socket::udp;
use smoltcp::storage::PacketMetadata;
use smoltcp::wire::{EthernetAddress, HardwareAddress};

mod args;
mod tty;

use args::Args;

/// The board's timer: `CLOCK_MONOTONIC`, in nanoseconds since the program started.
struct MonotonicNanos(std::time::Instant);

impl TickSource for MonotonicNanos {
    fn ticks(&mut self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The longest sleep between two stack polls: a microcontroller would sleep until
/// the Ethernet interrupt; here the sleep bounds how late a receive timestamp can be.
const POLL_SLICE_NS: u32 = 200_000;

fn system_now() -> NtpTimestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    NtpTimestamp::from_unix(since.as_secs() as i64, since.subsec_nanos())
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("appliance: {msg}\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(converged) if converged || args.seconds == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(msg) => {
            eprintln!("appliance: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let mut device = TunTapInterface::new(&args.tap, Medium::Ethernet).map_err(|e| {
        format!(
            "cannot open TAP device {}: {e} (create it first, see the README)",
            args.tap
        )
    })?;
    // A locally administered MAC, fixed so that runs are repeatable.
    let mac = EthernetAddress([0x02, 0x00, 0x5e, 0x10, 0x00, 0x02]);
    let ticks = MonotonicNanos(std::time::Instant::now());
    let start = system_now() + NtpDuration::from_seconds_f64(args.offset_s);
    let clock =
        SoftClock::new(ticks, 1_000_000_000, start).with_frequency_error_ppm(args.freq_error_ppm);

    let mut builder = Builder::<4>::new(node_seed())
        .poll_bounds(args.minpoll, args.maxpoll)
        .step_policy(StepPolicy::AtStartOnly { threshold_s: 0.128 });
    for s in &args.servers {
        builder = builder.server(*s);
    }
    let node = builder
        .build_with::<1>(slew_core::Instant::ZERO)
        .map_err(|e| format!("configuration: {e:?}"))?;
    // Without `--serve`, `restrict default ignore`: the endpoint still takes its
    // servers' replies, and drops every request.
    let mut lan = lan_policy::<16>(DiscardParams::NTPD, limiter_key());
    if !args.serve {
        lan.access = slew_core::access::AccessTable::new(AccessFlags::IGNORE);
    }
    // `--query-from NET/LEN`: ntpq and ntpstat from there get answers.
    for net in &args.query_from {
        allow_queries_from(&mut lan, net.address().into(), net.prefix_len())
            .map_err(|e| format!("--query-from {net}: {e}"))?;
    }
    let mut ntp: Appliance<_> = Ntp::serving(clock, node, lan);
    // `--gps TTY`: the receiver is `server 127.127.20.0 minpoll 4 maxpoll 4`.
    let mut gps = match &args.gps {
        Some(path) => {
            let uart = tty::Tty::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
            let mut cfg = slew_core::refclock::source::RefclockConfig::new(
                slew_core::refclock::source::Driver::Nmea,
                0,
            );
            cfg.minpoll = slew_core::PollInterval::from_log2(4);
            cfg.maxpoll = slew_core::PollInterval::from_log2(4);
            cfg.mode = args.gps_mode;
            let id = ntp
                .node_mut()
                .add_refclock(cfg, slew_core::Instant::ZERO)
                .map_err(|_| "no room for the GPS refclock".to_string())?;
            let mode = slew_core::refclock::nmea_mode::NmeaMode(args.gps_mode);
            Some((slew_embedded::gps::UartGps::new(uart, mode), id))
        }
        None => None,
    };

    let mut iface = Interface::new(
        Config::new(HardwareAddress::Ethernet(mac)),
        &mut device,
        ntp.smoltcp_now(),
    );
    iface.update_ip_addrs(|addrs| {
        for a in &args.addrs {
            let _ = addrs.push(*a);
        }
    });
    let mut storage: [SocketStorage; 1] = Default::default();
    let mut sockets = SocketSet::new(&mut storage[..]);
    let mut rx_meta = [PacketMetadata::EMPTY; 8];
    let mut rx_data = [0u8; 1024];
    let mut tx_meta = [PacketMetadata::EMPTY; 8];
    let mut tx_data = [0u8; 1024];
    let mut socket = udp::Socket::new(
        udp::PacketBuffer::new(&mut rx_meta[..], &mut rx_data[..]),
        udp::PacketBuffer::new(&mut tx_meta[..], &mut tx_data[..]),
    );
    socket
        .bind(args.port)
        .map_err(|e| format!("bind port {}: {e}", args.port))?;
    let handle = sockets.add(socket);

    println!(
        "appliance: {} {:?} following {:?}; soft clock starts {:+.3} s off, {:+.1} ppm",
        args.tap, args.addrs, args.servers, args.offset_s, args.freq_error_ppm
    );
    let mut delay = Delay;
    let began = std::time::Instant::now();
    let limit = Duration::from_secs(args.seconds);
    let mut next_report = Duration::ZERO;
    let mut within_since: Option<Duration> = None;
    loop {
        let now = ntp.smoltcp_now();
        iface.poll(now, &mut device, &mut sockets);
        if let Some((uart, id)) = gps.as_mut() {
            if let Err(e) = ntp.feed_gps(uart, *id) {
                eprintln!("appliance: GPS read failed: {e:?}");
            }
        }
        let deadline = ntp.poll(sockets.get_mut::<udp::Socket>(handle));
        iface.poll(ntp.smoltcp_now(), &mut device, &mut sockets);

        let elapsed = began.elapsed();
        let offset_s = (ntp.clock().read() - system_now()).to_seconds_f64();
        if offset_s.abs() < args.within_ms * 1e-3 {
            within_since.get_or_insert(elapsed);
        } else {
            within_since = None;
        }
        if elapsed >= next_report {
            next_report += Duration::from_secs(1);
            report(&mut ntp, elapsed, offset_s);
        }
        if args.seconds > 0 && elapsed >= limit {
            let steps = ntp.clock().steps();
            let since =
                within_since.map_or("never".to_string(), |d| format!("{:.1} s", d.as_secs_f64()));
            println!(
                "appliance: final offset vs system clock {offset_s:+.6} s; within {} ms since {since}; steps {steps}",
                args.within_ms
            );
            return Ok(offset_s.abs() < args.within_ms * 1e-3);
        }
        let mono = ntp.now();
        sleep_until(&mut delay, mono, deadline, POLL_SLICE_NS);
    }
}

/// Four sources (servers, or three and a GPS), serving with 16 limiter slots.
type Appliance<T> = Ntp<T, 4, 1, LanPolicy<16>, Server>;

fn report<T: TickSource>(ntp: &mut Appliance<T>, elapsed: Duration, offset_s: f64) {
    let sys = ntp.node().system();
    let freq = ntp.clock().frequency_error_ppm() + sys.frequency_ppm;
    let peer = sys
        .system_peer
        .and_then(|id| {
            ntp.node()
                .sources(slew_core::Instant::ZERO)
                .find(|s| s.id == id)
        })
        .map_or("-".to_string(), |s| s.addr.to_string());
    println!(
        "t={:6.1}s offset {offset_s:+.6} s  peer {peer} stratum {} state {:?} freq-correction {:+.3} ppm (residual {freq:+.3} ppm) poll 2^{}",
        elapsed.as_secs_f64(),
        sys.vars.stratum,
        sys.state,
        sys.frequency_ppm,
        ntp.node().poll().log2(),
    );
}

/// The node's PRNG seed: from the process's own randomness (std's hasher keys,
/// drawn from the OS), standing in for a board's hardware RNG.
fn node_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(3u8)
}

/// The limiter's hash key, from the same stand-in for the board's RNG.
fn limiter_key() -> [u8; 16] {
    use std::hash::{BuildHasher, RandomState};
    let a = RandomState::new().hash_one(1u8);
    let b = RandomState::new().hash_one(2u8);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a.to_le_bytes());
    out[8..].copy_from_slice(&b.to_le_bytes());
    out
}
