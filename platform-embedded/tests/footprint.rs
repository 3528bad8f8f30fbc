//! RAM footprint of the client and server state, printed for the README and held to
//! the budget (client state under 4 KiB for four sources). Run with
//! `cargo test -p slew-embedded --test footprint -- --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use core::mem::size_of;

use slew_core::node::Node;
use slew_embedded::{LanServer, Ntp, SoftClock, TickSource};

struct Timer;

impl TickSource for Timer {
    fn ticks(&mut self) -> u64 {
        0
    }
}

#[test]
fn client_state_for_four_sources_is_under_4_kib() {
    let node = size_of::<Node<4>>();
    let clock = size_of::<SoftClock<Timer>>();
    let client = size_of::<Ntp<Timer, 4>>();
    let server16 = size_of::<LanServer<16>>();
    println!("Node<4> (associations, filter, selection, discipline): {node} bytes");
    println!(
        "Node<1>: {} bytes; per extra source: {} bytes",
        size_of::<Node<1>>(),
        (node - size_of::<Node<1>>()) / 3
    );
    println!("SoftClock: {clock} bytes");
    println!("Ntp<_, 4> (client: node + clock + receive buffer): {client} bytes");
    println!("LanServer<16> (server counters + rate limiter of 16 clients): {server16} bytes");
    // A GPS on a UART: one refclock slot (its median filter holds 64 offsets).
    let gps3 = size_of::<Ntp<Timer, 3, 1>>();
    println!(
        "Node<4, 1>: {} bytes; Ntp<_, 3, 1> (three servers + a GPS): {gps3} bytes",
        size_of::<Node<4, 1>>()
    );
    // The budget is the firmware's, whose slew-core is built without `auth`; the
    // firmware image asserts it at compile time with exactly those features
    // (examples/firmware, linked by .ci/nostd-check). A workspace test run unifies
    // features, and slew-linux turns `auth` on: then every association also carries
    // its key, and only the four-server client is held to 4 KiB here.
    let auth = slew_core::node::REQUEST_BUF_LEN > slew_core::wire::HEADER_LEN;
    println!("slew-core built with auth (keys per association): {auth}");
    if !auth {
        assert!(gps3 <= 4096, "three servers and a GPS: {gps3} bytes");
    }
    assert!(
        client <= 4096,
        "client state {client} bytes is over the 4 KiB budget"
    );
}
