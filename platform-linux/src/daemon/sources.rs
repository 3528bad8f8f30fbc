//! Sources: resolving configured names into associations, keys, and turning the
//! node's events into the log lines an admin reads.

use std::net::SocketAddr;

use slew_core::node::{Event, PacketVerdict};
use slew_core::peer::{NtsRefusal, Reason, SourceConfig, SourceId};
use slew_core::Instant;
use std::time::Duration;

use super::{Assoc, Daemon, Exit, MAX_SOURCES, RERESOLVE_AFTER, RESOLVE_RETRY};
use crate::config::Host;
use crate::os::resolve::{resolve, ResolveError, POOL_MAX};
use crate::os::time::monotonic_now;
use slew_core::Clock;

/// Why a configuration line has no association yet (logged, and the line is looked
/// up again after [`RESOLVE_RETRY`]).
#[derive(Debug)]
pub enum AssocError {
    /// Its name gave no address.
    Resolve(ResolveError),
    /// The lookup thread could not be started.
    NoLookupThread {
        /// The line's name.
        name: String,
    },
    /// The node holds [`MAX_SOURCES`] already.
    Full {
        /// The line's name.
        name: String,
        /// The address left out.
        addr: SocketAddr,
    },
    /// The name's addresses are all of a family this host has no socket for.
    NoFamily {
        /// The name and the address.
        who: String,
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// Why there is no socket of that family.
        why: String,
    },
}

impl std::fmt::Display for AssocError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Resolve(e) => e.fmt(f),
            Self::NoLookupThread { name } => {
                write!(f, "{name}: cannot start the name lookup thread")
            }
            Self::Full { name, addr } => {
                write!(
                    f,
                    "{name}: no room for {addr} (at most {MAX_SOURCES} sources)"
                )
            }
            Self::NoFamily { who, family, why } => {
                write!(f, "{who} not polled: no {family} on this host ({why})")
            }
        }
    }
}

impl std::error::Error for AssocError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Resolve(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ResolveError> for AssocError {
    fn from(e: ResolveError) -> Self {
        Self::Resolve(e)
    }
}

impl<C: Clock> Daemon<C> {
    pub(super) fn add_spec(&mut self, spec_idx: usize, now: Instant) -> Result<(), AssocError> {
        self.add_spec_except(spec_idx, now, None)
    }

    /// Resolves configuration line `spec_idx` and associates with what it names,
    /// up to what the line stands for (one server; a pool's [`POOL_MAX`] members,
    /// counting those already associated) and never with `except` (a member just
    /// dropped as unreachable, which the rotating pool DNS may hand back).
    pub(super) fn add_spec_except(
        &mut self,
        spec_idx: usize,
        now: Instant,
        except: Option<SocketAddr>,
    ) -> Result<(), AssocError> {
        let Some(spec) = self.settings.sources.get(spec_idx) else {
            return Ok(());
        };
        if matches!(spec.host, Host::Name(_)) {
            // A DNS name: looked up off the loop; `collect_resolved` associates.
            self.resolve_except.retain(|(i, _)| *i != spec_idx);
            self.resolve_except.push((spec_idx, except));
            if !self.resolver.request(spec_idx, spec) {
                return Err(AssocError::NoLookupThread {
                    name: spec.display_name(),
                });
            }
            return Ok(());
        }
        let addrs = resolve(spec)?;
        self.associate(spec_idx, addrs, now, except)
    }

    /// Lookups that finished: associate, or retry later.
    pub(super) fn collect_resolved(&mut self, now: Instant) {
        for (idx, result) in self.resolver.take_results() {
            let except = self
                .resolve_except
                .iter()
                .find(|(i, _)| *i == idx)
                .and_then(|(_, e)| *e);
            self.resolve_except.retain(|(i, _)| *i != idx);
            let outcome = result
                .map_err(AssocError::from)
                .and_then(|addrs| self.associate(idx, addrs, now, except));
            if let Err(e) = outcome {
                log::warn!("{e}; trying again in {} s", RESOLVE_RETRY.as_secs());
                if !self.unresolved.contains(&idx) {
                    self.unresolved.push(idx);
                }
            }
        }
    }

    /// Associates with `addrs`, the addresses configuration line `spec_idx` named.
    fn associate(
        &mut self,
        spec_idx: usize,
        addrs: Vec<SocketAddr>,
        now: Instant,
        except: Option<SocketAddr>,
    ) -> Result<(), AssocError> {
        let Some(spec) = self.settings.sources.get(spec_idx) else {
            return Ok(());
        };
        let template = spec.options;
        let name = spec.display_name();
        let literal = matches!(spec.host, Host::Ip(_));
        let want = if spec.kind == crate::config::SourceKind::Pool {
            POOL_MAX
        } else {
            1
        };
        let mut have = self.assocs.iter().filter(|a| a.spec == spec_idx).count();
        let mut no_family = None;
        for addr in addrs {
            if have >= want {
                break;
            }
            // One association per address of a line: an NTS member polls the port
            // its NTS-KE named, so its `addr` may differ from the resolved one in
            // the port only.
            if except.is_some_and(|e| e.ip() == addr.ip())
                || self
                    .assocs
                    .iter()
                    .any(|a| a.addr == addr || (a.spec == spec_idx && a.addr.ip() == addr.ip()))
            {
                continue;
            }
            if let Some(why) = self.no_client_socket(&addr) {
                no_family.get_or_insert((addr, why));
                continue;
            }
            have += 1;
            match self
                .ep
                .node_mut()
                .add_source(SourceConfig { addr, ..template }, now)
            {
                Ok(id) => {
                    log::info!("{name}: polling {addr}");
                    self.give_key(id, template.key, &name);
                    self.mark_nts(spec_idx, id, &name, addr);
                    self.assocs.push(Assoc {
                        spec: spec_idx,
                        id,
                        addr,
                        unreachable_since: None,
                        auth_logged: None,
                        nts_logged: None,
                        added: now,
                        silence_logged: false,
                    });
                }
                Err(_) => return Err(AssocError::Full { name, addr }),
            }
        }
        if let Some((addr, why)) = no_family {
            let family = crate::os::net::family_name(&addr);
            let who = if literal {
                addr.to_string()
            } else {
                format!("{name} ({addr})")
            };
            let line = AssocError::NoFamily { who, family, why };
            if have > 0 || literal {
                // Another address of the name was taken, or an address literal that
                // cannot change: said once, no retry.
                log::warn!("{line}");
            } else {
                // A name may resolve to the other family later: looked up again.
                return Err(line);
            }
        }
        Ok(())
    }

    /// Why `addr` cannot be polled, when the host has no socket of its family.
    fn no_client_socket(&self, addr: &SocketAddr) -> Option<String> {
        let has = if addr.is_ipv4() {
            self.client_v4.is_some()
        } else {
            self.client_v6.is_some()
        };
        if has {
            return None;
        }
        Some(
            self.client_missing
                .iter()
                .find(|(v6, _)| *v6 == addr.is_ipv6())
                .map_or_else(|| "no socket".to_string(), |(_, e)| e.clone()),
        )
    }

    /// `server … key N`: hands the association its trusted key (checked at load).
    pub(super) fn give_key(&mut self, id: SourceId, key: Option<u32>, name: &str) {
        let Some(k) = key else { return };
        let found = self.settings.hardening.keys.iter().find(|x| x.id() == k);
        let taken = found
            .filter(|x| x.is_trusted())
            .cloned()
            .is_some_and(|key| self.ep.node_mut().set_source_key(id, key));
        if taken {
            log::info!("{name}: requests signed with key {k}, unsigned answers refused");
        } else {
            log::error!("{name}: key {k} is not a trusted key: every answer will be refused");
        }
    }

    /// A `key N` source that has never answered for three of its minimum polls: ntpd
    /// and chronyd drop a request whose MAC they cannot verify without a word (no
    /// crypto-NAK), so silence is how a key mismatch shows. Said once per association.
    pub(super) fn report_auth_silence(&mut self, now: Instant) {
        let mut lines = Vec::new();
        for a in self.assocs.iter_mut().filter(|a| !a.silence_logged) {
            let Some(spec) = self.settings.sources.get(a.spec) else {
                continue;
            };
            let Some(k) = spec.options.key else { continue };
            let quiet = Duration::from_secs_f64(3.0 * spec.options.minpoll.as_seconds_f64());
            if now.saturating_since(a.added) < quiet || a.auth_logged.is_some() {
                continue;
            }
            if self
                .ep
                .node()
                .source(a.id, now)
                .is_some_and(|s| s.last_rx.is_none())
            {
                a.silence_logged = true;
                lines.push((a.addr, k, quiet.as_secs()));
            }
        }
        for (addr, k, secs) in lines {
            log::warn!(
                "{}: no answer to requests signed with key {k} in {secs} s: a server whose key {k} differs drops them silently; check the keys file on both sides",
                self.name_of(addr)
            );
        }
    }

    pub(super) fn resolve_pending(&mut self, now: Instant) {
        if now < self.next_resolve {
            return;
        }
        let pending = std::mem::take(&mut self.unresolved);
        for idx in pending {
            if let Err(e) = self.add_spec(idx, now) {
                log::warn!("{e}; trying again in {} s", RESOLVE_RETRY.as_secs());
                self.unresolved.push(idx);
            }
        }
        // Named sources unreachable for a long time: look the name up again (a
        // server moved, a pool member retired).
        let stale: Vec<Assoc> = self
            .assocs
            .iter()
            .filter(|a| {
                a.unreachable_since
                    .is_some_and(|t| now.saturating_since(t) >= RERESOLVE_AFTER)
            })
            .filter(|a| {
                self.settings
                    .sources
                    .get(a.spec)
                    .is_some_and(|s| matches!(s.host, Host::Name(_)))
            })
            .cloned()
            .collect();
        for a in stale {
            log::info!(
                "{}: unreachable for {} s, resolving its name again",
                a.addr,
                RERESOLVE_AFTER.as_secs()
            );
            self.ep.node_mut().remove_source(a.id);
            self.assocs.retain(|x| x.id != a.id);
            if let Err(e) = self.add_spec_except(a.spec, now, Some(a.addr)) {
                log::warn!("{e}");
                self.unresolved.push(a.spec);
            }
        }
        self.next_resolve = now.saturating_add(RESOLVE_RETRY);
    }

    pub(super) fn name_of(&self, addr: SocketAddr) -> String {
        // A refclock (127.127.T.U, port 0) by its driver's name, as ntpq shows it.
        if let Some(d) = self
            .refclocks
            .iter()
            .find(|d| slew_core::peer::refclock_addr(d.config()) == addr)
        {
            return d.name.clone();
        }
        self.assocs
            .iter()
            .find(|a| a.addr == addr)
            .and_then(|a| self.settings.sources.get(a.spec))
            .map(|s| match &s.host {
                Host::Name(n) => format!("{n} ({addr})"),
                Host::Ip(_) => addr.to_string(),
            })
            .unwrap_or_else(|| addr.to_string())
    }

    pub(super) fn on_event(&mut self, ev: &Event, now: Instant) {
        match *ev {
            Event::Reachable { id, addr } => {
                if let Some(a) = self.assocs.iter_mut().find(|a| a.id == id) {
                    a.unreachable_since = None;
                }
                log::info!("{}: reachable", self.name_of(addr));
            }
            Event::Unreachable { id, addr } => {
                if let Some(a) = self.assocs.iter_mut().find(|a| a.id == id) {
                    a.unreachable_since.get_or_insert(now);
                }
                log::warn!(
                    "{}: unreachable (no answer to the last 8 polls)",
                    self.name_of(addr)
                );
            }
            Event::SystemPeer { addr, stratum, .. } => {
                log::info!(
                    "synchronised to {} at stratum {stratum}",
                    self.name_of(addr)
                );
            }
            Event::NoSystemPeer { reason } => {
                log::warn!(
                    "no server suitable for synchronization: {} (serving stratum 16)",
                    reason.code()
                );
            }
            Event::LocalClock { stratum } if self.settings.sources.is_empty() => {
                log::info!(
                    "serving the local clock at stratum {stratum} (no upstream server configured)"
                );
            }
            Event::LocalClock { stratum } => {
                log::warn!(
                    "no upstream source usable: serving the local clock at stratum {stratum}"
                );
            }
            Event::Orphan { stratum } => {
                log::warn!(
                    "no upstream source usable for `tos orphanwait`: orphan mode, serving stratum {stratum}"
                );
            }
            Event::Falseticker { addr, .. } => {
                log::warn!(
                    "{}: falseticker (its time disagrees with the majority)",
                    self.name_of(addr)
                );
            }
            // With -q the endpoint held the step back: `finish_once` makes the one
            // correction and logs it.
            Event::Step { offset_s } if self.settings.once => {
                log::debug!("-q: the discipline asks for a step of {offset_s:+.6} s")
            }
            Event::Step { offset_s } => log::warn!("stepped the clock by {offset_s:+.6} s"),
            Event::EraStep { asked, resolved } => {
                log::warn!("{}", super::seams::era_note(asked, resolved))
            }
            Event::Spike { offset_s } => {
                log::info!("spike: offset {offset_s:+.6} s held back until it persists")
            }
            Event::Panic { offset_s } => {
                log::error!(
                    "offset {offset_s:+.3} s exceeds the panic threshold ({} s): not touching the clock. Set the time first (slewd -q -g, or slewctl date -b) or start with -g to allow it once",
                    self.settings.node.discipline.panic_threshold_s
                );
                self.exit = Some(Exit::Panic);
            }
            Event::Kiss { addr, code, .. } => {
                log::warn!("{}: kiss-o'-death ({})", self.name_of(addr), code.code());
            }
            Event::Demobilized { id, addr, reason } => {
                log::warn!(
                    "{}: association dropped ({})",
                    self.name_of(addr),
                    reason.code()
                );
                self.assocs.retain(|a| a.id != id);
            }
            Event::NeedKeyExchange { id, reason, .. } => {
                self.on_need_key_exchange(id, reason, now);
            }
            _ => log::debug!("{ev:?}"),
        }
    }

    /// An authentication failure is worth a warning, once until it changes: a flood
    /// of forged answers must not flood the log.
    pub(super) fn log_auth(&mut self, from: SocketAddr, verdict: PacketVerdict) {
        let Some(a) = self.assocs.iter_mut().find(|a| a.addr == from) else {
            return;
        };
        match verdict {
            PacketVerdict::Refused(r @ (Reason::AuthFailed | Reason::CryptoNak))
                if a.auth_logged != Some(r) =>
            {
                a.auth_logged = Some(r);
                let name = self.name_of(from);
                let why = if r == Reason::CryptoNak {
                    "the server could not authenticate our request (crypto-NAK): check the key on both sides"
                } else {
                    "no valid MAC under the configured key"
                };
                log::warn!("{name}: answer refused ({}): {why}", r.code());
            }
            PacketVerdict::Refused(Reason::NtsRefused | Reason::NtsNak) => {
                let id = a.id;
                self.log_nts_refusal(id, from);
            }
            PacketVerdict::Accepted => {
                a.auth_logged = None;
                a.nts_logged = None;
            }
            _ => {}
        }
    }

    /// An NTS answer refused (forged, replayed, not ours, a NAK): a warning with the
    /// reason and the count, once until the reason changes.
    fn log_nts_refusal(&mut self, id: SourceId, from: SocketAddr) {
        let Some(nts) = self
            .ep
            .node()
            .source(id, monotonic_now())
            .and_then(|s| s.nts)
        else {
            return;
        };
        let Some(why) = nts.last_refusal else { return };
        let Some(a) = self.assocs.iter_mut().find(|a| a.id == id) else {
            return;
        };
        if a.nts_logged == Some(why) {
            return;
        }
        a.nts_logged = Some(why);
        let what = match why {
            NtsRefusal::NotWaiting => "no request waiting for it (a replay?)",
            NtsRefusal::Forged => "the authenticator does not verify (forged or damaged)",
            NtsRefusal::UniqueId => "not the Unique Identifier of our request",
            NtsRefusal::MissingAuthenticator => "no NTS authenticator",
            NtsRefusal::Nak => "an NTS NAK: the server cannot open our cookies, NTS-KE again",
            NtsRefusal::NoCookies => "authentic but without a usable cookie",
            _ => "malformed",
        };
        log::warn!(
            "{}: NTS answer refused ({}): {what}; {} refused so far",
            self.name_of(from),
            why.code(),
            nts.refused
        );
    }

    pub(super) fn log_no_server(&self) {
        log::error!("no server suitable for synchronization found");
        let now = monotonic_now();
        for s in self.ep.node().sources(now) {
            let why = s
                .last_refusal
                .filter(|r| *r != slew_core::peer::Reason::None)
                .unwrap_or(s.reason);
            log::error!("  {}: {}", self.name_of(s.addr), why.code());
        }
    }
}
