//! `slewctl peers`: ntpq -p's table, plus why each source is not selected.
//!
//! The layout is ntpq's (ntpd 4.2.8), column for column: tally, remote (15), refid
//! (15), st, t, when, poll, reach (octal), delay, offset and jitter in ms; slewctl
//! appends a `reason` column. With no reason to show, a row is byte for byte what
//! ntpq prints. An NTS source adds one token to that last column, `nts:COOKIES`, then
//! `ke:CODE` when its last NTS-KE failed, `needke:WHY` while it waits for one and
//! `refused:CODE` for the last answer the NTS checks refused; `--json` has all of
//! it, structured, under `nts`.

use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;
use slew_core::control::{PeerVars, RefIdKind};
use slew_core::peer::{KeResult, NtsSourceStatus};

use super::client::{var_ntp_seconds, ControlClient, CtlError};

use super::json;

/// ntpq -p's header, then slewctl's column.
pub const HEADER: &str =
    "     remote           refid      st t when poll reach   delay   offset  jitter reason";
/// The rule under the header (ntpq's 78 columns, extended under `reason`).
pub const RULE: &str =
    "=====================================================================================";

/// One association, as the table shows it: slew-core's [`PeerVars`] decoded from
/// the server's READVAR answer, and the server's clock for "when". Everything the
/// table and the JSON show is formatting of these two.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerRow {
    /// The association's variables.
    pub peer: PeerVars,
    /// The server's clock at the query (NTP seconds), `None` when unknown.
    pub now: Option<f64>,
}

/// The table's NTS token of an NTS source: `nts:8`, then what is wrong, if anything.
pub fn nts_token(nts: &NtsSourceStatus) -> String {
    let mut t = format!("nts:{}", nts.cookies);
    if let Some(KeResult::Failed(f)) = nts.last_key_exchange {
        t.push_str(" ke:");
        t.push_str(f.code());
    }
    if let Some(why) = nts.needs_key_exchange {
        t.push_str(" needke:");
        t.push_str(why.code());
    }
    if let Some(why) = nts.last_refusal {
        t.push_str(" refused:");
        t.push_str(why.code());
    }
    t
}

/// What `--json` shows of an NTS source, under `nts`, in this field order.
#[derive(Serialize)]
struct NtsJson {
    /// Cookies held (`ntscookies`).
    cookies: u64,
    /// NTS-KE sessions that succeeded (`ntske`).
    key_exchanges: u64,
    /// The last NTS-KE's outcome: `ok` or a failure code; `None` before the first
    /// (`ntskelast`).
    last_key_exchange: Option<&'static str>,
    /// Cookies the last successful NTS-KE gave (`ntskecookies`).
    last_key_exchange_cookies: u64,
    /// Why it waits for NTS-KE, `None` when it does not (`ntsneedke`).
    needs_key_exchange: Option<&'static str>,
    /// NTS NAKs received (`ntsnaks`).
    naks: u64,
    /// Answers refused by the NTS checks, NAKs included (`ntsrefused`).
    refused: u64,
    /// Why the last one was, `None` for none (`ntsrefusal`).
    last_refusal: Option<&'static str>,
}

impl NtsJson {
    fn of(n: &NtsSourceStatus) -> Self {
        let (last, last_cookies) = match n.last_key_exchange {
            None => (None, 0),
            Some(KeResult::Ok { cookies }) => (Some("ok"), cookies),
            Some(KeResult::Failed(f)) => (Some(f.code()), 0),
        };
        Self {
            cookies: n.cookies.into(),
            key_exchanges: n.key_exchanges.into(),
            last_key_exchange: last,
            last_key_exchange_cookies: last_cookies.into(),
            needs_key_exchange: n.needs_key_exchange.map(|k| k.code()),
            naks: n.naks.into(),
            refused: n.refused.into(),
            last_refusal: n.last_refusal.map(|r| r.code()),
        }
    }
}

impl PeerRow {
    /// Association `association_id`'s row from READVAR's answer `data`, with its
    /// peer status word; `now` is the server's clock (NTP seconds) for "when".
    pub fn decode(association_id: u16, status: u16, data: &[u8], now: Option<f64>) -> Self {
        Self {
            peer: PeerVars::decode(association_id, status, data),
            now,
        }
    }

    /// The tally character of the status word's selection code.
    pub fn tally(&self) -> char {
        self.peer.tally()
    }

    /// The address (`srcadr`).
    pub fn address(&self) -> String {
        self.peer.srcadr.to_string()
    }

    /// The name shown: `srchost` (LOCAL(0), a configured name) or the address.
    pub fn remote(&self) -> String {
        match &self.peer.srchost {
            Some(h) => h.to_string(),
            None => self.address(),
        }
    }

    /// The refid as ntpq shows it: a dotted quad, or a code between dots.
    pub fn refid(&self) -> String {
        let b = self.peer.refid.to_bytes();
        match self.peer.refid_kind {
            RefIdKind::Address => Ipv4Addr::from(b).to_string(),
            RefIdKind::Code => {
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                if end == 0 {
                    return String::new();
                }
                format!(".{}.", String::from_utf8_lossy(&b[..end]))
            }
        }
    }

    /// ntpq's `t`: `u` unicast, `l` local reference clock, `s` symmetric, `B`/`b`
    /// broadcast.
    pub fn kind(&self) -> char {
        match self.peer.srcadr {
            IpAddr::V4(a) if a.octets()[..2] == [127, 127] => 'l',
            _ => match self.peer.hmode {
                1 | 2 => 's',
                5 => 'B',
                6 => 'b',
                _ => 'u',
            },
        }
    }

    /// Seconds since the last reply; `None`: never (or the server's clock unknown).
    pub fn when_s(&self) -> Option<i64> {
        let rec = self.peer.received;
        match self.now {
            // Whole seconds of each, as ntpq counts.
            Some(now) if !rec.is_zero() => {
                Some((now.floor() - f64::from(rec.seconds())).max(0.0) as i64)
            }
            _ => None,
        }
    }

    /// Poll interval, seconds: the shorter of ours and the peer's, as ntpq shows it.
    pub fn poll_s(&self) -> u64 {
        let (hpoll, ppoll) = (self.peer.hpoll, self.peer.ppoll);
        let poll = if ppoll > 0 { hpoll.min(ppoll) } else { hpoll };
        1u64 << poll.clamp(3, 17)
    }

    /// ntpq -p's line for it (with the reason appended when there is one). The
    /// name, refid and reason come from the server's answer: controls in them are
    /// shown escaped ([`crate::config::escape`]), never sent raw to the terminal.
    pub fn line(&self) -> String {
        use crate::config::escape::escape;
        let p = &self.peer;
        let mut l = format!(
            "{}{:<15.15} {:<15.15} {:>2} {} {:>4} {:>4} {:>4o} {:>8.3} {:>8.3} {:>7.3}",
            self.tally(),
            escape(&self.remote()),
            escape(&self.refid()),
            p.stratum,
            self.kind(),
            self.when_s()
                .map_or_else(|| "-".to_string(), pretty_interval),
            self.poll_s(),
            p.reach,
            p.delay_ms,
            p.offset_ms,
            p.jitter_ms,
        );
        if !p.reason.is_empty() {
            l.push(' ');
            l.push_str(&escape(&p.reason));
        }
        if let Some(nts) = &p.nts {
            l.push(' ');
            l.push_str(&escape(&nts_token(nts)));
        }
        l
    }

    /// The row as a JSON object.
    pub fn json(&self) -> String {
        json::to_string(&self.json_view())
    }

    fn json_view(&self) -> RowJson<'_> {
        let p = &self.peer;
        RowJson {
            association: p.association_id,
            tally: self.tally().to_string(),
            selected: self.tally() == '*',
            remote: self.remote(),
            address: self.address(),
            port: p.srcport,
            refid: self.refid(),
            stratum: p.stratum,
            kind: self.kind().to_string(),
            when_s: self.when_s(),
            poll_s: self.poll_s(),
            reach: p.reach,
            reach_octal: format!("{:o}", p.reach),
            delay_ms: p.delay_ms,
            offset_ms: p.offset_ms,
            jitter_ms: p.jitter_ms,
            dispersion_ms: p.dispersion_ms,
            reason: &p.reason,
            nts: p.nts.as_ref().map(NtsJson::of),
        }
    }
}

/// One row of `slewctl peers --json`, in its field order.
#[derive(Serialize)]
struct RowJson<'a> {
    association: u16,
    tally: String,
    selected: bool,
    remote: String,
    address: String,
    port: u16,
    refid: String,
    stratum: u8,
    #[serde(rename = "type")]
    kind: String,
    when_s: Option<i64>,
    poll_s: u64,
    reach: u8,
    reach_octal: String,
    delay_ms: f64,
    offset_ms: f64,
    jitter_ms: f64,
    dispersion_ms: f64,
    reason: &'a str,
    nts: Option<NtsJson>,
}

/// ntpq's "when": seconds up to 2048, then minutes (`m`), hours (`h`), days (`d`).
pub fn pretty_interval(s: i64) -> String {
    if s <= 2048 {
        return s.to_string();
    }
    let m = (s + 29) / 60;
    if m <= 300 {
        return format!("{m}m");
    }
    let h = (m + 29) / 60;
    if h <= 96 {
        return format!("{h}h");
    }
    format!("{}d", (h + 11) / 24)
}

/// The whole table.
pub fn table(rows: &[PeerRow]) -> String {
    let mut out = format!("{HEADER}\n{RULE}\n");
    for r in rows {
        out.push_str(&r.line());
        out.push('\n');
    }
    out
}

/// The rows as a JSON document.
pub fn table_json(server: &str, rows: &[PeerRow]) -> String {
    #[derive(Serialize)]
    struct Table<'a> {
        server: &'a str,
        peers: Vec<RowJson<'a>>,
    }
    json::to_string(&Table {
        server,
        peers: rows.iter().map(PeerRow::json_view).collect(),
    })
}

/// Asks the server for every association's row.
pub fn fetch(client: &mut ControlClient) -> Result<Vec<PeerRow>, CtlError> {
    let (_, assocs) = client.associations()?;
    // "when" counts on the server's clock; a daemon without `clock` gets ours.
    let now = client
        .read_vars(0, &["clock"])
        .ok()
        .and_then(|(_, v)| var_ntp_seconds(&v, "clock"))
        .or_else(|| {
            let t = crate::os::time::realtime_now();
            Some(f64::from(t.seconds()) + f64::from(t.fraction()) / 4_294_967_296.0)
        });
    let mut rows = Vec::with_capacity(assocs.len());
    for (id, status) in assocs {
        let (resp, _) = client.read_vars(id, &[])?;
        let status = if resp.status != 0 {
            resp.status
        } else {
            status
        };
        rows.push(PeerRow::decode(id, status, &resp.data, now));
    }
    Ok(rows)
}
