//! `slew-load`: open-loop NTP client traffic over loopback, for measuring servers.
//!
//! Sends mode 3 requests at a fixed rate (`--rate`) or a geometric ramp (`--ramp`)
//! from many loopback source addresses and ports, never waiting for answers (open
//! loop: a slow server sees the offered rate, not a politely reduced one). A second
//! thread receives and checks every answer (origin, mode 4, stratum, source address)
//! and takes its latency from the kernel's receive stamp. A progress line is printed
//! each second; each step ends with responses/s, loss and latency percentiles, and a
//! ramp ends with the highest rate served under `--max-loss`.
//!
//! `--nts-ke HOST` makes one NTS-KE first (port `--nts-ke-port`, CAs from `--nts-ca`)
//! and then sends NTS requests (RFC 8915) to `--server`: every one with the KE's
//! first cookie, a fresh Unique Identifier and an authenticator under C2S; an answer
//! counts only when it echoes that identifier and verifies under S2C
//! (`slew_linux::load::nts`).
//!
//! Bounded: every step lasts `--step-secs` (at most 600 s in all) and the whole run
//! sends at most `--count` requests.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use slew_core::wire::HEADER_LEN;
use slew_linux::load::{self, Bad, Bitmap, Tally};
use slew_linux::os::batch::{RecvBatch, SendBatch, BATCH};
use slew_linux::os::net::NtpSocket;
use slew_linux::os::time::realtime_now;

#[derive(Parser, Debug)]
#[command(name = "slew-load", about = "Open-loop NTP load over loopback")]
struct Args {
    /// The server to load (a loopback address).
    #[arg(long, value_name = "ADDR:PORT")]
    server: SocketAddr,
    /// A fixed rate, requests per second.
    #[arg(long, conflicts_with = "ramp")]
    rate: Option<u64>,
    /// A ramp: START:END:FACTOR (each step's rate is the last one times FACTOR),
    /// stopping at the first step whose loss reaches --max-loss.
    #[arg(long, value_name = "START:END:FACTOR")]
    ramp: Option<String>,
    /// After a ramp step fails, bisect between the last good and the failed rate this
    /// many times.
    #[arg(long, default_value_t = 0)]
    refine: u32,
    /// Seconds per step (a fixed rate is one step).
    #[arg(long, default_value_t = 3.0)]
    step_secs: f64,
    /// Loss (percent) at which a ramp stops.
    #[arg(long, default_value_t = 1.0)]
    max_loss: f64,
    /// Upper bound on requests in the whole run.
    #[arg(long, default_value_t = 20_000_000)]
    count: u64,
    /// Source addresses: A-B (loopback only).
    #[arg(long, default_value = "127.1.0.1-127.1.0.64")]
    sources: String,
    /// Sockets (source ports) per source address.
    #[arg(long, default_value_t = 2)]
    ports: usize,
    /// Seconds to wait for late answers after each step.
    #[arg(long, default_value_t = 0.3)]
    grace: f64,
    /// No progress line.
    #[arg(short, long)]
    quiet: bool,
    /// NTS: the NTS-KE server's name (checked against its certificate).
    #[arg(long, value_name = "HOST")]
    nts_ke: Option<String>,
    /// NTS: its NTS-KE port.
    #[arg(long, default_value_t = slew_core::nts::ke_msg::KE_PORT)]
    nts_ke_port: u16,
    /// NTS: a PEM file of CAs to trust instead of the system store.
    #[arg(long, value_name = "FILE")]
    nts_ca: Option<std::path::PathBuf>,
}

/// State the sender and the receiver share.
struct Shared {
    key: u64,
    server: SocketAddr,
    /// Requests sent so far (sequence numbers below this are ours).
    sent: AtomicU64,
    /// First sequence number of the current step.
    step_start: AtomicU64,
    stop: AtomicBool,
    tally: Mutex<Tally>,
    /// Realtime at the run's start (send times are microseconds since then).
    t0: slew_core::NtpTimestamp,
    /// `--nts-ke`: what NTS requests are built and answers verified with.
    nts: Option<load::nts::NtsLoad>,
}

/// What one step measured.
#[derive(Clone, Copy, Debug)]
struct StepResult {
    rate: u64,
    sent: u64,
    send_errors: u64,
    answered: u64,
    bad: u64,
    secs: f64,
    p: load::Percentiles,
}

impl StepResult {
    fn loss_pct(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        100.0 * (1.0 - self.answered as f64 / self.sent as f64)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("slew-load: {e}");
            ExitCode::from(2)
        }
    }
}

fn random_key() -> u64 {
    slew_linux::os::entropy::random_u64()
}

fn run(args: &Args) -> Result<ExitCode, String> {
    if !args.server.ip().is_loopback() {
        return Err(format!("{}: only loopback servers", args.server));
    }
    if !(0.1..=600.0).contains(&args.step_secs) {
        return Err("--step-secs must be within 0.1..600".into());
    }
    let sources = load::parse_sources(&args.sources)?;
    let ports = args.ports.clamp(1, 64);
    let mut sockets = Vec::with_capacity(sources.len() * ports);
    for ip in &sources {
        for _ in 0..ports {
            let s = NtpSocket::bind(SocketAddr::from((*ip, 0)))
                .map_err(|e| format!("cannot bind {ip}: {e}"))?;
            sockets.push(s);
        }
    }
    let sockets = Arc::new(sockets);
    let nts = match &args.nts_ke {
        None => None,
        Some(host) => {
            let mut req = slew_linux::server::nts::KeRequest::new(host);
            req.port = args.nts_ke_port;
            req.ca_file = args.nts_ca.clone();
            let ke = slew_linux::server::nts::client::exchange(&req)
                .map_err(|e| format!("NTS-KE with {host}:{}: {e}", args.nts_ke_port))?;
            println!(
                "slew-load: NTS-KE with {} gave {} cookies",
                ke.ke_addr,
                ke.jar.cookies()
            );
            Some(load::nts::NtsLoad::new(&ke.jar, random_key()).ok_or("NTS-KE gave no cookie")?)
        }
    };
    let shared = Arc::new(Shared {
        key: random_key(),
        server: args.server,
        sent: AtomicU64::new(0),
        step_start: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        tally: Mutex::new(Tally::new()),
        t0: realtime_now(),
        nts,
    });
    let receiver = {
        let sockets = Arc::clone(&sockets);
        let shared = Arc::clone(&shared);
        let count = args.count;
        std::thread::spawn(move || receive(&sockets, &shared, count))
    };
    let rates = Rates::new(args)?;
    let started = Instant::now();
    let mut results: Vec<StepResult> = Vec::new();
    let mut rates = rates;
    println!(
        "slew-load: {} -> {} from {} sockets on {} addresses",
        args.sources,
        args.server,
        sockets.len(),
        sources.len()
    );
    while let Some(rate) = rates.next_rate() {
        if started.elapsed() > Duration::from_secs(600) {
            eprintln!("slew-load: 600 s bound reached");
            break;
        }
        let budget = args
            .count
            .saturating_sub(shared.sent.load(Ordering::Relaxed));
        if budget == 0 {
            eprintln!("slew-load: --count bound reached");
            break;
        }
        let r = step(args, &sockets, &shared, rate, budget);
        let ok = r.loss_pct() < args.max_loss;
        println!(
            "rate {:>8}/s: sent {:>9} ({} send errors), answered {:>9} ({:.0}/s), loss {:6.3} %, bad {}, latency p50 {} us p90 {} us p99 {} us max {} us{}",
            r.rate,
            r.sent,
            r.send_errors,
            r.answered,
            r.answered as f64 / r.secs,
            r.loss_pct(),
            r.bad,
            r.p.p50,
            r.p.p90,
            r.p.p99,
            r.p.max,
            if ok { "" } else { "  <- over the loss limit" }
        );
        results.push(r);
        rates.feed(rate, ok);
    }
    shared.stop.store(true, Ordering::Relaxed);
    let bad = match receiver.join() {
        Ok(b) => b,
        Err(_) => return Err("receiver thread failed".into()),
    };
    let best = results
        .iter()
        .filter(|r| r.loss_pct() < args.max_loss)
        .max_by_key(|r| r.rate);
    let total_bad: u64 = bad.iter().sum();
    if total_bad > 0 {
        let parts: Vec<String> = Bad::ALL
            .iter()
            .zip(bad.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(b, n)| format!("{n} {}", b.name()))
            .collect();
        println!("rejected responses: {}", parts.join(", "));
    }
    match best {
        Some(r) => {
            println!(
                "RESULT max_rate={} answered_per_s={:.0} loss_pct={:.3} p50_us={} p90_us={} p99_us={} max_us={} bad={}",
                r.rate,
                r.answered as f64 / r.secs,
                r.loss_pct(),
                r.p.p50,
                r.p.p90,
                r.p.p99,
                r.p.max,
                total_bad
            );
            Ok(if total_bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        None => {
            println!("RESULT max_rate=0 bad={total_bad}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The rates to try: fixed, or a geometric ramp, then optional bisection between
/// the last good and the first failed rate.
struct Rates {
    fixed: Option<u64>,
    next: u64,
    end: u64,
    factor: f64,
    /// Bisection steps left; `Some` once a ramp step failed.
    bisect: Option<u32>,
    refine: u32,
    good: u64,
    failed: u64,
    done: bool,
}

impl Rates {
    fn new(args: &Args) -> Result<Self, String> {
        let mut r = Self {
            fixed: args.rate.map(|r| r.max(1)),
            next: 0,
            end: 0,
            factor: 2.0,
            bisect: None,
            refine: args.refine.min(10),
            good: 0,
            failed: 0,
            done: false,
        };
        if r.fixed.is_some() {
            return Ok(r);
        }
        let spec = args.ramp.as_deref().unwrap_or("10000:200000:1.25");
        let parts: Vec<&str> = spec.split(':').collect();
        let [start, end, factor] = parts.as_slice() else {
            return Err(format!("--ramp {spec}: want START:END:FACTOR"));
        };
        r.next = start.parse().map_err(|e| format!("{start}: {e}"))?;
        r.end = end.parse().map_err(|e| format!("{end}: {e}"))?;
        r.factor = factor.parse().map_err(|e| format!("{factor}: {e}"))?;
        if r.next == 0 || r.end < r.next || r.factor <= 1.0 {
            return Err(format!("--ramp {spec}: want 0 < START <= END, FACTOR > 1"));
        }
        Ok(r)
    }

    fn next_rate(&mut self) -> Option<u64> {
        if self.done {
            return None;
        }
        if let Some(r) = self.fixed {
            self.done = true;
            return Some(r);
        }
        match self.bisect {
            None => (self.next <= self.end).then_some(self.next),
            Some(left) => (left > 0 && self.failed > self.good + self.good / 50)
                .then_some((self.good + self.failed) / 2),
        }
    }

    fn feed(&mut self, rate: u64, ok: bool) {
        if self.fixed.is_some() {
            return;
        }
        if ok {
            self.good = rate;
        } else {
            self.failed = rate;
        }
        match self.bisect {
            None if ok => {
                let n = ((self.next as f64) * self.factor) as u64;
                self.next = n.max(self.next + 1);
            }
            None => self.bisect = Some(self.refine),
            Some(left) => self.bisect = Some(left.saturating_sub(1)),
        }
    }
}

/// Sends `rate`/s for `--step-secs`, waits `--grace`, returns what was measured.
fn step(args: &Args, sockets: &[NtpSocket], shared: &Shared, rate: u64, budget: u64) -> StepResult {
    let first = shared.sent.load(Ordering::Relaxed);
    shared.step_start.store(first, Ordering::Relaxed);
    if let Ok(mut t) = shared.tally.lock() {
        *t = Tally::new();
    }
    let total = ((rate as f64 * args.step_secs) as u64).clamp(1, budget);
    let start = Instant::now();
    let mut sent = 0u64;
    let mut send_errors = 0u64;
    let mut tx = SendBatch::new();
    let mut next_progress = Duration::from_secs(1);
    let mut sock = 0usize;
    while sent < total {
        let elapsed = start.elapsed();
        let due = ((elapsed.as_secs_f64() * rate as f64) as u64 + 1).min(total);
        if due <= sent {
            let wait = Duration::from_secs_f64((sent as f64 + 1.0) / rate as f64)
                .saturating_sub(elapsed)
                .min(Duration::from_micros(500));
            std::thread::sleep(wait);
            continue;
        }
        while sent < due {
            // One sendmmsg of up to BATCH requests from the next socket.
            let Some(s) = sockets.get(sock) else {
                break;
            };
            sock = (sock + 1) % sockets.len();
            let n = (due - sent).min(BATCH as u64);
            let sent_us = (realtime_now() - shared.t0).to_nanos().max(0) as u64 / 1000;
            for k in 0..n {
                let Some(buf) = tx.next_buf() else { break };
                let nonce = load::nonce(shared.key, first + sent + k, sent_us);
                let len = match &shared.nts {
                    Some(nts) => nts.build(&mut buf[..], nonce),
                    None => match (&mut buf[..HEADER_LEN]).try_into() {
                        Ok(req) => {
                            load::build_request(req, nonce);
                            HEADER_LEN
                        }
                        Err(_) => 0,
                    },
                };
                if len == 0 {
                    break;
                }
                tx.push(len, shared.server);
            }
            // Publish the sequence numbers before the answers can arrive.
            shared.sent.store(first + sent + n, Ordering::Release);
            let f = tx.flush(s);
            send_errors += f.failed as u64;
            sent += n;
        }
        if !args.quiet && elapsed >= next_progress {
            let answered = shared.tally.lock().map(|t| t.answered).unwrap_or(0);
            eprintln!(
                "  {:>4.1} s  rate {rate}/s  sent {sent}  answered {answered}",
                elapsed.as_secs_f64()
            );
            next_progress += Duration::from_secs(1);
        }
    }
    let secs = start.elapsed().as_secs_f64().max(args.step_secs.min(1e-3));
    std::thread::sleep(Duration::from_secs_f64(args.grace.clamp(0.0, 5.0)));
    // The receiver counts under the lock; what it has counted now is final.
    let tally = shared.tally.lock().map(|t| t.clone()).unwrap_or_default();
    StepResult {
        rate,
        sent,
        send_errors,
        answered: tally.answered,
        bad: tally.bad_total(),
        secs,
        p: tally.percentiles(),
    }
}

/// Receives and checks answers until told to stop; returns the rejected-response
/// counts of the whole run.
fn receive(sockets: &[NtpSocket], shared: &Shared, count: u64) -> [u64; Bad::ALL.len()] {
    let mut answered = Bitmap::new(count);
    let mut bad_total = [0u64; Bad::ALL.len()];
    let mut rx = RecvBatch::new();
    while !shared.stop.load(Ordering::Relaxed) {
        let mut ready: Vec<usize> = Vec::new();
        {
            let mut fds: Vec<PollFd<'_>> = sockets
                .iter()
                .map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN))
                .collect();
            if poll(&mut fds, PollTimeout::from(50u8)).is_err() {
                continue;
            }
            for (i, fd) in fds.iter().enumerate() {
                if fd.revents().is_some_and(|r| !r.is_empty()) {
                    ready.push(i);
                }
            }
        }
        let Ok(mut tally) = shared.tally.lock() else {
            break;
        };
        let step_start = shared.step_start.load(Ordering::Relaxed);
        for i in ready {
            let Some(s) = sockets.get(i) else { continue };
            for _ in 0..16 {
                let n = match rx.recv(s) {
                    Ok(n) if n > 0 => n,
                    _ => break,
                };
                let sent = shared.sent.load(Ordering::Acquire);
                for k in 0..n {
                    let Some((r, bytes)) = rx.get(k) else {
                        continue;
                    };
                    let verified = match &shared.nts {
                        Some(nts) if r.from == shared.server => nts.verify(bytes),
                        _ => Ok(()),
                    };
                    match verified.and_then(|()| {
                        load::check_response(
                            bytes,
                            r.from,
                            shared.server,
                            shared.key,
                            sent,
                            &mut answered,
                        )
                    }) {
                        Ok((seq, _)) if seq < step_start => tally.late += 1,
                        Ok((_, sent_us)) => {
                            let rx_us = (r.rx_time - shared.t0).to_nanos().max(0) as u64 / 1000;
                            tally.answer(rx_us.saturating_sub(sent_us));
                        }
                        Err(why) => {
                            tally.reject(why);
                            if let Some(c) = bad_total.get_mut(why as usize) {
                                *c += 1;
                            }
                        }
                    }
                }
                if n < BATCH {
                    break;
                }
            }
        }
    }
    bad_total
}
