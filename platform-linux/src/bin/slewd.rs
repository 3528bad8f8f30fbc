//! `slewd`: the slew NTP daemon.
//!
//! Reads an ntp.conf (`-c`, default `/etc/ntp.conf`), binds its sockets (`--listen`,
//! default port 123 on every address), follows the configured servers, disciplines
//! the clock (`--clock`, the kernel's by default) and serves time until SIGTERM or
//! SIGINT. `-q` sets the time once and exits, like `ntpd -q`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use slew_core::Clock;
use slew_linux::daemon::{Daemon, Exit, NtsServerOptions};
use slew_linux::os::clock::{virtual_clock, KernelClock, ObserveClock};
use slew_linux::os::host::SystemHost;
use slew_linux::os::logger::{self, Sink};
use slew_linux::os::notify;
use slew_linux::os::privdrop::{self, Target};
use slew_linux::os::signals;
use slew_linux::settings::{self, ClockKind, Overrides, Settings};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ClockArg {
    /// The system clock, through clock_adjtime (needs CAP_SYS_TIME).
    Kernel,
    /// Measure and report, never adjust (a dry run beside another daemon).
    Observe,
    /// An in-process software clock (tests, demonstrations).
    Virtual,
}

#[derive(Parser, Debug)]
#[command(name = "slewd", version, about = "The slew NTP daemon")]
struct Args {
    /// Configuration file (ntp.conf dialect).
    #[arg(short = 'c', long = "config", default_value = "/etc/ntp.conf")]
    config: PathBuf,
    /// Stay in the foreground and log to stderr.
    #[arg(short = 'n', long = "nofork")]
    foreground: bool,
    /// Serve on ADDR:PORT instead of port 123 on every address (repeatable).
    #[arg(long = "listen", value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
    /// Write the process id to this file.
    #[arg(short = 'p', long = "pidfile")]
    pidfile: Option<PathBuf>,
    /// Allow one correction beyond the panic threshold (ntpd -g).
    #[arg(short = 'g')]
    allow_big_first: bool,
    /// Set the time once and exit (ntpd -q): steps when far off, else slews.
    #[arg(short = 'q')]
    once: bool,
    /// Never step the clock, slew everything (ntpd -x).
    #[arg(short = 'x')]
    slew_only: bool,
    /// Which clock to discipline.
    #[arg(long = "clock", value_enum, default_value = "kernel")]
    clock: ClockArg,
    /// With --clock virtual: its starting offset from the system clock, seconds.
    #[arg(
        long = "virtual-offset",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    virtual_offset_s: f64,
    /// With --clock virtual: its oscillator's frequency error, ppm.
    #[arg(
        long = "virtual-freq",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    virtual_freq_ppm: f64,
    /// Check the configuration, print what is wrong, and exit (0 when it is fine).
    #[arg(long = "check-config")]
    check_config: bool,
    /// Serve Prometheus metrics on ADDR:PORT (off by default), e.g. 127.0.0.1:9975.
    #[arg(long = "metrics", value_name = "ADDR:PORT")]
    metrics: Option<SocketAddr>,
    /// More detail in the log.
    #[arg(short = 'D', long = "debug")]
    debug: bool,
    /// Serve from N more threads beside the main loop, each on its own SO_REUSEPORT
    /// socket per listen address (0: the main loop serves alone).
    #[arg(long = "server-threads", value_name = "N", default_value_t = 0)]
    server_threads: usize,
    /// After binding, run as USER (and GROUP, else USER's group), keeping only
    /// CAP_SYS_TIME (none with --clock observe|virtual). Needs root.
    #[arg(short = 'u', long = "user", value_name = "USER[:GROUP]")]
    user: Option<String>,
    /// With `nts enable`: the NTS-KE server's TCP port (default 4460), on the listen
    /// addresses.
    #[arg(long = "nts-ke-port", value_name = "PORT")]
    nts_ke_port: Option<u16>,
    /// Tests only: rotate the NTS master key every N seconds (0: daily).
    #[arg(long = "nts-rotation-s", hide = true, default_value_t = 0)]
    nts_rotation_s: u64,
    /// Tests only: the rate-limited log's window in seconds (0: the defaults, 60 s),
    /// so that a test sees the "N more … suppressed" summary without waiting.
    #[arg(long = "log-window-s", hide = true, default_value_t = 0)]
    log_window_s: u64,
}

impl Args {
    fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen.clone(),
            allow_big_first: self.allow_big_first,
            slew_only: self.slew_only,
            once: self.once,
            clock: match self.clock {
                ClockArg::Kernel => ClockKind::Kernel,
                ClockArg::Observe => ClockKind::Observe,
                ClockArg::Virtual => ClockKind::Virtual {
                    offset_s: self.virtual_offset_s,
                    frequency_error_ppm: self.virtual_freq_ppm,
                },
            },
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let loaded = match settings::load(&args.config, &args.overrides(), &SystemHost) {
        Ok(l) => l,
        Err(report) => {
            eprintln!("{report}");
            eprintln!(
                "slewd: {} has errors; nothing was started",
                args.config.display()
            );
            return ExitCode::from(2);
        }
    };
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    for w in &loaded.settings.hardening.unresolved {
        eprintln!("warning: {w}");
    }
    let target = match args.user.as_deref().map(Target::lookup).transpose() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("slewd: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        println!("{}: configuration OK", args.config.display());
        return ExitCode::SUCCESS;
    }
    let settings = loaded.settings;
    match settings.clock {
        ClockKind::Kernel => serve(&args, target.as_ref(), settings, KernelClock::new()),
        ClockKind::Observe => serve(&args, target.as_ref(), settings, ObserveClock::default()),
        ClockKind::Virtual {
            offset_s,
            frequency_error_ppm,
        } => serve(
            &args,
            target.as_ref(),
            settings,
            virtual_clock(offset_s, frequency_error_ppm),
        ),
    }
}

/// `-u`: become the user once the sockets are bound; CAP_SYS_TIME stays only for the
/// kernel clock. Then check that the driftfile can still be rewritten.
fn drop_root(target: &Target, kernel_clock: bool, driftfile: Option<&Path>) -> bool {
    match privdrop::drop_privileges(target, kernel_clock) {
        Ok(kept) => log::info!(
            "running as {} (uid {}, gid {}), capabilities kept: {}",
            target.user,
            target.uid,
            target.gid,
            if kept == 0 { "none" } else { "cap_sys_time" }
        ),
        Err(e) => {
            log::error!("cannot drop privileges: {e}");
            return false;
        }
    }
    if let Some(dir) = driftfile.and_then(Path::parent) {
        if !privdrop::can_write_dir(dir) {
            log::warn!(
                "{} cannot write in {}: the driftfile will not be saved (chown the directory to {})",
                target.user,
                dir.display(),
                target.user
            );
        }
    }
    true
}

fn serve<C: Clock>(args: &Args, target: Option<&Target>, settings: Settings, clock: C) -> ExitCode {
    let kernel_clock = settings.clock == ClockKind::Kernel;
    let driftfile = settings.driftfile.clone();
    let sink = match (&settings.logfile, args.foreground) {
        (Some(path), _) => Sink::File(path.clone()),
        (None, true) => Sink::Stderr,
        (None, false) => Sink::Syslog,
    };
    // Until the daemon has detached, everything goes to the terminal.
    logger::init(Sink::Stderr, "slewd", args.debug);
    slew_linux::os::ratelog::set_window_override(args.log_window_s);
    let mut daemon = match Daemon::new(settings, clock) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("slewd: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = daemon.prepare_server_threads(args.server_threads.min(64)) {
        eprintln!("slewd: server threads: {e}");
        return ExitCode::from(1);
    }
    if let Some(addr) = args.metrics {
        if let Err(e) = daemon.enable_metrics(addr) {
            eprintln!("slewd: --metrics {addr}: {e}");
            return ExitCode::from(1);
        }
    }
    if !args.foreground && !args.once {
        // Sockets are bound before forking so that bind errors reach the terminal.
        if let Err(e) = nix::unistd::daemon(false, false) {
            eprintln!("slewd: cannot detach: {e}");
            return ExitCode::from(1);
        }
    }
    logger::init(sink, "slewd", args.debug);
    if let Some(path) = &args.pidfile {
        if let Err(e) = std::fs::write(path, format!("{}\n", std::process::id())) {
            log::error!("cannot write pidfile {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    // After detaching (threads do not survive the fork), before dropping privileges
    // (the key file and the TLS key are root's).
    let nts_opts = NtsServerOptions {
        ke_port: args.nts_ke_port,
        rotation: (args.nts_rotation_s > 0).then(|| Duration::from_secs(args.nts_rotation_s)),
    };
    if let Err(e) = daemon.start_nts_server(nts_opts) {
        log::error!("{e}");
        eprintln!("slewd: {e}");
        return ExitCode::from(1);
    }
    if let Some(target) = target {
        if !drop_root(target, kernel_clock, driftfile.as_deref()) {
            return ExitCode::from(1);
        }
    }
    if let Err(e) = signals::install() {
        log::error!("cannot install signal handlers: {e}");
        return ExitCode::from(1);
    }
    let (path, overrides) = (args.config.clone(), args.overrides());
    daemon.set_reload_source(std::sync::Arc::new(move || {
        settings::load(&path, &overrides, &SystemHost)
    }));
    // Sockets bound, privileges dropped, handlers in place: time can be asked for.
    notify::notify_or_log("READY=1\nSTATUS=serving NTP");
    let result = loop {
        match daemon.run() {
            Ok(Exit::Reload) => {
                notify::notify_or_log("RELOADING=1");
                apply_reload(&mut daemon, args);
                notify::notify_or_log("READY=1\nSTATUS=serving NTP");
            }
            other => break other,
        }
    };
    notify::notify_or_log("STOPPING=1");
    daemon.shutdown();
    if let Some(path) = &args.pidfile {
        let _ = std::fs::remove_file(path);
    }
    match result {
        Ok(Exit::Clean) | Ok(Exit::Reload) => ExitCode::SUCCESS,
        Ok(Exit::NoServer) => ExitCode::from(1),
        Ok(Exit::Panic) => ExitCode::from(1),
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(1)
        }
    }
}

/// Applies the configuration SIGHUP read (or says why it keeps the running one).
fn apply_reload<C: Clock>(daemon: &mut Daemon<C>, args: &Args) {
    match daemon.take_reloaded() {
        Some(Ok(loaded)) => {
            for w in &loaded.warnings {
                log::warn!("SIGHUP: {w}");
            }
            // After `-u` the keys file (0600 root on CentOS) may no longer be
            // readable: reloading would silently drop every key and answer
            // authenticated clients with crypto-NAKs. Keep what runs.
            let keys_lost = loaded.warnings.iter().any(|w| {
                matches!(
                    w.kind,
                    slew_linux::config::WarningKind::KeysUnreadable { .. }
                )
            }) && daemon.has_keys();
            if keys_lost {
                log::error!(
                    "SIGHUP: the keys file cannot be read now (permissions after -u?); keeping the running configuration"
                );
            } else {
                daemon.reload(loaded.settings);
            }
        }
        Some(Err(report)) => log::error!(
            "SIGHUP: {} has errors, keeping the running configuration:\n{report}",
            args.config.display()
        ),
        None => {}
    }
}
