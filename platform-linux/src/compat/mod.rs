//! ntp's commands, from slewctl: installed as `ntpq`, `ntpstat` and `ntpdate`
//! (symlinks to slewctl, which looks at the name it was started under), they take
//! the options and print the lines of the tools the ntp packages shipped — ntpq and
//! ntpdate of ntp 4.2.8, Debian's C ntpstat — so scripts and habits keep working
//! once slew replaces ntp.
//!
//! An option those tools had and slew does not implement is refused by name
//! ([`Refused`]), never ignored.

pub mod names;
pub mod ntpdate;
pub mod ntpq;
pub mod ntpstat;

use std::ffi::OsStr;
use std::fmt;
use std::path::Path;

/// Which tool slewctl is being.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personality {
    /// slewctl itself.
    Slewctl,
    /// `ntpq`.
    Ntpq,
    /// `ntpstat`.
    Ntpstat,
    /// `ntpdate`.
    Ntpdate,
}

impl Personality {
    /// From argv[0]: the file name it was started under (`/usr/sbin/ntpq` → ntpq).
    pub fn from_argv0(argv0: &OsStr) -> Self {
        let name = Path::new(argv0)
            .file_name()
            .and_then(OsStr::to_str)
            .unwrap_or("");
        match name {
            "ntpq" => Self::Ntpq,
            "ntpstat" => Self::Ntpstat,
            "ntpdate" => Self::Ntpdate,
            _ => Self::Slewctl,
        }
    }
}

/// A command line the tool does not take: the option (or argument) named, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The option as typed (`-w`), or the argument.
    pub option: String,
    /// Why: "is not supported by slew", "needs a value", ….
    pub why: String,
}

impl Refused {
    /// An option the original has and slew does not implement.
    pub fn unsupported(option: &str) -> Self {
        Self {
            option: option.to_string(),
            why: "is not supported by slew's version of this command".into(),
        }
    }

    /// An option neither the original nor slew knows.
    pub fn unknown(option: &str) -> Self {
        Self {
            option: option.to_string(),
            why: "is not an option of this command".into(),
        }
    }

    /// An option whose value is missing or wrong.
    pub fn bad_value(option: &str, why: &str) -> Self {
        Self {
            option: option.to_string(),
            why: why.to_string(),
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "option `{}' {}", self.option, self.why)
    }
}

/// Options in order (letter, value) and the operands after them.
pub type Parsed = (Vec<(char, Option<String>)>, Vec<String>);

/// Splits getopt-style arguments: clustered flags (`-pn`), values attached or next
/// (`-c rv`, `-crv`), `--` ending options. `with_value` lists the letters that take
/// a value. Returns the (letter, value) pairs in order and the operands.
pub fn getopt(args: &[String], flags: &str, with_value: &str) -> Result<Parsed, Refused> {
    let mut opts = Vec::new();
    let mut operands = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            operands.extend(it.cloned());
            break;
        }
        if a.starts_with("--") {
            return Err(Refused::unsupported(a));
        }
        let Some(cluster) = a.strip_prefix('-').filter(|c| !c.is_empty()) else {
            operands.push(a.clone());
            continue;
        };
        for (i, c) in cluster.char_indices() {
            if with_value.contains(c) {
                let rest = &cluster[i + c.len_utf8()..];
                let value = if rest.is_empty() {
                    it.next()
                        .cloned()
                        .ok_or_else(|| Refused::bad_value(&format!("-{c}"), "needs a value"))?
                } else {
                    rest.to_string()
                };
                opts.push((c, Some(value)));
                break;
            }
            if flags.contains(c) {
                opts.push((c, None));
            } else {
                return Err(Refused::unknown(&format!("-{c}")));
            }
        }
    }
    Ok((opts, operands))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn names_choose_the_tool() {
        assert_eq!(
            Personality::from_argv0(OsStr::new("/usr/sbin/ntpq")),
            Personality::Ntpq
        );
        assert_eq!(
            Personality::from_argv0(OsStr::new("ntpstat")),
            Personality::Ntpstat
        );
        assert_eq!(
            Personality::from_argv0(OsStr::new("../sbin/ntpdate")),
            Personality::Ntpdate
        );
        assert_eq!(
            Personality::from_argv0(OsStr::new("/usr/bin/slewctl")),
            Personality::Slewctl
        );
    }

    #[test]
    fn getopt_clusters_values_and_operands() {
        let (o, rest) = getopt(&s(&["-pn", "-c", "rv 0", "-crv", "host"]), "pn", "c").unwrap();
        assert_eq!(
            o,
            vec![
                ('p', None),
                ('n', None),
                ('c', Some("rv 0".into())),
                ('c', Some("rv".into()))
            ]
        );
        assert_eq!(rest, s(&["host"]));
        assert_eq!(
            getopt(&s(&["-x"]), "p", "").unwrap_err().option,
            "-x".to_string()
        );
        assert_eq!(
            getopt(&s(&["-c"]), "", "c").unwrap_err().why,
            "needs a value"
        );
        assert_eq!(
            getopt(&s(&["--wide"]), "", "").unwrap_err().option,
            "--wide"
        );
    }
}
