//! The fast path: a `recvmmsg` batch into the endpoint under one look at the tables,
//! each answer stamped right before it is queued, the batch out with `sendmmsg`.

use std::io;
use std::net::SocketAddr;

use slew_core::endpoint::Datagram;
use slew_core::server::DropReason;
use slew_core::Clock;
use slew_core::NtpTimestamp;

use crate::os::batch::BATCH;
use crate::os::net::NtpSocket;
use crate::os::time::monotonic_now;

use super::TimeServer;

impl TimeServer {
    /// Answers everything queued on socket `index`, until it would block or `budget`
    /// datagrams were handled (so one flooded socket cannot starve the others or the
    /// client work). The endpoint decides each datagram; the mode 6 queries it
    /// admits are handed to `control` with the socket to reply on, once the batch
    /// is answered and the tables are free again.
    pub fn drain<C: Clock>(
        &mut self,
        index: usize,
        budget: usize,
        clock: &mut C,
        control: &mut dyn FnMut(&NtpSocket, SocketAddr, &[u8]),
    ) -> usize {
        let Self {
            sockets,
            ep,
            rx,
            tx,
            log,
            no_kernel_stamp,
            lead,
            send_calls,
            send_errors,
            wakeups,
            good_wakeups,
            ..
        } = self;
        let Some(socket) = sockets.get(index) else {
            return 0;
        };
        let local = socket.local_addr();
        *wakeups += 1;
        let mut handled = 0;
        while handled < budget {
            let n = match rx.recv(socket) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    log.warn("recv", format_args!("receive error on {local}: {e}"));
                    break;
                }
            };
            handled += n;
            let mut first_stamp = None;
            // Mode 6 queries of this batch, answered after it (the control path
            // reads the tables the batch holds).
            let mut queries = [0usize; BATCH];
            let mut n_queries = 0;
            ep.batch(|batch| {
                for i in 0..n {
                    let Some((received, request)) = rx.get(i) else {
                        continue;
                    };
                    if !received.kernel_stamp {
                        *no_kernel_stamp += 1;
                    }
                    if received.truncated {
                        batch.count_drop(DropReason::Malformed);
                        continue;
                    }
                    let Some(out) = tx.next_buf() else {
                        continue;
                    };
                    match batch.handle_datagram(
                        monotonic_now(),
                        local,
                        received.from,
                        request,
                        clock.reading_at_stamp(received.rx_time),
                        out,
                    ) {
                        Datagram::Answer(pending) => {
                            // The transmit timestamp: read the clock once the answer
                            // is complete, right before queueing it.
                            let tx_time = clock.now().unwrap_or(NtpTimestamp::ZERO);
                            let len = pending.finish(out, tx_time).len();
                            first_stamp.get_or_insert(tx_time);
                            tx.push(len, received.from);
                        }
                        // Mode 6 the core admitted (loopback, or a source a restrict
                        // line names, never under noquery).
                        Datagram::Control => {
                            if let Some(q) = queries.get_mut(n_queries) {
                                *q = i;
                                n_queries += 1;
                            }
                        }
                        Datagram::Dropped(DropReason::NoQuery) => {
                            log.info(
                                "control-refused",
                                format_args!(
                                    "ignored a mode 6 query from {}: queries are answered from localhost and from addresses a restrict line names (without noquery)",
                                    received.from
                                ),
                            );
                        }
                        Datagram::Dropped(reason) => {
                            log.info(
                                reason.name(),
                                format_args!("dropped a packet from {}: {reason}", received.from),
                            );
                        }
                        // A server has no sources: replies are dropped (counted) by
                        // the endpoint and never come here.
                        Datagram::Client(_) => {}
                    }
                }
            });
            if !tx.is_empty() {
                let answers = tx.len() as u64;
                let before = first_stamp.map(|_| clock.now().unwrap_or(NtpTimestamp::ZERO));
                let flushed = tx.flush(socket);
                if let (Some(first), Some(before)) = (first_stamp, before) {
                    let after = clock.now().unwrap_or(NtpTimestamp::ZERO);
                    lead.note(answers, first, before, after);
                }
                *send_calls += flushed.calls as u64;
                if flushed.failed > 0 {
                    *send_errors += flushed.failed as u64;
                    let e = io::Error::from_raw_os_error(flushed.last_error.unwrap_or(0));
                    log.warn(
                        "send",
                        format_args!("{} answers not sent: {e}", flushed.failed),
                    );
                }
            }
            for &i in queries.get(..n_queries).unwrap_or_default() {
                if let Some((received, request)) = rx.get(i) {
                    control(socket, received.from, request);
                }
            }
            if n < BATCH {
                // The queue is empty: no need for another (empty) recvmmsg.
                break;
            }
        }
        if handled > 0 {
            *good_wakeups += 1;
        }
        if let Some(t) = &self.threads {
            t.record_main(self.own_stats());
        }
        handled
    }
}
