//! The server path's counters: answers and drops (merged over the threads), ntpq's
//! `iostats`, how long transmit stamps precede the send, and the exit log.

use slew_core::server::{DropReason, ServerStats};
use slew_core::NtpTimestamp;

use crate::os::batch::BATCH;

use super::TimeServer;

/// How long transmit stamps precede the send: per batch, from the first answer's
/// stamp to `sendmmsg` returning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxLead {
    /// Batches sent.
    pub batches: u64,
    /// Answers in them.
    pub answers: u64,
    /// Sum of the per-batch leads, nanoseconds.
    pub sum_ns: u64,
    /// Largest lead, nanoseconds.
    pub max_ns: u64,
    /// Sum over batches of first stamp to `sendmmsg` being called (building the rest
    /// of the batch), nanoseconds: what the first answer waits before the kernel
    /// starts sending.
    pub build_sum_ns: u64,
    /// Largest of those, nanoseconds.
    pub build_max_ns: u64,
}

impl TxLead {
    /// Adds another server's figures.
    pub fn merge(&mut self, o: &TxLead) {
        self.batches += o.batches;
        self.answers += o.answers;
        self.sum_ns += o.sum_ns;
        self.max_ns = self.max_ns.max(o.max_ns);
        self.build_sum_ns += o.build_sum_ns;
        self.build_max_ns = self.build_max_ns.max(o.build_max_ns);
    }

    /// One batch of `answers`: the first stamp, the time `sendmmsg` was called and
    /// the time it returned.
    pub fn note(
        &mut self,
        answers: u64,
        first: NtpTimestamp,
        before: NtpTimestamp,
        after: NtpTimestamp,
    ) {
        let build = (before - first).to_nanos().max(0) as u64;
        self.build_sum_ns += build;
        self.build_max_ns = self.build_max_ns.max(build);
        let lead = (after - first).to_nanos().max(0) as u64;
        self.batches += 1;
        self.answers += answers;
        self.sum_ns += lead;
        self.max_ns = self.max_ns.max(lead);
    }

    /// Mean lead per batch, nanoseconds.
    pub fn mean_ns(&self) -> u64 {
        self.sum_ns.checked_div(self.batches).unwrap_or(0)
    }

    /// Mean wait before `sendmmsg` per batch, nanoseconds.
    pub fn build_mean_ns(&self) -> u64 {
        self.build_sum_ns.checked_div(self.batches).unwrap_or(0)
    }
}

/// ntpq's `iostats` from the server counters of `servers` servers (`BATCH`
/// receive buffers each): answers and drops both came in; the control path adds
/// its own answers.
pub(crate) fn io_counters(
    s: &ServerStats,
    send_errors: u64,
    servers: usize,
    wakeups: u64,
    good_wakeups: u64,
) -> slew_core::control::IoCounters {
    let rbufs = (BATCH * servers) as u64;
    slew_core::control::IoCounters {
        since_reset_s: 0,
        total_rbuf: rbufs,
        free_rbuf: rbufs,
        dropped: s.dropped_for(DropReason::NoBuffer),
        ignored: 0,
        received: s.received(),
        sent: s.answered.saturating_sub(send_errors),
        send_failed: send_errors,
        wakeups,
        good_wakeups,
    }
}

impl TimeServer {
    /// Counters of this thread and every server thread, merged.
    pub fn merged_stats(&self) -> ServerStats {
        let mut s = *self.ep.server_stats();
        if let Some(t) = &self.threads {
            s.merge(&t.merged().server);
        }
        s
    }

    /// ntpq's `iostats` as far as the server path knows them (all threads; wake-ups
    /// of this thread only). The daemon adds its client sockets' and the control
    /// path's traffic.
    pub fn io_counters(&self) -> slew_core::control::IoCounters {
        let s = self.merged_stats();
        let mut send_errors = self.send_errors;
        if let Some(t) = &self.threads {
            send_errors += t.merged().send_errors;
        }
        io_counters(
            &s,
            send_errors,
            1 + self.thread_count(),
            self.wakeups,
            self.good_wakeups,
        )
    }

    /// Transmit-stamp lead figures so far.
    pub fn tx_lead(&self) -> TxLead {
        self.lead
    }

    /// Answers that could not be sent.
    pub fn send_errors(&self) -> u64 {
        self.send_errors
    }

    /// Send system calls made for answers so far.
    pub fn send_calls(&self) -> u64 {
        self.send_calls
    }

    /// The server's counters.
    pub fn stats(&self) -> &ServerStats {
        self.ep.server_stats()
    }

    /// Datagrams that came without a kernel timestamp (answered with the time read
    /// after `recvmsg`).
    pub fn no_kernel_stamp(&self) -> u64 {
        self.no_kernel_stamp
    }

    /// This server's counters, for the shared slots the control path merges.
    pub(crate) fn own_stats(&self) -> crate::server::threads::WorkerStats {
        crate::server::threads::WorkerStats {
            server: *self.ep.server_stats(),
            lead: self.lead,
            send_errors: self.send_errors,
            wakeups: self.wakeups,
            good_wakeups: self.good_wakeups,
        }
    }

    /// Logs the counters (at exit and on SIGUSR1).
    pub fn log_stats(&self) {
        let s = &self.merged_stats();
        let (mut lead, mut send_errors) = (self.lead, self.send_errors);
        if let Some(t) = &self.threads {
            let w = t.merged();
            lead.merge(&w.lead);
            send_errors += w.send_errors;
        }
        let mut line = format!("served {} requests", s.answered);
        if s.authenticated + s.rate_kisses + s.crypto_naks > 0 {
            line.push_str(&format!(
                " ({} authenticated, {} RATE kisses, {} crypto-NAKs)",
                s.authenticated, s.rate_kisses, s.crypto_naks
            ));
        }
        for reason in DropReason::ALL {
            let n = s.dropped_for(reason);
            if n > 0 {
                line.push_str(&format!(", dropped {n} {reason}"));
            }
        }
        if send_errors > 0 {
            line.push_str(&format!(", {send_errors} send errors"));
        }
        if s.nts.served + s.nts.naks > 0 {
            line.push_str(&format!(
                ", {} NTS-authenticated, {} NTS NAKs",
                s.nts.served, s.nts.naks
            ));
        }
        if let Some(t) = &self.threads {
            let w = t.merged().server;
            line.push_str(&format!(
                " (main loop and {} server threads; the threads answered {}, {} NTS-authenticated)",
                t.len(),
                w.answered,
                w.nts.served
            ));
            if t.control_answered() > 0 {
                line.push_str(&format!(
                    ", {} mode 6 queries handled by the threads",
                    t.control_answered()
                ));
            }
        }
        let l = lead;
        if l.batches > 0 {
            line.push_str(&format!(
                "; {} answers in {} batches; first transmit stamp of a batch to sendmmsg called: mean {} ns, max {} ns; to sendmmsg returned: mean {} ns, max {} ns",
                l.answers,
                l.batches,
                l.build_mean_ns(),
                l.build_max_ns,
                l.mean_ns(),
                l.max_ns
            ));
        }
        log::info!("{line}");
    }
}
