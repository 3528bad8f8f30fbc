//! Answering NTP control queries (mode 6): what `ntpq -p`, `ntpq -c rv`, `ntpstat`
//! and `slewctl` ask, from plain snapshots of the daemon's state.
//!
//! The responder is sans-IO, allocates nothing and never panics. The port decides
//! *whether* to answer (access rules, rate limits); [`Responder`] decides *what*:
//!
//! 1. [`Responder::new`] looks at a request datagram. `None` means "send nothing"
//!    (not a control request, a response, a bad version, a truncated header), as ntpd
//!    stays silent then.
//! 2. [`Responder::next_fragment`] writes one response datagram into the caller's
//!    buffer ([`CONTROL_MAX_PACKET`] bytes suffice) and returns its length; call it
//!    until it returns `None`, sending each datagram as it comes.
//!
//! What is answered, as ntpd 4.2.8 answers it:
//!
//! | request | response |
//! |---|---|
//! | READSTAT, association 0 | system status word; data: (association id, peer status word) pairs |
//! | READSTAT or READVAR, association N | peer status word; N's variables (all, or those requested) |
//! | READVAR, association 0 | system status word; the system variables (all, or those requested) |
//! | an unknown association | error BADASSOC |
//! | an unknown variable name | error UNKNOWNVAR |
//! | REQ_NONCE | `nonce=…` for READ_MRU ([`mru`]); BADOP without a monitor list |
//! | READ_MRU | the monitor list, as ntpsec answers `ntpq -c mrulist` ([`mru`]); BADOP without one |
//! | WRITEVAR, WRITECLOCK, CONFIGURE, SAVECONFIG, SETTRAP, UNSETTRAP | error PERMISSION: slew is never modified remotely |
//! | READCLOCK, READ_ORDLIST_A, anything else | error BADOP |
//!
//! Besides `rv`'s variables, association 0 answers by name every variable ntpsec's
//! ntpq asks in `sysinfo`, `kerninfo`, `sysstats`, `iostats`, `monstats` and
//! `authinfo` ([`stat_vars`]), from the [`Extras`] given to
//! [`Responder::with_extras`].
//!
//! Responses echo the request's version, sequence and association id and carry the
//! system leap indicator in their first byte. Text responses are ntpd's: `name=value`
//! items separated by `, ` (or `,\r\n` once a line passes 72 characters), ended by
//! `\r\n`; an item never straddles two fragments, and fragments hold at most
//! [`CONTROL_MAX_DATA`] data bytes.
//!
//! Each association is a [`PeerVars`]: the one shape of a peer's state from the node
//! ([`PeerVars::of_source`]) through this encoder to a monitoring client, which reads
//! the READVAR answer back into it ([`PeerVars::decode`]; [`var_items`] splits any
//! variable list). The system variables come from the node the same way for every
//! port: [`SystemSnapshot::of_node`], with the port's [`Identity`].
//!
//! Each fragment is produced by rendering the response from its start again and
//! keeping only the items that fall into that fragment: quadratic in the number of
//! fragments, which is a handful at most, in exchange for needing no buffer of the
//! whole response.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod extra;
pub mod mru;
mod of_node;
mod peer_decode;
mod peer_vars;
mod snapshot;
pub mod stat_vars;
mod vars;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fixtures;
#[cfg(test)]
mod tests_mru;
#[cfg(test)]
mod tests_ntpq_names;
#[cfg(test)]
mod tests_peer_vars;
#[cfg(test)]
mod tests_summary;

use core::fmt;

pub use extra::{
    Extras, IoCounters, KernelState, KeyCounters, MonitorCounters, MruContext, MruEntry, STA_NANO,
    STA_WORDS,
};
pub use of_node::Identity;
pub use peer_decode::var_items;
pub use peer_vars::{
    association_id, bounded_text, wall_at, HostName, PeerVars, ReasonText, LOCAL_CLOCK_ASSOC_ID,
    REASON_MAX, SRCHOST_MAX,
};
pub use snapshot::{
    host_mode, peer_event, sys_event, ClockSource, PeerSnapshot, PeerStatus, RefIdKind,
    SystemSnapshot,
};
pub use vars::{PeerVar, SysVar, PEER_DEFAULT, SYS_DEFAULT};

use mru::{MruDecision, MruPlan};

pub use crate::wire::control::CONTROL_MAX_PACKET;
use crate::wire::control::{
    ControlPacket, ControlRepr, ErrorCode, Opcode, CONTROL_HEADER_LEN, CONTROL_MAX_DATA,
};

/// ntpd starts a new line in a variable list once a line would pass this length.
const MAX_LINE_LEN: usize = 72;

/// The longest single item (`, name=value`) rendered; longer ones are cut. Strings in
/// the snapshots are documented to stay well below.
const MAX_ITEM_LEN: usize = 192;

/// What the response carries.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Body {
    /// No answer at all (a READ_MRU without a valid nonce).
    Silent,
    /// `nonce=…`.
    Nonce,
    /// Monitor list entries.
    Mru(MruPlan),
    /// Header only, with the error code in the status word.
    Error(ErrorCode),
    /// The association list.
    AssociationList,
    /// System variables.
    System,
    /// The variables of the peer at this index of the snapshot slice.
    Peer(usize),
}

/// Builds the response to one control request, fragment by fragment.
#[derive(Debug)]
pub struct Responder<'a> {
    version: u8,
    opcode: Opcode,
    sequence: u16,
    association_id: u16,
    /// The request's data: the list of requested variables, if any.
    requested: &'a [u8],
    body: Body,
    sys: &'a SystemSnapshot<'a>,
    peers: &'a [PeerVars],
    extras: &'a Extras<'a>,
    next: usize,
    finished: bool,
}

/// What [`Responder::new`] answers the extra variables with.
static NO_EXTRAS: Extras<'static> = Extras::NONE;

impl<'a> Responder<'a> {
    /// Parses `request`; `None` when it deserves no answer at all. The variables of
    /// [`Extras`] answer zero, and READ_MRU and REQ_NONCE get BADOP.
    pub fn new(
        request: &'a [u8],
        sys: &'a SystemSnapshot<'a>,
        peers: &'a [PeerVars],
    ) -> Option<Self> {
        Self::with_extras(request, sys, peers, &NO_EXTRAS)
    }

    /// [`Responder::new`] with the counters, kernel state and monitor list too.
    pub fn with_extras(
        request: &'a [u8],
        sys: &'a SystemSnapshot<'a>,
        peers: &'a [PeerVars],
        extras: &'a Extras<'a>,
    ) -> Option<Self> {
        let packet = ControlPacket::new_checked(request).ok()?;
        if packet.is_response() {
            return None;
        }
        let count = usize::from(packet.count());
        let requested = request
            .get(CONTROL_HEADER_LEN..CONTROL_HEADER_LEN.saturating_add(count))
            .unwrap_or(&[]);
        let association_id = packet.association_id();
        let opcode = packet.opcode();
        let mut r = Self {
            version: packet.version(),
            opcode,
            sequence: packet.sequence(),
            association_id,
            requested,
            body: Body::Error(ErrorCode::Unspecified),
            sys,
            peers,
            extras,
            next: 0,
            finished: false,
        };
        r.body = r.decide();
        (r.body != Body::Silent).then_some(r)
    }

    fn decide(&self) -> Body {
        let peer = || {
            self.peers
                .iter()
                .position(|p| p.association_id == self.association_id)
        };
        match self.opcode {
            Opcode::ReadStat if self.association_id == 0 => Body::AssociationList,
            Opcode::ReadStat | Opcode::ReadVar => {
                let body = if self.association_id == 0 {
                    Body::System
                } else {
                    match peer() {
                        Some(i) => Body::Peer(i),
                        None => return Body::Error(ErrorCode::BadAssociation),
                    }
                };
                if self.opcode == Opcode::ReadVar && !self.names_known(body) {
                    return Body::Error(ErrorCode::UnknownVariable);
                }
                body
            }
            Opcode::ReqNonce if self.extras.mru.is_some() => Body::Nonce,
            Opcode::ReadMru => match &self.extras.mru {
                Some(ctx) => match mru::decide(self.requested, ctx) {
                    MruDecision::Silent => Body::Silent,
                    MruDecision::Error(e) => Body::Error(e),
                    MruDecision::Answer(plan) => Body::Mru(plan),
                },
                None => Body::Error(ErrorCode::BadOpcode),
            },
            Opcode::WriteVar
            | Opcode::WriteClock
            | Opcode::Configure
            | Opcode::SaveConfig
            | Opcode::SetTrap
            | Opcode::UnsetTrap => Body::Error(ErrorCode::Permission),
            _ => Body::Error(ErrorCode::BadOpcode),
        }
    }

    /// Whether every requested name is a variable of this kind.
    fn names_known(&self, body: Body) -> bool {
        requested_names(self.requested).all(|n| match body {
            Body::System => SysVar::from_name(n).is_some() || stat_vars::lookup(n).is_some(),
            _ => PeerVar::from_name(n).is_some(),
        })
    }

    /// The error this request earns, if it earns one.
    pub fn error(&self) -> Option<ErrorCode> {
        match self.body {
            Body::Error(e) => Some(e),
            _ => None,
        }
    }

    /// The status word of the response.
    fn status(&self) -> u16 {
        match self.body {
            Body::Error(e) => u16::from(e.to_bits()) << 8,
            Body::AssociationList | Body::System => self.sys.status_word(),
            Body::Peer(i) => self.peers.get(i).map_or(0, |p| p.status.word()),
            Body::Silent | Body::Nonce | Body::Mru(_) => 0,
        }
    }

    /// Writes the next response datagram into `buf` and returns its length, or `None`
    /// when the response is complete (or `buf` is shorter than
    /// [`CONTROL_MAX_PACKET`], which ends the response).
    pub fn next_fragment(&mut self, buf: &mut [u8]) -> Option<usize> {
        if self.finished || buf.len() < CONTROL_MAX_PACKET {
            return None;
        }
        let mut data = [0u8; CONTROL_MAX_DATA];
        let frag = match self.body {
            Body::Silent => {
                self.finished = true;
                return None;
            }
            Body::Error(_) => {
                self.finished = true;
                Fragment::default()
            }
            _ => {
                let f = self.render(self.next, &mut data);
                if f.len == 0 && self.next > 0 {
                    self.finished = true;
                    return None;
                }
                f
            }
        };
        let more = frag.more && !matches!(self.body, Body::Error(_));
        if !more {
            self.finished = true;
        }
        self.next = self.next.saturating_add(1);
        let repr = ControlRepr {
            leap: self.sys.leap & 0b11,
            version: self.version,
            response: true,
            error: matches!(self.body, Body::Error(_)),
            more,
            opcode: self.opcode,
            sequence: self.sequence,
            status: self.status(),
            association_id: self.association_id,
            offset: u16::try_from(frag.offset).unwrap_or(u16::MAX),
            data: data.get(..frag.len).unwrap_or(&[]),
        };
        let len = repr.buffer_len();
        let mut packet = ControlPacket::new_unchecked(&mut *buf);
        repr.emit(&mut packet);
        Some(len.max(CONTROL_HEADER_LEN))
    }

    /// Renders fragment `index` of the body into `out`.
    fn render(&self, index: usize, out: &mut [u8; CONTROL_MAX_DATA]) -> Fragment {
        let mut packer = Packer::new(index, out);
        match self.body {
            Body::Error(_) | Body::Silent => {}
            Body::Nonce => {
                if let Some(ctx) = &self.extras.mru {
                    let n = mru::nonce(&ctx.nonce_key, ctx.client, ctx.received);
                    let mut text = TextList::new(&mut packer);
                    text.item(|w| {
                        w.write_str("nonce=")?;
                        w.write_str(core::str::from_utf8(&n).unwrap_or(""))
                    });
                    text.finish();
                }
            }
            Body::Mru(plan) => {
                if let Some(ctx) = &self.extras.mru {
                    render_mru(&plan, self.requested, ctx, &mut packer);
                }
            }
            Body::AssociationList => {
                for p in self.peers {
                    let [a, b] = p.association_id.to_be_bytes();
                    let [c, d] = p.status.word().to_be_bytes();
                    let pair = [a, b, c, d];
                    packer.push(&pair);
                }
            }
            Body::System => {
                let mut text = TextList::new(&mut packer);
                if self.requested_any() {
                    for name in requested_names(self.requested) {
                        if let Some(v) = SysVar::from_name(name) {
                            text.item(|w| v.write(self.sys, w));
                        } else if let Some((n, v)) = stat_vars::lookup(name) {
                            text.item(|w| stat_vars::write(n, v, self.extras, w));
                        }
                    }
                } else {
                    for v in SYS_DEFAULT {
                        text.item(|w| v.write(self.sys, w));
                    }
                }
                text.finish();
            }
            Body::Peer(i) => {
                let Some(p) = self.peers.get(i) else {
                    return packer.done();
                };
                let mut text = TextList::new(&mut packer);
                if self.requested_any() {
                    for name in requested_names(self.requested) {
                        if let Some(v) = PeerVar::from_name(name) {
                            text.item(|w| v.write(p, w));
                        }
                    }
                } else {
                    for v in PEER_DEFAULT.iter().filter(|v| v.in_default(p)) {
                        text.item(|w| v.write(p, w));
                    }
                }
                text.finish();
            }
        }
        packer.done()
    }

    fn requested_any(&self) -> bool {
        requested_names(self.requested).next().is_some()
    }
}

/// The READ_MRU answer (see [`mru`]), whose entries stop where `frags` datagrams
/// would be exceeded.
fn render_mru(plan: &MruPlan, requested: &[u8], ctx: &MruContext<'_>, packer: &mut Packer<'_>) {
    let now = ctx.received;
    let frags = usize::from(plan.request.frags.max(1));
    let mut text = TextList::new(packer);
    let ts = |t: crate::time::NtpTimestamp| (t.seconds(), t.fraction());
    if let Some(e) = plan.older.and_then(|i| ctx.entries.get(i)) {
        let (s, f) = ts(e.last);
        text.item(|w| write!(w, "last.older=0x{s:08x}.{f:08x}"));
        let a = e.addr;
        text.item(|w| write!(w, "addr.older={a}"));
    }
    let n = mru::nonce(&ctx.nonce_key, ctx.client, ctx.received);
    text.item(|w| {
        w.write_str("nonce=")?;
        w.write_str(core::str::from_utf8(&n).unwrap_or(""))
    });
    let mut count: u32 = 0;
    let mut newest = None;
    let mut done = true;
    if plan.named {
        for (i, a) in mru::named_addrs(requested) {
            if let Some(e) = ctx.entries.iter().find(|e| e.addr.ip() == a) {
                mru_entry(&mut text, e, i);
            }
        }
    } else {
        for e in ctx.entries.iter().skip(plan.start) {
            if count >= plan.request.limit || !text.room_for_entry(frags) {
                done = false;
                break;
            }
            if !plan.selects(e, now) {
                continue;
            }
            mru_entry(&mut text, e, count as usize);
            count += 1;
            newest = Some(e.last);
        }
    }
    if done {
        let (s, f) = ts(now);
        text.item(|w| write!(w, "now=0x{s:08x}.{f:08x}"));
        if let Some(t) = newest {
            let (s, f) = ts(t);
            text.item(|w| write!(w, "last.newest=0x{s:08x}.{f:08x}"));
        }
    }
    text.finish();
}

/// One monitor list row, as ntpd's `send_mru_entry` (in a fixed order).
fn mru_entry(text: &mut TextList<'_, '_>, e: &MruEntry, i: usize) {
    let (ls, lf) = (e.last.seconds(), e.last.fraction());
    let (fs, ff) = (e.first.seconds(), e.first.fraction());
    let a = e.addr;
    text.item(|w| write!(w, "addr.{i}={a}"));
    text.item(|w| write!(w, "last.{i}=0x{ls:08x}.{lf:08x}"));
    text.item(|w| write!(w, "first.{i}=0x{fs:08x}.{ff:08x}"));
    text.item(|w| write!(w, "ct.{i}={}", e.count));
    text.item(|w| write!(w, "mv.{i}={}", e.mode_version));
    text.item(|w| write!(w, "rs.{i}={:#x}", e.restrict));
    text.item(|w| write!(w, "sc.{i}={}", vars::Fixed(e.score, 3)));
    text.item(|w| write!(w, "dr.{i}={}", e.dropped));
}

/// The longest a monitor list row gets on the wire (IPv6 address, every number at
/// its widest), with separators.
const MRU_ENTRY_MAX_LEN: usize = 300;

/// The names in a request's variable list: comma-separated, whitespace trimmed, any
/// `=value` dropped, empty entries skipped, NUL padding ignored.
fn requested_names(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b',').filter_map(|item| {
        let name = item.split(|&b| b == b'=').next().unwrap_or(&[]);
        let name = trim(name);
        (!name.is_empty()).then_some(name)
    })
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() || *first == 0 {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() || *last == 0 {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Where one fragment sits in the whole response.
#[derive(Debug, Default, Clone, Copy)]
struct Fragment {
    /// Offset of its first byte.
    offset: usize,
    /// Its data bytes.
    len: usize,
    /// More data follows it.
    more: bool,
}

/// Packs items into fragments without splitting any, keeping the bytes of fragment
/// `want`.
struct Packer<'o> {
    want: usize,
    out: &'o mut [u8; CONTROL_MAX_DATA],
    /// The fragment being filled.
    current: usize,
    /// Bytes in it.
    fill: usize,
    /// Bytes in all fragments before it.
    before: usize,
    want_offset: usize,
    want_len: usize,
}

impl<'o> Packer<'o> {
    fn new(want: usize, out: &'o mut [u8; CONTROL_MAX_DATA]) -> Self {
        Self {
            want,
            out,
            current: 0,
            fill: 0,
            before: 0,
            want_offset: 0,
            want_len: 0,
        }
    }

    /// Appends one item (at most [`CONTROL_MAX_DATA`] bytes; longer ones are cut).
    fn push(&mut self, item: &[u8]) {
        let item = item.get(..CONTROL_MAX_DATA).unwrap_or(item);
        if self.fill.saturating_add(item.len()) > CONTROL_MAX_DATA {
            self.before = self.before.saturating_add(self.fill);
            self.current = self.current.saturating_add(1);
            self.fill = 0;
        }
        if self.current == self.want {
            if let Some(dst) = self
                .out
                .get_mut(self.fill..self.fill.saturating_add(item.len()))
            {
                dst.copy_from_slice(item);
            }
            self.want_offset = self.before;
            self.want_len = self.fill.saturating_add(item.len());
        }
        self.fill = self.fill.saturating_add(item.len());
    }

    /// Whether an item of `len` bytes still fits in the first `frags` fragments.
    fn fits_within(&self, frags: usize, len: usize) -> bool {
        self.current.saturating_add(1) < frags
            || (self.current < frags && self.fill.saturating_add(len) <= CONTROL_MAX_DATA)
    }

    fn done(self) -> Fragment {
        Fragment {
            offset: if self.current < self.want {
                0
            } else {
                self.want_offset
            },
            len: if self.current < self.want {
                0
            } else {
                self.want_len
            },
            more: self.current > self.want,
        }
    }
}

/// ntpd's text list: separators, line breaks and the final `\r\n`.
struct TextList<'p, 'o> {
    packer: &'p mut Packer<'o>,
    line_len: usize,
    first: bool,
}

impl<'p, 'o> TextList<'p, 'o> {
    fn new(packer: &'p mut Packer<'o>) -> Self {
        Self {
            packer,
            line_len: 0,
            first: true,
        }
    }

    /// Renders one `name=value` and appends it with its separator.
    fn item(&mut self, write: impl FnOnce(&mut dyn fmt::Write) -> fmt::Result) {
        let mut buf = ItemBuf::new();
        if !self.first {
            // The separator's length is only known once the item is.
            buf.reserve_separator();
        }
        if write(&mut buf).is_err() {
            // Cut short: a missing variable is better than a broken list.
            return;
        }
        let text_len = buf.text_len();
        let bytes = if self.first {
            self.first = false;
            self.line_len = text_len;
            buf.bytes()
        } else if self
            .line_len
            .saturating_add(1)
            .saturating_add(text_len)
            .saturating_add(1)
            >= MAX_LINE_LEN
        {
            self.line_len = text_len;
            buf.with_separator(b",\r\n")
        } else {
            self.line_len = self.line_len.saturating_add(2).saturating_add(text_len);
            buf.with_separator(b", ")
        };
        self.packer.push(bytes);
    }

    fn finish(self) {
        self.packer.push(b"\r\n");
    }

    /// Whether a whole monitor list row still fits in the first `frags` fragments
    /// (an item never straddles two, but a row's items may).
    fn room_for_entry(&self, frags: usize) -> bool {
        self.packer.fits_within(frags, MRU_ENTRY_MAX_LEN)
    }
}

/// A fixed buffer for one item, with room for a separator in front.
struct ItemBuf {
    buf: [u8; MAX_ITEM_LEN],
    /// Where the text starts (after the reserved separator room).
    start: usize,
    len: usize,
}

/// Room kept for the longest separator, `,\r\n`.
const SEPARATOR_ROOM: usize = 3;

impl ItemBuf {
    fn new() -> Self {
        Self {
            buf: [0; MAX_ITEM_LEN],
            start: 0,
            len: 0,
        }
    }

    fn reserve_separator(&mut self) {
        self.start = SEPARATOR_ROOM;
        self.len = SEPARATOR_ROOM;
    }

    fn text_len(&self) -> usize {
        self.len.saturating_sub(self.start)
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(self.start..self.len).unwrap_or(&[])
    }

    fn with_separator(&mut self, sep: &[u8]) -> &[u8] {
        let from = self.start.saturating_sub(sep.len());
        if let Some(dst) = self.buf.get_mut(from..self.start) {
            dst.copy_from_slice(sep);
        }
        self.buf.get(from..self.len).unwrap_or(&[])
    }
}

impl fmt::Write for ItemBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            match self.buf.get_mut(self.len) {
                Some(slot) => {
                    *slot = b;
                    self.len = self.len.saturating_add(1);
                }
                None => return Err(fmt::Error),
            }
        }
        Ok(())
    }
}
