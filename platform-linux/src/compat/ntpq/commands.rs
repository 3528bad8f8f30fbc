//! ntpq's commands against one host at a time, over [`ControlClient`].

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use slew_core::wire::control::{ErrorCode, Opcode};

use super::format::{self, split_vars};
use super::labels;
use super::Options;
use crate::ctl::{ControlClient, CtlError};

/// ntpq's wait for an answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The pause between the requests of a list asked one variable at a time.
const ONE_AT_A_TIME_PAUSE: Duration = Duration::from_millis(60);

/// Go on reading commands, or stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Next command.
    Continue,
    /// `quit` / `exit`.
    Quit,
}

/// The command names, for prefix matching.
const COMMANDS: &[&str] = &[
    "associations",
    "authinfo",
    "exit",
    "help",
    "host",
    "iostats",
    "kerninfo",
    "lassociations",
    "lpeers",
    "monstats",
    "mrulist",
    "peers",
    "quit",
    "readlist",
    "readvar",
    "rl",
    "rv",
    "sysinfo",
    "sysstats",
    "version",
    "?",
];

/// ntpq's other commands: known, refused by name.
const NOT_IMPLEMENTED: &[&str] = &[
    "addvars",
    "apeers",
    "authenticate",
    "cl",
    "clearvars",
    "clocklist",
    "clockvar",
    "config",
    "config-from-file",
    "cooked",
    "cv",
    "debug",
    "delay",
    "ifstats",
    "keyid",
    "keytype",
    "lopeers",
    "lpassociations",
    "ntpversion",
    "opeers",
    "passociations",
    "passwd",
    "poll",
    "pstats",
    "raw",
    "reslist",
    "rmvars",
    "saveconfig",
    "showvars",
    "timeout",
    "timerstats",
    "writelist",
    "writevar",
];

/// One ntpq session: the host open now, and the options.
#[derive(Debug)]
pub struct Session {
    numeric: bool,
    family: Option<u8>,
    hosts: usize,
    /// ntpq's maxhostlen: the widest host name, for the `server (local)` column.
    host_width: usize,
    host: String,
    client: Option<ControlClient>,
    /// The association list from the last READSTAT (for `&N` arguments).
    assoc_cache: Vec<(u16, u16)>,
}

impl Session {
    /// A session with no host open yet.
    pub fn new(opts: &Options) -> Self {
        let host_width = opts
            .hosts
            .iter()
            .map(|h| match resolve(h, opts.family) {
                Some(a) => format::host_name(&a.ip().to_string(), opts.numeric).len(),
                None => h.len(),
            })
            .max()
            .unwrap_or(0);
        Self {
            numeric: opts.numeric,
            family: opts.family,
            hosts: opts.hosts.len(),
            host_width,
            host: String::new(),
            client: None,
            assoc_cache: Vec::new(),
        }
    }

    /// Opens `host` (`NAME`, `ADDR`, `ADDR:PORT`, `[V6]:PORT`); says why not.
    pub fn open(&mut self, host: &str) -> bool {
        match resolve(host, self.family) {
            Some(addr) => match ControlClient::new(addr, TIMEOUT) {
                Ok(c) => {
                    self.client = Some(c);
                    self.host = host.to_string();
                    self.assoc_cache.clear();
                    true
                }
                Err(e) => {
                    eprintln!("***Can't open host {host}: {e}");
                    false
                }
            },
            None => {
                eprintln!("***Can't find host {host}");
                false
            }
        }
    }

    /// Runs one command line; its output goes to standard output, errors to
    /// standard error, as ntpq writes them.
    pub fn run(&mut self, line: &str) -> Flow {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some((&word, args)) = tokens.split_first() else {
            return Flow::Continue;
        };
        let name = match find(word) {
            Ok(n) => n,
            Err(msg) => {
                eprintln!("{msg}");
                return Flow::Continue;
            }
        };
        let out = match name {
            "quit" | "exit" => return Flow::Quit,
            "help" | "?" => Ok(help()),
            "version" => Ok(format!("ntpq (slew {})\n", env!("CARGO_PKG_VERSION"))),
            "host" => {
                match args.first() {
                    Some(h) => {
                        if self.open(h) {
                            println!("current host is {h}");
                        }
                    }
                    None => println!("current host is {}", self.host),
                }
                return Flow::Continue;
            }
            _ => self.query(name, args),
        };
        let stdout = std::io::stdout();
        let mut o = stdout.lock();
        match out {
            Ok(text) => {
                let _ = o.write_all(text.as_bytes());
            }
            Err(msg) => {
                let _ = o.flush();
                let server = if self.hosts > 1 {
                    format!("server={} ", self.host)
                } else {
                    String::new()
                };
                eprintln!("{server}{msg}");
            }
        }
        let _ = o.flush();
        Flow::Continue
    }

    fn query(&mut self, name: &str, args: &[&str]) -> Result<String, String> {
        let numeric = self.numeric;
        let hosts = self.hosts;
        let width = self.host_width;
        let host = self.host.clone();
        let Some(client) = self.client.as_mut() else {
            return Err("***No host open, use `host' command".into());
        };
        let server_prefix = if hosts > 1 {
            format!("server={host} ")
        } else {
            String::new()
        };
        match name {
            "peers" | "lpeers" => {
                let family = match args.first() {
                    Some(&"-4") | Some(&"4") => Some(false),
                    Some(&"-6") | Some(&"6") => Some(true),
                    _ => None,
                };
                let (_, assocs) = client.associations().map_err(|e| message(&e, 0))?;
                self.assoc_cache = assocs.clone();
                if assocs.is_empty() {
                    // ntpq 4.2.8 prints no table then.
                    return Ok(format!("{server_prefix}No association ID's returned\n"));
                }
                let mut out = String::new();
                if hosts > 1 {
                    out.push_str(&format!("{:<width$.width$} ", "server (local)"));
                }
                out.push_str(format::PEERS_HEADER.lines().next().unwrap_or(""));
                out.push('\n');
                if hosts > 1 {
                    out.push_str(&"=".repeat(width + 1));
                }
                out.push_str(&"=".repeat(78));
                out.push('\n');
                let now_s = crate::os::time::realtime_now().seconds();
                for (id, status) in assocs {
                    if name == "peers" && (status >> 8) & 0x90 == 0 {
                        continue;
                    }
                    let r = client
                        .request(Opcode::ReadVar, id, b"")
                        .map_err(|e| message(&e, id))?;
                    let vars = split_vars(&r.data);
                    if let Some(v6) = family {
                        let adr = format::get(&vars, "srcadr")
                            .map(format::unquote)
                            .unwrap_or("");
                        if adr.contains(':') != v6 {
                            continue;
                        }
                    }
                    if hosts > 1 {
                        out.push_str(&format!("{host:<width$} "));
                    }
                    out.push_str(&format::peer_line(r.status, &vars, now_s, numeric));
                }
                Ok(out)
            }
            "associations" | "lassociations" => {
                let (_, assocs) = client.associations().map_err(|e| message(&e, 0))?;
                self.assoc_cache = assocs.clone();
                if assocs.is_empty() {
                    return Ok(format!("{server_prefix}No association ID's returned\n"));
                }
                Ok(format::associations(&assocs, name == "lassociations"))
            }
            "readvar" | "rv" | "readlist" | "rl" => {
                let (assoc, vars) = match args.split_first() {
                    Some((a, rest)) => (self.association(a)?, rest),
                    None => (0, &[][..]),
                };
                let Some(client) = self.client.as_mut() else {
                    return Err("***No host open, use `host' command".into());
                };
                let names: Vec<&str> = if name == "rl" || name == "readlist" {
                    Vec::new()
                } else {
                    vars.iter()
                        .flat_map(|v| v.split(','))
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .collect()
                };
                let r = client
                    .request(Opcode::ReadVar, assoc, names.join(",").as_bytes())
                    .map_err(|e| message(&e, assoc))?;
                let quiet = !names.is_empty();
                Ok(format!(
                    "{server_prefix}{}",
                    format::readvar(assoc, r.status, &r.data, quiet, numeric)
                ))
            }
            "sysinfo" | "kerninfo" | "sysstats" | "iostats" | "monstats" | "authinfo" => {
                let (table, status) = match name {
                    "sysinfo" => (labels::SYSINFO, true),
                    "kerninfo" => (labels::KERNINFO, true),
                    "sysstats" => (labels::SYSSTATS, false),
                    "iostats" => (labels::IOSTATS, false),
                    "monstats" => (labels::MONSTATS, false),
                    _ => (labels::AUTHINFO, false),
                };
                let list: Vec<&str> = table.iter().map(|(v, _, _)| *v).collect();
                let (word, vars) = read_list(client, &list)?;
                Ok(labels::labelled(
                    table,
                    status.then_some(word),
                    &vars,
                    numeric,
                ))
            }
            "mrulist" => super::mrulist::mrulist(client, numeric),
            other => Err(format!("***Command `{other}' unknown")),
        }
    }

    /// An association argument: a number, or `&N` (the N-th of the last list).
    fn association(&mut self, arg: &str) -> Result<u16, String> {
        if let Some(index) = arg.strip_prefix('&') {
            let i: usize = index
                .parse()
                .map_err(|_| format!("***Association index `{arg}' invalid/undecodable"))?;
            if self.assoc_cache.is_empty() {
                if let Some(c) = self.client.as_mut() {
                    if let Ok((_, a)) = c.associations() {
                        self.assoc_cache = a;
                    }
                }
            }
            return self
                .assoc_cache
                .get(i.wrapping_sub(1))
                .map(|(id, _)| *id)
                .ok_or_else(|| format!("***No associations found, `{arg}' unknown"));
        }
        arg.parse::<u16>()
            .map_err(|_| format!("***Illegal unsigned value {arg}"))
    }
}

/// Reads the system variables `names` in one request. A server that lacks some of
/// them refuses the whole list (UNKNOWNVAR: slewd and ntpsec's ntpd lack some of
/// ntpd 4.2.8's names): then each is asked alone and the known ones are shown —
/// where ntpq 4.2.8 would print only its error line. Nothing known: that error.
fn read_list(client: &mut ControlClient, names: &[&str]) -> Result<(u16, format::Vars), String> {
    match client.request(Opcode::ReadVar, 0, names.join(",").as_bytes()) {
        Ok(r) => Ok((r.status, split_vars(&r.data))),
        Err(CtlError::Server(ErrorCode::UnknownVariable)) => {
            let mut word = None;
            let mut vars = Vec::new();
            for name in names {
                // Paced under slewd's control rate limit (20 a second).
                std::thread::sleep(ONE_AT_A_TIME_PAUSE);
                match client.request(Opcode::ReadVar, 0, name.as_bytes()) {
                    Ok(r) => {
                        word = Some(r.status);
                        vars.extend(split_vars(&r.data));
                    }
                    Err(CtlError::Server(ErrorCode::UnknownVariable)) => {}
                    Err(e) => return Err(message(&e, 0)),
                }
            }
            match word {
                Some(w) => Ok((w, vars)),
                None => Err(message(&CtlError::Server(ErrorCode::UnknownVariable), 0)),
            }
        }
        Err(e) => Err(message(&e, 0)),
    }
}

/// A command by name or unique prefix; ntpq's messages otherwise.
fn find(word: &str) -> Result<&'static str, String> {
    if let Some(exact) = COMMANDS.iter().find(|c| **c == word) {
        return Ok(exact);
    }
    if let Some(known) = NOT_IMPLEMENTED.iter().find(|c| **c == word) {
        return Err(format!(
            "***Command `{known}' is not supported by slew's ntpq"
        ));
    }
    let matches: Vec<&&str> = COMMANDS.iter().filter(|c| c.starts_with(word)).collect();
    let other = NOT_IMPLEMENTED.iter().any(|c| c.starts_with(word));
    match (matches.as_slice(), other) {
        ([one], false) => Ok(one),
        ([], false) => Err(format!("***Command `{word}' unknown")),
        ([], true) => Err(format!(
            "***Command `{word}' is not supported by slew's ntpq"
        )),
        _ => Err(format!("***Command `{word}' ambiguous")),
    }
}

fn help() -> String {
    let mut out = String::from("ntpq commands:\n");
    for chunk in COMMANDS.chunks(5) {
        let line: Vec<String> = chunk.iter().map(|c| format!("{c:<15}")).collect();
        out.push_str(line.join("").trim_end());
        out.push('\n');
    }
    out
}

/// ntpq's wording of an error.
pub fn message(e: &CtlError, association: u16) -> String {
    match e {
        CtlError::Timeout => "***Request timed out".into(),
        CtlError::BadResponse(_) => "***Response from server was incomplete".into(),
        CtlError::Io(e) => format!("***{e}"),
        CtlError::Server(code) => match code {
            ErrorCode::BadFormat => "***Server reports a bad format request packet".into(),
            ErrorCode::Permission | ErrorCode::Restricted => {
                "***Server disallowed request (authentication?)".into()
            }
            ErrorCode::BadOpcode => "***Server reports a bad opcode in request".into(),
            ErrorCode::BadAssociation => {
                format!("***Association ID {association} unknown to server")
            }
            ErrorCode::UnknownVariable => "***A request variable unknown to the server".into(),
            ErrorCode::BadValue => "***Server indicates a request variable was bad".into(),
            ErrorCode::Unspecified => "***Server returned an unspecified error".into(),
        },
    }
}

/// `HOST`, `ADDR:PORT`, `[V6]:PORT`; port 123; `-4`/`-6` pick the family.
fn resolve(host: &str, family: Option<u8>) -> Option<SocketAddr> {
    let of_family = |a: SocketAddr| match family {
        Some(4) => a.is_ipv4().then_some(a),
        Some(6) => a.is_ipv6().then_some(a),
        _ => Some(a),
    };
    if let Ok(a) = host.parse::<SocketAddr>() {
        return of_family(a);
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return of_family(SocketAddr::new(ip, 123));
    }
    let with_port = match host.rsplit_once(':') {
        Some((_, p)) if p.parse::<u16>().is_ok() && !host.starts_with('[') => host.to_string(),
        _ => format!("{host}:123"),
    };
    let mut addrs: Vec<SocketAddr> = with_port.to_socket_addrs().ok()?.collect();
    match family {
        Some(4) => addrs.retain(SocketAddr::is_ipv4),
        Some(6) => addrs.retain(SocketAddr::is_ipv6),
        _ => {}
    }
    addrs.first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_resolve_in_the_family_asked() {
        let v4: SocketAddr = "127.0.0.1:123".parse().unwrap();
        assert_eq!(resolve("localhost", Some(4)), Some(v4));
        assert_eq!(resolve("127.0.0.1", None), Some(v4));
        assert_eq!(resolve("127.0.0.1", Some(6)), None);
        assert_eq!(resolve("[::1]:12300", Some(4)), None);
        assert_eq!(
            resolve("[::1]:12300", Some(6)),
            Some("[::1]:12300".parse().unwrap())
        );
        assert_eq!(resolve("127.0.0.1:5", None).map(|a| a.port()), Some(5));
        assert_eq!(resolve("no-such-host.invalid", None), None);
    }

    #[test]
    fn commands_by_unique_prefix() {
        assert_eq!(find("pe"), Ok("peers"));
        assert_eq!(find("rv"), Ok("rv"));
        assert_eq!(find("as"), Ok("associations"));
        assert_eq!(find("sys"), Err("***Command `sys' ambiguous".into()));
        assert_eq!(find("zzz"), Err("***Command `zzz' unknown".into()));
        assert!(find("opeers").unwrap_err().contains("not supported"));
        assert!(find("pstats").unwrap_err().contains("`pstats'"));
    }
}
