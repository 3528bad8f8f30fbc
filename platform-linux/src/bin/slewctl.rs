//! `slewctl`: slew's command-line tool.
//!
//! `slewctl date [-q] [-p N] HOST[:PORT]...` is the `ntpdate -q` habit: it asks each
//! server for the time and prints ntpdate's lines; when no server can be used it says
//! why, server by server.
//!
//! `slewctl [-s HOST[:PORT]] peers` is `ntpq -p` with a column saying why each source
//! is not selected; `slewctl [-s HOST[:PORT]] status` is `ntpstat` (same lines, same
//! exit codes 0/1/2) plus the frequency and the discipline state. Both talk NTP
//! control messages (mode 6) to slewd or any ntpd. `--json` on each for scripts.
//!
//! Started as `ntpq`, `ntpstat` or `ntpdate` (the packages install those names as
//! links to slewctl) it is that tool: see `slew_linux::compat`.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use slew_core::endpoint::{Correction, Force, StepRule};
use slew_core::WideDuration;
use slew_linux::compat::{self, Personality};
use slew_linux::ctl::query::{self, QueryOptions};
use slew_linux::ctl::{self, json, peers, status, ControlClient};
use slew_linux::os::logger::{civil_from_days, format_utc};
use slew_linux::os::time::unix_now_s;

#[derive(Parser, Debug)]
#[command(
    name = "slewctl",
    version,
    about = "Query and control NTP servers and slewd"
)]
struct Cli {
    /// The daemon to ask (peers, status; date without servers): HOST[:PORT].
    #[arg(
        short = 's',
        long = "server",
        global = true,
        default_value = "127.0.0.1:123"
    )]
    server: String,
    /// Print JSON instead of text.
    #[arg(long = "json", global = true)]
    json: bool,
    /// Seconds to wait for each control answer (peers, status).
    #[arg(long = "timeout", global = true, default_value_t = 1.0)]
    timeout_s: f64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Ask servers for the time, like `ntpdate -q`.
    Date(DateArgs),
    /// The daemon's sources, like `ntpq -p`, with why each is not selected.
    Peers,
    /// Whether the daemon is synchronised, like `ntpstat` (exit 0, 1, or 2).
    Status,
}

#[derive(clap::Args, Debug, Clone)]
struct DateArgs {
    /// Query only; never touch the clock.
    #[arg(short = 'q')]
    query_only: bool,
    /// Step the clock (clock_adjtime ADJ_SETOFFSET), whatever the offset.
    #[arg(short = 'b', conflicts_with = "slew")]
    step: bool,
    /// Slew the clock (adjtime-style, 500 ppm), whatever the offset.
    #[arg(short = 'B')]
    slew: bool,
    /// Say what would be done to the clock, and do nothing.
    #[arg(long = "dry-run")]
    dry_run: bool,
    /// Samples to take from each server (1 to 8), as ntpdate's -p.
    #[arg(short = 'p', default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=8))]
    samples: u32,
    /// Seconds to wait for each answer.
    #[arg(short = 't', default_value_t = 1.0)]
    timeout_s: f64,
    /// NTP version to send (1 to 4).
    #[arg(short = 'o', default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=4))]
    version: u8,
    /// Accepted for ntpdate compatibility: slewctl always uses an unprivileged port.
    #[arg(short = 'u')]
    unprivileged: bool,
    /// Servers: HOST, HOST:PORT, [IPv6]:PORT (default: the -s server).
    #[arg(value_name = "HOST[:PORT]")]
    servers: Vec<String>,
    /// Set when slewctl runs as `ntpdate`: its options, lines and syslog.
    #[arg(skip)]
    ntpdate: Option<compat::ntpdate::Args>,
}

impl DateArgs {
    /// The name in the summary lines: `slewctl[pid]` or `ntpdate[pid]`.
    fn prog(&self) -> &'static str {
        if self.ntpdate.is_some() {
            "ntpdate"
        } else {
            "slewctl"
        }
    }

    /// Prints a summary line (`tag: message`), or sends it to syslog (ntpdate -s).
    fn say(&self, tag: &str, message: &str, error: bool) {
        match &self.ntpdate {
            Some(n) if n.syslog => compat::ntpdate::syslog(message, error),
            _ => println!("{tag}: {message}"),
        }
    }
}

fn main() -> ExitCode {
    let personality = std::env::args_os()
        .next()
        .map_or(Personality::Slewctl, |a0| Personality::from_argv0(&a0));
    let rest = || -> Vec<String> {
        std::env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    };
    match personality {
        Personality::Ntpq => return ExitCode::from(compat::ntpq::main(&rest())),
        Personality::Ntpstat => return ExitCode::from(compat::ntpstat::main(&rest())),
        Personality::Ntpdate => return ntpdate(&rest()),
        Personality::Slewctl => {}
    }
    let cli = Cli::parse();
    match &cli.command {
        Command::Date(args) => date(&cli, args),
        Command::Peers => show_peers(&cli),
        Command::Status => show_status(&cli),
    }
}

/// Connects to the -s server, or explains why not.
fn control_client(cli: &Cli) -> Result<ControlClient, String> {
    let addr = ctl::parse_server(&cli.server).map_err(|e| format!("{}: {e}", cli.server))?;
    let timeout = Duration::from_secs_f64(cli.timeout_s.clamp(0.01, 60.0));
    ControlClient::new(addr, timeout).map_err(|e| format!("{addr}: {e}"))
}

fn show_peers(cli: &Cli) -> ExitCode {
    let rows = control_client(cli).and_then(|mut c| {
        let addr = c.server();
        peers::fetch(&mut c).map_err(|e| format!("{addr}: {e}"))
    });
    match rows {
        Ok(rows) if cli.json => {
            println!("{}", peers::table_json(&cli.server, &rows));
            ExitCode::SUCCESS
        }
        Ok(rows) => {
            print!("{}", peers::table(&rows));
            if rows.is_empty() {
                eprintln!("slewctl: {} has no associations", cli.server);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("slewctl: {e}");
            ExitCode::from(status::EXIT_NO_DAEMON)
        }
    }
}

fn show_status(cli: &Cli) -> ExitCode {
    let st = control_client(cli).and_then(|mut c| {
        let addr = c.server();
        status::fetch(&mut c).map_err(|e| format!("{addr}: {e}"))
    });
    match st {
        Ok(st) => {
            if cli.json {
                println!("{}", st.json(&cli.server));
            } else {
                print!("{}", st.text());
            }
            ExitCode::from(st.exit_code())
        }
        Err(e) => {
            if cli.json {
                #[derive(serde::Serialize)]
                struct NoDaemon<'a> {
                    server: &'a str,
                    synchronised: bool,
                    exit: u8,
                    error: &'a str,
                }
                let j = json::to_string(&NoDaemon {
                    server: &cli.server,
                    synchronised: false,
                    exit: status::EXIT_NO_DAEMON,
                    error: &e.to_string(),
                });
                println!("{j}");
            } else {
                // ntpstat's words, then what went wrong.
                println!("Unable to talk to NTP daemon. Is it running?");
                eprintln!("slewctl: {e}");
            }
            ExitCode::from(status::EXIT_NO_DAEMON)
        }
    }
}

/// ntpdate's time prefix: `30 Nov 07:50:01`, in UTC.
fn ntpdate_stamp(unix_s: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (_, month, day) = civil_from_days(unix_s.div_euclid(86_400));
    // ntp's log time: the day right-aligned in two columns (` 1 Dec`).
    let hms = format_utc(unix_s);
    let time = hms.get(11..).unwrap_or("");
    let mon = MONTHS.get(month as usize - 1).copied().unwrap_or("???");
    format!("{day:>2} {mon} {time}")
}

/// Makes the one correction: a step carries the full offset (decades, 2^35 s); a
/// slew is bounded by the kernel anyway (±2145 s).
fn adjust(correction: Correction) -> Result<(), String> {
    use slew_core::Clock;
    let mut clock = slew_linux::os::clock::KernelClock::new();
    let result = match correction {
        Correction::Step(d) => clock.step(d),
        Correction::Slew(d) => clock.slew(d),
    };
    result.map_err(|e| e.to_string())
}

/// Seconds with six decimals and a sign, exact at any size (`+1780000000.000123`).
fn seconds6(d: WideDuration) -> String {
    d.to_string().trim_end_matches(" s").to_string()
}

fn date(cli: &Cli, args: &DateArgs) -> ExitCode {
    let opts = QueryOptions {
        samples: args.samples,
        timeout: Duration::from_secs_f64(args.timeout_s.clamp(0.01, 60.0)),
        version: args.version,
        ..QueryOptions::default()
    };
    let servers = if args.servers.is_empty() {
        vec![cli.server.clone()]
    } else {
        args.servers.clone()
    };
    let reports = query::query(&servers, &opts);
    if cli.json {
        return date_json(&reports);
    }
    if let Some(n) = &args.ntpdate {
        let (out, err) = compat::ntpdate::before_summary(n, &reports);
        eprint!("{err}");
        print!("{out}");
    }
    for r in reports.iter().filter(|_| args.ntpdate.is_none()) {
        let shown = r
            .addr
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| r.name.clone());
        match r.best() {
            Some(s) => println!(
                "server {shown}, stratum {}, offset {}, delay {:.5}",
                s.repr.stratum,
                seconds6(s.offset),
                s.delay.to_seconds_f64()
            ),
            None => println!("server {shown}, stratum 0, offset 0.000000, delay 0.00000"),
        }
    }
    let pid = std::process::id();
    let stamp = ntpdate_stamp(unix_now_s());
    let tag = format!("{stamp} {}[{pid}]", args.prog());
    match query::choose(&reports) {
        Some(i) => {
            let Some((r, s)) = reports.get(i).and_then(|r| r.best().map(|s| (r, s))) else {
                return ExitCode::FAILURE;
            };
            let shown = r.addr.map(|a| a.ip().to_string()).unwrap_or_default();
            // ntpdate's threshold under slew's one step-or-slew rule; -b and -B
            // force one or the other.
            let force = match (args.step, args.slew) {
                (true, _) => Some(Force::Step),
                (false, true) => Some(Force::Slew),
                (false, false) => None,
            };
            let correction = StepRule::NTPDATE.forced(force).decide(s.offset);
            let verb = match correction {
                Correction::Step(_) => "step",
                Correction::Slew(_) => "adjust",
            };
            let offset_text = seconds6(s.offset);
            let offset_text = offset_text.trim_start_matches('+');
            args.say(
                &tag,
                &format!("{verb} time server {shown} offset {offset_text} sec"),
                false,
            );
            if args.query_only || args.dry_run {
                return ExitCode::SUCCESS;
            }
            match adjust(correction) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("slewctl: cannot {verb} the clock: {e} (setting the time needs root or CAP_SYS_TIME; -q only queries)");
                    ExitCode::FAILURE
                }
            }
        }
        None => {
            args.say(&tag, "no server suitable for synchronization found", true);
            for r in &reports {
                let shown = r
                    .addr
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| r.name.clone());
                let why = r
                    .unusable()
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| "not chosen".into());
                if args.ntpdate.is_some() {
                    // ntpdate's standard output stays ntpdate's; the reasons go beside.
                    eprintln!("ntpdate: {shown}: {why}");
                } else {
                    println!("  {shown}: {why}");
                }
            }
            ExitCode::FAILURE
        }
    }
}

/// `date --json`: each server's best sample or why it cannot be used, and the choice.
fn date_json(reports: &[query::ServerReport]) -> ExitCode {
    let chosen = query::choose(reports);
    /// One server of `slewctl date --json`; the sample fields only when it answered.
    #[derive(serde::Serialize)]
    struct ServerJson {
        server: String,
        address: String,
        chosen: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        stratum: Option<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        offset_s: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        delay_s: Option<f64>,
        unusable: String,
    }
    #[derive(serde::Serialize)]
    struct DateJson {
        servers: Vec<ServerJson>,
        usable: bool,
    }
    let servers = reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let best = r.best();
            ServerJson {
                server: r.name.clone(),
                address: r.addr.map(|a| a.to_string()).unwrap_or_default(),
                chosen: chosen == Some(i),
                stratum: best.map(|s| s.repr.stratum),
                offset_s: best.map(|s| s.offset.to_seconds_f64()),
                delay_s: best.map(|s| s.delay.to_seconds_f64()),
                unusable: r.unusable().map(|u| u.to_string()).unwrap_or_default(),
            }
        })
        .collect();
    let j = json::to_string(&DateJson {
        servers,
        usable: chosen.is_some(),
    });
    println!("{j}");
    if chosen.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// slewctl started as `ntpdate`: its options become `slewctl date`'s.
fn ntpdate(args: &[String]) -> ExitCode {
    let n = match compat::ntpdate::parse_args(args) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("ntpdate: {e}");
            eprintln!("{}", compat::ntpdate::USAGE);
            return ExitCode::FAILURE;
        }
    };
    let date_args = DateArgs {
        // -d goes through every step but never sets the clock.
        query_only: n.query_only || n.debug,
        step: n.step,
        slew: n.slew,
        dry_run: false,
        samples: n.samples,
        timeout_s: n.timeout_s,
        version: n.version,
        unprivileged: n.unprivileged,
        servers: n.servers.clone(),
        ntpdate: Some(n.clone()),
    };
    if n.debug {
        let pid = std::process::id();
        let tag = format!("{} ntpdate[{pid}]", ntpdate_stamp(unix_now_s()));
        date_args.say(
            &tag,
            &format!("ntpdate (slew {})", env!("CARGO_PKG_VERSION")),
            false,
        );
    }
    // Only the servers given are asked (date() would fall back on -s otherwise).
    let cli = Cli {
        server: "127.0.0.1:123".into(),
        json: false,
        timeout_s: n.timeout_s,
        command: Command::Status,
    };
    date(&cli, &date_args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntpdate_stamp_layout() {
        // 2026-11-30 07:50:01 UTC
        assert_eq!(ntpdate_stamp(1_796_025_001), "30 Nov 07:50:01");
        // 2026-12-01 21:23:19 UTC: ntp pads the day.
        assert_eq!(ntpdate_stamp(1_796_160_199), " 1 Dec 21:23:19");
    }
}
