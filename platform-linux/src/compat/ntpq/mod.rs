//! `ntpq`: ntp 4.2.8's query program over slewctl's mode 6 client.
//!
//! `ntpq [-46inp] [-c COMMAND]... [HOST]...` runs the commands (`-p` is `-c peers`)
//! against each host in turn (default 127.0.0.1; `HOST:PORT` and `[V6]:PORT` also
//! reach a server on another port); with no command it reads them from standard
//! input, prompting `ntpq> ` when that is a terminal (or with `-i`). Commands:
//! `peers`, `lpeers`, `associations`, `lassociations`, `readvar`/`rv [ASSOC]
//! [VAR,...]`, `readlist`/`rl [ASSOC]`, `sysinfo`, `kerninfo`, `sysstats`,
//! `iostats`, `monstats`, `authinfo`, `mrulist`, `host HOST`, `help`, `quit`;
//! any unique prefix of one. Output is 4.2.8's ([`format`]); errors are its
//! `***` lines on standard error.

pub mod commands;
pub mod format;
pub mod labels;
pub mod mrulist;

use std::io::{BufRead, IsTerminal, Write};

use super::{getopt, Refused};

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-4` / `-6`: the address family names resolve to.
    pub family: Option<u8>,
    /// `-n`: addresses, not names.
    pub numeric: bool,
    /// `-i`: prompt even when standard input is not a terminal.
    pub interactive: bool,
    /// The commands, in order (`-p` adds `peers`).
    pub commands: Vec<String>,
    /// The hosts.
    pub hosts: Vec<String>,
}

/// ntpq 4.2.8's options slew does not implement (refused by name).
const UNSUPPORTED: &str = "dDkwW";

/// Parses ntpq's command line (without argv[0]).
pub fn parse_args(args: &[String]) -> Result<Options, Refused> {
    let (opts, hosts) = getopt(args, &format!("46inp{UNSUPPORTED}"), "c")?;
    let mut o = Options {
        family: None,
        numeric: false,
        interactive: false,
        commands: Vec::new(),
        hosts,
    };
    for (c, v) in opts {
        match (c, v) {
            ('4', _) => o.family = Some(4),
            ('6', _) => o.family = Some(6),
            ('n', _) => o.numeric = true,
            ('i', _) => o.interactive = true,
            ('p', _) => o.commands.push("peers".into()),
            ('c', Some(cmd)) => o.commands.push(cmd),
            (c, _) => return Err(Refused::unsupported(&format!("-{c}"))),
        }
    }
    if o.hosts.is_empty() {
        o.hosts.push(match o.family {
            Some(6) => "::1".into(),
            _ => "127.0.0.1".into(),
        });
    }
    Ok(o)
}

/// Runs ntpq with `args` (without argv[0]); returns the exit status.
pub fn main(args: &[String]) -> u8 {
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ntpq: {e}");
            eprintln!("usage: ntpq [-46inp] [-c command] [host ...]");
            return 1;
        }
    };
    let stdout = std::io::stdout();
    let mut session = commands::Session::new(&opts);
    if opts.commands.is_empty() {
        let prompt =
            opts.interactive || (std::io::stdin().is_terminal() && std::io::stderr().is_terminal());
        if let Some(h) = opts.hosts.first() {
            session.open(h);
        }
        let stdin = std::io::stdin();
        let mut lines = stdin.lock().lines();
        loop {
            if prompt {
                let mut o = stdout.lock();
                let _ = o.write_all(b"ntpq> ");
                let _ = o.flush();
            }
            let Some(Ok(line)) = lines.next() else {
                break;
            };
            if session.run(&line) == commands::Flow::Quit {
                break;
            }
        }
        return 0;
    }
    for host in &opts.hosts {
        if session.open(host) {
            for c in &opts.commands {
                session.run(c);
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_as_ntpq_takes_them() {
        let o = parse_args(&s(&["-pn", "-c", "rv 0 stratum", "host1", "host2"])).unwrap();
        assert_eq!(o.commands, s(&["peers", "rv 0 stratum"]));
        assert!(o.numeric);
        assert_eq!(o.hosts, s(&["host1", "host2"]));
        let o = parse_args(&s(&["-6", "-c", "rv"])).unwrap();
        assert_eq!((o.family, o.hosts.clone()), (Some(6), s(&["::1"])));
        assert_eq!(parse_args(&[]).unwrap().hosts, s(&["127.0.0.1"]));
        // ntpq's own options slew lacks, and options ntpq never had, are refused.
        let e = parse_args(&s(&["-w", "-p"])).unwrap_err();
        assert_eq!(e.option, "-w");
        assert!(e.to_string().contains("not supported"), "{e}");
        assert_eq!(parse_args(&s(&["-x"])).unwrap_err().option, "-x");
        assert_eq!(
            parse_args(&s(&["--debug-level"])).unwrap_err().option,
            "--debug-level"
        );
    }
}
