//! `slewctl`: slew's command-line tool.
//!
//! `slewctl date [-q] [-p N] HOST[:PORT]...` is the `ntpdate -q` habit: it asks each
//! server for the time and prints ntpdate's lines; when no server can be used it says
//! why, server by server.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use slew_linux::logger::{civil_from_days, format_utc};
use slew_linux::query::{self, QueryOptions};
use slew_linux::time::unix_now_s;

#[derive(Parser, Debug)]
#[command(
    name = "slewctl",
    version,
    about = "Query and control NTP servers and slewd"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Ask servers for the time, like `ntpdate -q`.
    Date(DateArgs),
}

#[derive(clap::Args, Debug)]
struct DateArgs {
    /// Query only; never touch the clock (today `date` only queries in any case).
    #[arg(short = 'q')]
    query_only: bool,
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
    /// Servers: HOST, HOST:PORT, [IPv6]:PORT.
    #[arg(required = true, value_name = "HOST[:PORT]")]
    servers: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Date(args) => date(&args),
    }
}

/// ntpdate's time prefix: `30 Nov 07:50:01`, in UTC.
fn ntpdate_stamp(unix_s: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (_, month, day) = civil_from_days(unix_s.div_euclid(86_400));
    let hms = format_utc(unix_s);
    let time = hms.get(11..).unwrap_or("");
    let mon = MONTHS.get(month as usize - 1).copied().unwrap_or("???");
    format!("{day} {mon} {time}")
}

fn date(args: &DateArgs) -> ExitCode {
    let opts = QueryOptions {
        samples: args.samples,
        timeout: Duration::from_secs_f64(args.timeout_s.clamp(0.01, 60.0)),
        version: args.version,
        ..QueryOptions::default()
    };
    let reports = query::query(&args.servers, &opts);
    for r in &reports {
        let shown = r
            .addr
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| r.name.clone());
        match r.best() {
            Some(s) => println!(
                "server {shown}, stratum {}, offset {:+.6}, delay {:.5}",
                s.repr.stratum,
                s.offset.to_seconds_f64(),
                s.delay.to_seconds_f64()
            ),
            None => println!("server {shown}, stratum 0, offset 0.000000, delay 0.00000"),
        }
    }
    let pid = std::process::id();
    let stamp = ntpdate_stamp(unix_now_s());
    match query::choose(&reports) {
        Some(i) => {
            let Some((r, s)) = reports.get(i).and_then(|r| r.best().map(|s| (r, s))) else {
                return ExitCode::FAILURE;
            };
            let shown = r.addr.map(|a| a.ip().to_string()).unwrap_or_default();
            println!(
                "{stamp} slewctl[{pid}]: adjust time server {shown} offset {:+.6} sec",
                s.offset.to_seconds_f64()
            );
            if !args.query_only {
                eprintln!(
                    "slewctl: the clock was not changed: `slewctl date` only queries in this version"
                );
            }
            ExitCode::SUCCESS
        }
        None => {
            println!("{stamp} slewctl[{pid}]: no server suitable for synchronization found");
            for r in &reports {
                let shown = r
                    .addr
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| r.name.clone());
                let why = r
                    .unusable()
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| "not chosen".into());
                println!("  {shown}: {why}");
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntpdate_stamp_layout() {
        // 2026-11-30 07:50:01 UTC
        assert_eq!(ntpdate_stamp(1_796_025_001), "30 Nov 07:50:01");
    }
}
