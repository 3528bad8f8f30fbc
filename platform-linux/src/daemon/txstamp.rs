//! Kernel transmit stamps for the client's requests (T1).
//!
//! The driver reports T1 as the clock read right after `send`; the kernel's software
//! transmit stamp, taken as the packet leaves the IP stack, comes back on the client
//! socket's error queue with the packet. Each is matched to its request by the
//! request's transmit timestamp field (a random nonce, [`TxId::nonce`]) and handed
//! to [`Node::handle_tx_timestamp`], which replaces the fallback. When no stamp comes
//! (a kernel without them, a full error queue), the fallback stands.

use slew_core::node::{Node, TxId};
use slew_core::{Instant, NtpTimestamp};

use crate::os::net::NtpSocket;
use slew_core::Clock;

/// Requests still waiting for their stamp: a handful per poll, kept at most this
/// many (oldest dropped) and at most a second.
const MAX_PENDING: usize = 64;
const MAX_AGE: core::time::Duration = core::time::Duration::from_secs(1);

/// What the daemon remembers of each request until its stamp comes.
#[derive(Debug, Default)]
pub(super) struct TxPending {
    sent: Vec<(TxId, Instant)>,
    /// Stamps used, for the log at exit.
    pub(super) used: u64,
}

impl TxPending {
    /// A request just left (the driver's [`Report::Sent`](slew_core::node::Report)).
    pub(super) fn note(&mut self, tx: TxId, now: Instant) {
        if self.sent.len() >= MAX_PENDING {
            self.sent.remove(0);
        }
        self.sent.push((tx, now));
    }

    /// Reads every stamp queued on `socket` and gives the node the ones that match.
    pub(super) fn collect<const N: usize, const R: usize, const S: usize, C: Clock>(
        &mut self,
        socket: &NtpSocket,
        node: &mut Node<N, R, S>,
        clock: &mut C,
        now: Instant,
    ) {
        self.sent
            .retain(|(_, at)| now.saturating_since(*at) <= MAX_AGE);
        let mut buf = [0u8; 1536];
        // Bounded: the queue holds at most one stamp per request sent.
        for _ in 0..MAX_PENDING {
            let stamp = match socket.recv_tx_stamp(&mut buf) {
                Ok(Some(s)) => s,
                Ok(None) => return,
                Err(e) => {
                    log::debug!("transmit stamps: {e}");
                    return;
                }
            };
            let (Some(realtime), Some(looped)) = (stamp.tx_time, buf.get(..stamp.len)) else {
                continue;
            };
            // The request is in the looped packet after the link, IP and UDP headers,
            // with its 64-bit random nonce in the transmit timestamp field: finding
            // those eight bytes identifies it, whatever headers or MAC surround it.
            let found = self.sent.iter().position(|(tx, _)| {
                let nonce = tx.nonce().to_bits().to_be_bytes();
                looped.windows(nonce.len()).any(|w| w == nonce)
            });
            if let Some(i) = found {
                let (tx, _) = self.sent.remove(i);
                let t1: NtpTimestamp = clock.reading_at_stamp(realtime);
                node.handle_tx_timestamp(tx, t1);
                self.used += 1;
            }
        }
    }
}
