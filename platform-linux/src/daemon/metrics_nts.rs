//! The NTS (RFC 8915) part of the metrics page: the NTS-KE server's handshakes, the
//! time server's authenticated answers, NAKs and drops, and each NTS source's
//! cookies, key exchanges, NAKs and refusals.
//!
//! Server side, counters: `slew_nts_ke_served_total`,
//! `slew_nts_ke_failed_total{reason=busy|handshake|request|refused}` (only when the
//! NTS-KE server runs), gauge `slew_nts_ke_connections`;
//! `slew_nts_requests_served_total`, `slew_nts_cookies_issued_total`,
//! `slew_nts_naks_sent_total{reason=unknown_key|bad_cookie|forged}`,
//! `slew_nts_requests_dropped_total{reason=malformed|no_unique_id|no_cookie|no_authenticator}`.
//! Client side, over every NTS source since start (only when one is configured):
//! counters `slew_nts_client_ke_succeeded_total`,
//! `slew_nts_client_ke_failed_total{reason=connect|timeout|certificate|alpn|tls|no-common-aead|refused|malformed|other}`.
//! Per NTS source (label `address`): gauges `slew_source_nts_cookies`,
//! `slew_source_nts_needs_key_exchange`, `slew_source_nts_last_key_exchange{result=ok|CODE}`
//! (1 for the last outcome); counters `slew_source_nts_key_exchanges_total`,
//! `slew_source_nts_naks_received_total`, `slew_source_nts_refused_total`.

use std::sync::atomic::Ordering;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use slew_core::peer::{KeResult, SourceStatus};
use slew_core::server::NtsStats;

use crate::server::nts::server::KeServerStats;
use crate::server::nts::KeClientStats;

/// A label `reason`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

/// A source's address.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Source {
    address: String,
}

/// A source's address and an outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceResult {
    address: String,
    result: &'static str,
}

fn counter(registry: &mut Registry, name: &str, help: &str, v: u64) {
    let c = Counter::<u64>::default();
    c.inc_by(v);
    // The encoder appends `_total` to counters.
    registry.register(name, help, c);
}

fn by_reason(registry: &mut Registry, name: &str, help: &str, rows: &[(&'static str, u64)]) {
    let f = Family::<Reason, Counter<u64>>::default();
    for &(reason, n) in rows {
        f.get_or_create(&Reason { reason }).inc_by(n);
    }
    registry.register(name, help, f);
}

/// Registers the NTS-KE server's counters (`ke`: `None` when it does not run).
pub(crate) fn register_ke_server(registry: &mut Registry, ke: Option<&KeServerStats>) {
    let Some(ke) = ke else { return };
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    counter(
        registry,
        "slew_nts_ke_served",
        "NTS-KE requests answered with keys and cookies",
        load(&ke.served),
    );
    by_reason(
        registry,
        "slew_nts_ke_failed",
        "NTS-KE connections that got no cookies, by reason",
        &[
            ("busy", load(&ke.refused_busy)),
            ("handshake", load(&ke.failed_handshake)),
            ("request", load(&ke.failed_request)),
            ("refused", load(&ke.refused_request)),
        ],
    );
    let g = Gauge::<i64>::default();
    g.set(i64::try_from(ke.active.load(Ordering::Relaxed)).unwrap_or(i64::MAX));
    registry.register("slew_nts_ke_connections", "NTS-KE connections open", g);
}

/// Registers the NTS-KE client's cumulative outcomes (`None`: no NTS source).
pub(crate) fn register_ke_client(registry: &mut Registry, ke: Option<&KeClientStats>) {
    let Some(ke) = ke else { return };
    counter(
        registry,
        "slew_nts_client_ke_succeeded",
        "NTS-KE sessions of this daemon's NTS sources that gave cookies, since start",
        ke.succeeded,
    );
    let rows: Vec<_> = ke.failures().collect();
    by_reason(
        registry,
        "slew_nts_client_ke_failed",
        "NTS-KE sessions of this daemon's NTS sources that failed, by reason, since start",
        &rows,
    );
}

/// Registers the time server's NTS counters.
pub(crate) fn register_server(registry: &mut Registry, nts: &NtsStats) {
    counter(
        registry,
        "slew_nts_requests_served",
        "NTS requests verified and answered with authenticated time",
        nts.served,
    );
    counter(
        registry,
        "slew_nts_cookies_issued",
        "New NTS cookies sent in answers",
        nts.cookies_issued,
    );
    by_reason(
        registry,
        "slew_nts_naks_sent",
        "NTS NAKs sent, by reason",
        &[
            ("unknown_key", nts.nak_unknown_key),
            ("bad_cookie", nts.nak_bad_cookie),
            ("forged", nts.nak_forged),
        ],
    );
    by_reason(
        registry,
        "slew_nts_requests_dropped",
        "NTS requests dropped unanswered, by reason",
        &[
            ("malformed", nts.dropped_malformed),
            ("no_unique_id", nts.dropped_no_unique_id),
            ("no_cookie", nts.dropped_no_cookie),
            ("no_authenticator", nts.dropped_no_authenticator),
        ],
    );
}

/// Registers each NTS source's figures; nothing when no source uses NTS.
pub(crate) fn register_sources(registry: &mut Registry, sources: &[SourceStatus]) {
    let nts: Vec<_> = sources
        .iter()
        .filter_map(|s| s.nts.map(|n| (s.addr.to_string(), n)))
        .collect();
    if nts.is_empty() {
        return;
    }
    let cookies = Family::<Source, Gauge<i64>>::default();
    let needs = Family::<Source, Gauge<i64>>::default();
    let last = Family::<SourceResult, Gauge<i64>>::default();
    let exchanges = Family::<Source, Counter<u64>>::default();
    let naks = Family::<Source, Counter<u64>>::default();
    let refused = Family::<Source, Counter<u64>>::default();
    for (address, n) in nts {
        let src = Source {
            address: address.clone(),
        };
        cookies.get_or_create(&src).set(i64::from(n.cookies));
        needs
            .get_or_create(&src)
            .set(i64::from(n.needs_key_exchange.is_some()));
        if let Some(r) = n.last_key_exchange {
            let result = match r {
                KeResult::Ok { .. } => "ok",
                KeResult::Failed(f) => f.code(),
            };
            last.get_or_create(&SourceResult { address, result }).set(1);
        }
        exchanges
            .get_or_create(&src)
            .inc_by(u64::from(n.key_exchanges));
        naks.get_or_create(&src).inc_by(u64::from(n.naks));
        refused.get_or_create(&src).inc_by(u64::from(n.refused));
    }
    registry.register("slew_source_nts_cookies", "NTS cookies held", cookies);
    registry.register(
        "slew_source_nts_needs_key_exchange",
        "1 while the source waits for NTS-KE",
        needs,
    );
    registry.register(
        "slew_source_nts_last_key_exchange",
        "1 for the outcome of the last NTS-KE (ok or the failure)",
        last,
    );
    registry.register(
        "slew_source_nts_key_exchanges",
        "NTS-KE sessions that succeeded",
        exchanges,
    );
    registry.register("slew_source_nts_naks_received", "NTS NAKs received", naks);
    registry.register(
        "slew_source_nts_refused",
        "Answers refused by the NTS checks, NAKs included",
        refused,
    );
}
