//! Command-line arguments, parsed by hand: the appliance has few and wants no
//! dependency for them.

use std::net::SocketAddr;

use smoltcp::wire::IpCidr;

pub const USAGE: &str = "usage: appliance [--tap NAME] --addr CIDR... --server ADDR:PORT... \
[--port N] [--seconds N] [--within-ms MS] [--offset S] [--freq-error PPM] [--minpoll L] [--maxpoll L] [--serve] [--query-from ADDR/LEN] \
[--gps TTY [--gps-mode M]]";

/// What the appliance was told.
#[derive(Debug)]
pub struct Args {
    pub tap: String,
    pub addrs: Vec<IpCidr>,
    /// Networks allowed to ask mode 6 queries (ntpq, ntpstat).
    pub query_from: Vec<IpCidr>,
    pub servers: Vec<SocketAddr>,
    pub port: u16,
    /// Run this long, then print the final offset and exit (0: forever).
    pub seconds: u64,
    /// The exit status is 0 when the final offset is within this many ms (default 1).
    pub within_ms: f64,
    pub offset_s: f64,
    pub freq_error_ppm: f64,
    pub minpoll: i8,
    pub maxpoll: i8,
    pub serve: bool,
    /// `--gps TTY`: an NMEA receiver on this line is a refclock (`127.127.20.0`).
    pub gps: Option<String>,
    /// `--gps-mode M`: ntpd's NMEA mode bits (sentences; the baud is the line's).
    pub gps_mode: u32,
}

impl Args {
    pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut a = Args {
            tap: "tap0".into(),
            addrs: Vec::new(),
            query_from: Vec::new(),
            servers: Vec::new(),
            port: 123,
            seconds: 0,
            within_ms: 1.0,
            offset_s: 0.5,
            freq_error_ppm: 30.0,
            minpoll: 0,
            maxpoll: 2,
            serve: false,
            gps: None,
            gps_mode: 0,
        };
        while let Some(flag) = it.next() {
            if flag == "--serve" {
                a.serve = true;
                continue;
            }
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let bad = |what: &str| format!("{flag} {value}: not {what}");
            match flag.as_str() {
                "--tap" => a.tap = value.clone(),
                "--addr" => a
                    .addrs
                    .push(value.parse().map_err(|_| bad("an address/prefix"))?),
                "--query-from" => a
                    .query_from
                    .push(value.parse().map_err(|_| bad("an address/prefix"))?),
                "--server" => a.servers.push(value.parse().map_err(|_| bad("ADDR:PORT"))?),
                "--port" => a.port = value.parse().map_err(|_| bad("a port"))?,
                "--seconds" => a.seconds = value.parse().map_err(|_| bad("a number of seconds"))?,
                "--within-ms" => a.within_ms = value.parse().map_err(|_| bad("milliseconds"))?,
                "--offset" => a.offset_s = value.parse().map_err(|_| bad("seconds"))?,
                "--freq-error" => a.freq_error_ppm = value.parse().map_err(|_| bad("ppm"))?,
                "--minpoll" => a.minpoll = value.parse().map_err(|_| bad("log2 seconds"))?,
                "--maxpoll" => a.maxpoll = value.parse().map_err(|_| bad("log2 seconds"))?,
                "--gps" => a.gps = Some(value.clone()),
                "--gps-mode" => a.gps_mode = value.parse().map_err(|_| bad("a mode word"))?,
                _ => return Err(format!("unknown argument {flag}")),
            }
        }
        if a.addrs.is_empty() {
            return Err("give the appliance an address: --addr 192.0.2.2/24".into());
        }
        if a.servers.is_empty() && a.gps.is_none() {
            return Err("give at least one --server (or a --gps receiver)".into());
        }
        Ok(a)
    }
}
