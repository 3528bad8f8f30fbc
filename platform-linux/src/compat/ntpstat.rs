//! `ntpstat`: Debian's C ntpstat, from the same READVAR answer `slewctl status`
//! reads: its three lines, byte for byte (the stratum line ends in a blank, as
//! its printf has it), and its exit codes (0 synchronised, 1 not, 2 no answer).
//! It asks 127.0.0.1:123 and takes no arguments; any argument is refused.

use std::time::Duration;

use super::Refused;
use crate::ctl::status::{self, Status};
use crate::ctl::ControlClient;

/// ntpstat's lines for a status.
pub fn text(st: &Status) -> String {
    let mut out = String::new();
    if st.leap() == 3 {
        out.push_str("unsynchronised\n");
        if st.last_event() == 1 {
            out.push_str("  time server re-starting\n");
        }
    } else {
        out.push_str(&format!(
            "synchronised to {} at stratum {} \n",
            st.source_text(),
            st.stratum.unwrap_or(16)
        ));
        out.push_str(&format!(
            "   time correct to within {:.0} ms\n",
            st.correct_within_ms()
        ));
    }
    out.push_str(&format!("   polling server every {} s\n", st.poll_s()));
    out
}

/// ntpstat's exit status: leap 3 is unsynchronised, whatever the rest says.
pub fn exit_code(st: &Status) -> u8 {
    if st.leap() == 3 {
        status::EXIT_UNSYNC
    } else {
        status::EXIT_SYNC
    }
}

/// Runs ntpstat with `args` (without argv[0]).
pub fn main(args: &[String]) -> u8 {
    if let Some(a) = args.first() {
        let e = if a.starts_with('-') {
            Refused::unknown(a)
        } else {
            Refused::bad_value(a, "is not taken: ntpstat asks the daemon on 127.0.0.1")
        };
        eprintln!("ntpstat: {e}");
        return 1;
    }
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 123));
    let answer =
        ControlClient::new(addr, Duration::from_secs(1)).and_then(|mut c| status::fetch(&mut c));
    match answer {
        Ok(st) => {
            print!("{}", text(&st));
            exit_code(&st)
        }
        Err(_) => {
            // On standard error, as ntpstat's die() writes it.
            eprintln!("Unable to talk to NTP daemon. Is it running?");
            status::EXIT_NO_DAEMON
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::client::parse_vars;

    #[test]
    fn ntpstats_lines() {
        let v = parse_vars(b"stratum=11, rootdelay=0.0, rootdisp=10.017, refid=LOCL, tc=6");
        let st = Status::from_vars(0x0515, &v);
        assert_eq!(
            text(&st),
            "synchronised to local net at stratum 11 \n   time correct to within 10 ms\n   polling server every 64 s\n"
        );
        assert_eq!(exit_code(&st), 0);
        let v =
            parse_vars(b"stratum=3, rootdelay=200.0, rootdisp=175.0, refid=202.112.10.36, tc=8");
        let st = Status::from_vars(0x0615, &v);
        assert_eq!(
            text(&st),
            "synchronised to NTP server (202.112.10.36) at stratum 3 \n   time correct to within 275 ms\n   polling server every 256 s\n"
        );
        let st = Status::from_vars(0xc011, &parse_vars(b"stratum=16, tc=6"));
        assert_eq!(
            text(&st),
            "unsynchronised\n  time server re-starting\n   polling server every 64 s\n"
        );
        assert_eq!(exit_code(&st), 1);
    }
}
