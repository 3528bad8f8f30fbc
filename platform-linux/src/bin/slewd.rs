//! `slewd`: the slew NTP daemon.
//!
//! Reads an ntp.conf (`-c`, default `/etc/ntp.conf`), binds its sockets (`--listen`,
//! default port 123 on every address), and serves time until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use slew_linux::daemon::Daemon;
use slew_linux::logger::{self, Sink};
use slew_linux::{settings, signals};

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
    /// Check the configuration, print what is wrong, and exit (0 when it is fine).
    #[arg(long = "check-config")]
    check_config: bool,
    /// More detail in the log.
    #[arg(short = 'D', long = "debug")]
    debug: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let loaded = match settings::load(&args.config, &args.listen) {
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
    if args.check_config {
        println!("{}: configuration OK", args.config.display());
        return ExitCode::SUCCESS;
    }
    let sink = if args.foreground {
        Sink::Stderr
    } else {
        Sink::Syslog
    };
    let mut daemon = match Daemon::new(loaded.settings) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("slewd: {e}");
            return ExitCode::from(1);
        }
    };
    if !args.foreground {
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
    if let Err(e) = signals::install() {
        log::error!("cannot install signal handlers: {e}");
        return ExitCode::from(1);
    }
    let result = daemon.run();
    if let Some(path) = &args.pidfile {
        let _ = std::fs::remove_file(path);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(1)
        }
    }
}
