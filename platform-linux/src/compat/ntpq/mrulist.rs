//! ntpq's `mrulist`: a nonce, then READ_MRU, printed as ntpq 4.2.8 prints it.

use std::net::SocketAddr;

use slew_core::wire::control::Opcode;

use super::commands::message;
use super::format::{self, split_vars};
use crate::ctl::ControlClient;

/// One client in the MRU list.
#[derive(Debug, Default, Clone)]
struct MruEntry {
    addr: String,
    last: f64,
    first: f64,
    count: u32,
    mode_version: u8,
    restrict: u16,
}

fn ntp_time(v: &str) -> Option<f64> {
    let (s, f) = crate::compat::names::parse_timestamp(v)?;
    Some(f64::from(s) + f64::from(f) / 4_294_967_296.0)
}

/// `mrulist`: a nonce, then READ_MRU, printed as ntpq 4.2.8 prints it (one request
/// of up to 32 fragments: what slewd keeps fits in it).
pub fn mrulist(client: &mut ControlClient, numeric: bool) -> Result<String, String> {
    eprintln!("Ctrl-C will stop MRU retrieval and display partial results.");
    let r = client
        .request(Opcode::ReqNonce, 0, b"")
        .map_err(|e| message(&e, 0))?;
    let vars = split_vars(&r.data);
    let nonce = format::get(&vars, "nonce")
        .ok_or("***Server returned no nonce")?
        .to_string();
    let req = format!("nonce={nonce}, frags=32");
    let r = client
        .request(Opcode::ReadMru, 0, req.as_bytes())
        .map_err(|e| message(&e, 0))?;
    let vars = split_vars(&r.data);
    let mut entries: Vec<MruEntry> = Vec::new();
    let mut now = None;
    for (tag, val) in &vars {
        let Some(val) = val.as_deref() else { continue };
        if tag == "now" {
            now = ntp_time(val);
            continue;
        }
        let Some((field, index)) = tag.split_once('.') else {
            continue;
        };
        let Ok(i) = index.parse::<usize>() else {
            continue;
        };
        if i > 4096 {
            continue;
        }
        if entries.len() <= i {
            entries.resize(i + 1, MruEntry::default());
        }
        let Some(e) = entries.get_mut(i) else {
            continue;
        };
        match field {
            "addr" => e.addr = val.to_string(),
            "last" => e.last = ntp_time(val).unwrap_or(0.0),
            "first" => e.first = ntp_time(val).unwrap_or(0.0),
            "ct" => e.count = val.parse().unwrap_or(0),
            "mv" => e.mode_version = val.parse().unwrap_or(0),
            "rs" => e.restrict = u16::from_str_radix(val.trim_start_matches("0x"), 16).unwrap_or(0),
            _ => {}
        }
    }
    entries.retain(|e| !e.addr.is_empty() && e.count > 0);
    eprintln!(
        "Retrieved {} unique MRU entries and 0 updates.",
        entries.len()
    );
    let now = now.unwrap_or_else(|| entries.iter().map(|e| e.last).fold(0.0, f64::max));
    entries.sort_by(|a, b| b.last.total_cmp(&a.last));
    let mut out = String::from("lstint avgint rstr r m v  count rport remote address\n");
    out.push_str(&"=".repeat(78));
    out.push('\n');
    for e in &entries {
        let lstint = ((now - e.last) + 0.5) as i64;
        let avgint = ((e.last - e.first) / f64::from(e.count.max(1)) + 0.5) as i64;
        let flag = if e.restrict & 0x0400 != 0 {
            'K'
        } else if e.restrict & 0x0020 != 0 {
            'L'
        } else {
            '.'
        };
        let (host, port) = match e.addr.parse::<SocketAddr>() {
            Ok(sa) => (format::host_name(&sa.ip().to_string(), numeric), sa.port()),
            Err(_) => (crate::compat::names::visible(&e.addr), 0),
        };
        out.push_str(&format!(
            "{lstint:6} {avgint:6} {:4x} {flag} {} {} {:6} {port:5} {host}\n",
            e.restrict,
            e.mode_version & 7,
            (e.mode_version >> 3) & 7,
            e.count
        ));
    }
    Ok(out)
}
