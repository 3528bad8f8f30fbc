//! `slewctl peers`: ntpq -p's table, plus why each source is not selected.
//!
//! The layout is ntpq's (ntpd 4.2.8), column for column: tally, remote (15), refid
//! (15), st, t, when, poll, reach (octal), delay, offset and jitter in ms; slewctl
//! appends a `reason` column. With no reason to show, a row is byte for byte what
//! ntpq prints. An NTS source adds one token to that last column, `nts:COOKIES`, then
//! `ke:CODE` when its last NTS-KE failed, `needke:WHY` while it waits for one and
//! `refused:CODE` for the last answer the NTS checks refused; `--json` has all of
//! it, structured, under `nts`.

use std::net::Ipv4Addr;

use serde::Serialize;

use super::client::{var, var_f64, var_i64, var_ntp_seconds, ControlClient, CtlError};

use super::json;

/// ntpq -p's header, then slewctl's column.
pub const HEADER: &str =
    "     remote           refid      st t when poll reach   delay   offset  jitter reason";
/// The rule under the header (ntpq's 78 columns, extended under `reason`).
pub const RULE: &str =
    "=====================================================================================";

/// One association, as the table shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerRow {
    /// Association id.
    pub association_id: u16,
    /// Peer status word.
    pub status: u16,
    /// The name shown: `srchost` (LOCAL(0), a configured name) or the address.
    pub remote: String,
    /// The address (`srcadr`).
    pub address: String,
    /// `srcport`.
    pub port: u16,
    /// The refid as ntpq shows it: a dotted quad, or a code between dots.
    pub refid: String,
    /// Stratum.
    pub stratum: i64,
    /// ntpq's `t`: `u` unicast, `l` local reference clock, `s` symmetric, `B`/`b`
    /// broadcast.
    pub kind: char,
    /// Seconds since the last reply; `None`: never.
    pub when_s: Option<i64>,
    /// Poll interval, seconds.
    pub poll_s: u64,
    /// Reach register.
    pub reach: u8,
    /// Delay, ms.
    pub delay_ms: f64,
    /// Offset, ms.
    pub offset_ms: f64,
    /// Jitter, ms.
    pub jitter_ms: f64,
    /// Dispersion, ms.
    pub dispersion_ms: f64,
    /// Why it is not selected (empty when nothing is against it).
    pub reason: String,
    /// The NTS figures of an NTS source (the `nts*` variables), `None` otherwise.
    pub nts: Option<NtsRow>,
}

/// What the `nts*` variables say of an NTS source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NtsRow {
    /// Cookies held (`ntscookies`).
    pub cookies: u64,
    /// NTS-KE sessions that succeeded (`ntske`).
    pub key_exchanges: u64,
    /// The last NTS-KE's outcome: `ok` or a failure code; `None` before the first
    /// (`ntskelast`).
    pub last_key_exchange: Option<String>,
    /// Cookies the last successful NTS-KE gave (`ntskecookies`).
    pub last_key_exchange_cookies: u64,
    /// Why it waits for NTS-KE, `None` when it does not (`ntsneedke`).
    pub needs_key_exchange: Option<String>,
    /// NTS NAKs received (`ntsnaks`).
    pub naks: u64,
    /// Answers refused by the NTS checks, NAKs included (`ntsrefused`).
    pub refused: u64,
    /// Why the last one was, `None` for none (`ntsrefusal`).
    pub last_refusal: Option<String>,
}

impl NtsRow {
    /// From the variables; `None` unless `nts=1`.
    fn from_vars(vars: &[(String, String)]) -> Option<Self> {
        if var_i64(vars, "nts") != Some(1) {
            return None;
        }
        let count = |name| var_i64(vars, name).unwrap_or(0).max(0) as u64;
        let code = |name| {
            var(vars, name)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
        };
        Some(Self {
            cookies: count("ntscookies"),
            key_exchanges: count("ntske"),
            last_key_exchange: code("ntskelast"),
            last_key_exchange_cookies: count("ntskecookies"),
            needs_key_exchange: code("ntsneedke"),
            naks: count("ntsnaks"),
            refused: count("ntsrefused"),
            last_refusal: code("ntsrefusal"),
        })
    }

    /// The table's token: `nts:8`, then what is wrong, if anything.
    pub fn token(&self) -> String {
        let mut t = format!("nts:{}", self.cookies);
        match self.last_key_exchange.as_deref() {
            None | Some("ok") => {}
            Some(why) => {
                t.push_str(" ke:");
                t.push_str(why);
            }
        }
        if let Some(why) = &self.needs_key_exchange {
            t.push_str(" needke:");
            t.push_str(why);
        }
        if let Some(why) = &self.last_refusal {
            t.push_str(" refused:");
            t.push_str(why);
        }
        t
    }
}

impl PeerRow {
    /// The tally character of the status word's selection code.
    pub fn tally(&self) -> char {
        match (self.status >> 8) & 0b111 {
            1 => 'x',
            2 => '.',
            3 => '-',
            4 => '+',
            5 => '#',
            6 => '*',
            7 => 'o',
            _ => ' ',
        }
    }

    /// From READVAR's variables; `now` is the server's clock (NTP seconds) for
    /// "when".
    pub fn from_vars(
        association_id: u16,
        status: u16,
        vars: &[(String, String)],
        now: Option<f64>,
    ) -> Self {
        let address = var(vars, "srcadr").unwrap_or("").to_string();
        let remote = var(vars, "srchost")
            .filter(|h| !h.is_empty())
            .unwrap_or(&address)
            .to_string();
        let stratum = var_i64(vars, "stratum").unwrap_or(16);
        let refid = refid_shown(var(vars, "refid").unwrap_or(""));
        let hmode = var_i64(vars, "hmode").unwrap_or(3);
        let kind = if address.starts_with("127.127.") {
            'l'
        } else {
            match hmode {
                1 | 2 => 's',
                5 => 'B',
                6 => 'b',
                _ => 'u',
            }
        };
        let hpoll = var_i64(vars, "hpoll").unwrap_or(6);
        let ppoll = var_i64(vars, "ppoll").unwrap_or(0);
        let poll = if ppoll > 0 { hpoll.min(ppoll) } else { hpoll };
        let poll_s = 1u64 << poll.clamp(3, 17);
        let last = var_ntp_seconds(vars, "rec");
        let when_s = match (now, last) {
            // Whole seconds of each, as ntpq counts.
            (Some(now), Some(last)) => Some((now.floor() - last.floor()).max(0.0) as i64),
            _ => None,
        };
        let reach = var_i64(vars, "reach").unwrap_or(0).clamp(0, 255) as u8;
        let mut row = Self {
            association_id,
            status,
            remote,
            port: var_i64(vars, "srcport").unwrap_or(123).clamp(0, 65535) as u16,
            address,
            refid,
            stratum,
            kind,
            when_s,
            poll_s,
            reach,
            delay_ms: var_f64(vars, "delay").unwrap_or(0.0),
            offset_ms: var_f64(vars, "offset").unwrap_or(0.0),
            jitter_ms: var_f64(vars, "jitter").unwrap_or(0.0),
            dispersion_ms: var_f64(vars, "dispersion").unwrap_or(0.0),
            reason: var(vars, "reason").unwrap_or("").to_string(),
            nts: NtsRow::from_vars(vars),
        };
        if var(vars, "reason").is_none() {
            // A daemon that does not say (ntpd): the tally code's meaning.
            row.reason = row.reason_from_tally().to_string();
        }
        row
    }

    /// What the tally alone says against a source.
    fn reason_from_tally(&self) -> &'static str {
        match self.tally() {
            'x' => "falseticker",
            '.' => "excess",
            '-' => "outlier",
            '#' => "backup",
            ' ' if self.reach == 0 => "unreach",
            ' ' => "rejected",
            _ => "",
        }
    }

    /// ntpq -p's line for it (with the reason appended when there is one). The
    /// name, refid and reason come from the server's answer: controls in them are
    /// shown escaped ([`crate::config::escape`]), never sent raw to the terminal.
    pub fn line(&self) -> String {
        use crate::config::escape::escape;
        let mut l = format!(
            "{}{:<15.15} {:<15.15} {:>2} {} {:>4} {:>4} {:>4o} {:>8.3} {:>8.3} {:>7.3}",
            self.tally(),
            escape(&self.remote),
            escape(&self.refid),
            self.stratum,
            self.kind,
            self.when_s.map_or_else(|| "-".to_string(), pretty_interval),
            self.poll_s,
            self.reach,
            self.delay_ms,
            self.offset_ms,
            self.jitter_ms,
        );
        if !self.reason.is_empty() {
            l.push(' ');
            l.push_str(&escape(&self.reason));
        }
        if let Some(nts) = &self.nts {
            l.push(' ');
            l.push_str(&escape(&nts.token()));
        }
        l
    }

    /// The row as a JSON object.
    pub fn json(&self) -> String {
        json::to_string(&self.json_view())
    }

    fn json_view(&self) -> RowJson<'_> {
        RowJson {
            association: self.association_id,
            tally: self.tally().to_string(),
            selected: self.tally() == '*',
            remote: &self.remote,
            address: &self.address,
            port: self.port,
            refid: &self.refid,
            stratum: self.stratum,
            kind: self.kind.to_string(),
            when_s: self.when_s,
            poll_s: self.poll_s,
            reach: self.reach,
            reach_octal: format!("{:o}", self.reach),
            delay_ms: self.delay_ms,
            offset_ms: self.offset_ms,
            jitter_ms: self.jitter_ms,
            dispersion_ms: self.dispersion_ms,
            reason: &self.reason,
            nts: self.nts.as_ref(),
        }
    }
}

/// One row of `slewctl peers --json`, in its field order.
#[derive(Serialize)]
struct RowJson<'a> {
    association: u16,
    tally: String,
    selected: bool,
    remote: &'a str,
    address: &'a str,
    port: u16,
    refid: &'a str,
    stratum: i64,
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
    nts: Option<&'a NtsRow>,
}

/// ntpq's refid column: addresses as they are, codes between dots.
fn refid_shown(refid: &str) -> String {
    if refid.is_empty() || refid.parse::<Ipv4Addr>().is_ok() {
        refid.to_string()
    } else {
        format!(".{refid}.")
    }
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
        let (resp, vars) = client.read_vars(id, &[])?;
        let status = if resp.status != 0 {
            resp.status
        } else {
            status
        };
        rows.push(PeerRow::from_vars(id, status, &vars, now));
    }
    Ok(rows)
}
