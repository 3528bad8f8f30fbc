//! A firmware image for the host target: `#![no_std]`, `#![no_main]`, its own panic
//! handler and entry point, a static smoltcp stack and an NTP client of four servers
//! that also serves its LAN. If anything in slew-core, slew-embedded or smoltcp
//! pulls in `std` or `alloc`, this fails to link. Build it with `.ci/nostd-check`
//! (see the README, which also has its measured footprint).
//!
//! The Ethernet MAC, the timer and the GPS receiver's UART are stand-ins (there is
//! no board): the MAC driver is one receive and one transmit buffer, as a DMA
//! descriptor pair would be, the timer is a counter a timer interrupt would
//! advance, and the UART is the buffer its receive interrupt would fill with the
//! receiver's NMEA sentences. Everything else is what a real board would run: with
//! a fix the appliance is a stratum 1 server on its LAN, without one a client of
//! its servers.
#![no_std]
#![no_main]
// Keep LLVM from compiling mem.rs's loops into calls to themselves.
#![no_builtins]
// The stack-only build (for measuring) leaves the NTP half unused.
#![cfg_attr(feature = "stack-only", allow(unused_imports, dead_code))]

mod mem;

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::net::SocketAddr;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use slew_core::node::Node;
use slew_core::refclock::nmea_mode::NmeaMode;
use slew_core::refclock::source::{Driver, RefclockConfig};
use slew_core::{Instant, NtpTimestamp, PollInterval};
use slew_embedded::gps::UartGps;
use slew_embedded::{
    lan_policy, Builder, DiscardParams, LanPolicy, Ntp, Server, SoftClock, StepPolicy, TickSource,
};
use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::udp;
use smoltcp::storage::PacketMetadata;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

#[panic_handler]
fn panic(_info: &PanicInfo) -> ! {
    loop {}
}

/// The host target's prebuilt compiler-builtins carry unwind tables that name this
/// routine (the refclock's median sort pulls one of those objects in). Nothing here
/// unwinds (panic = abort), so it is never called; a board's target (thumbv7em and
/// the like) does not ask for it at all.
#[no_mangle]
extern "C" fn rust_eh_personality() {}

/// The board's 1 MHz timer, advanced by its interrupt (here: by the main loop).
static TIMER_US: AtomicU64 = AtomicU64::new(0);

struct Timer;

impl TickSource for Timer {
    fn ticks(&mut self) -> u64 {
        TIMER_US.load(Ordering::Relaxed)
    }
}

/// What the board's hardware RNG gives the NTP stack at boot.
struct BoardEntropy {
    /// The node's PRNG: request nonces, poll jitter.
    node_seed: u64,
    /// The rate limiter's address-hash key.
    limiter_key: [u8; 16],
}

/// The board's hardware RNG. This image's "board" is an x86_64 host, whose RNG is
/// RDRAND; a microcontroller reads its TRNG peripheral here instead. There is no
/// fallback to a constant: without a working RNG the board does not start its NTP
/// stack (a shared constant would give every board the same nonces).
#[cfg(not(feature = "stack-only"))]
fn board_entropy() -> BoardEntropy {
    // CPUID leaf 1, ECX bit 30: RDRAND is present.
    let has_rdrand = core::arch::x86_64::__cpuid(1).ecx & (1 << 30) != 0;
    if !has_rdrand {
        panic!("no hardware RNG");
    }
    let draw = || {
        let mut v = 0u64;
        // RDRAND may fail transiently (its entropy buffer drained): retry, bounded.
        for _ in 0..32 {
            // SAFETY: RDRAND was found by CPUID above.
            if unsafe { rdrand64(&mut v) } == 1 {
                return v;
            }
        }
        panic!("hardware RNG failed");
    };
    let mut limiter_key = [0u8; 16];
    limiter_key[..8].copy_from_slice(&draw().to_le_bytes());
    limiter_key[8..].copy_from_slice(&draw().to_le_bytes());
    BoardEntropy {
        node_seed: draw(),
        limiter_key,
    }
}

#[cfg(not(feature = "stack-only"))]
#[target_feature(enable = "rdrand")]
fn rdrand64(v: &mut u64) -> i32 {
    core::arch::x86_64::_rdrand64_step(v)
}

const MTU: usize = 1514;

/// The Ethernet MAC: one receive and one transmit buffer.
struct Mac {
    rx: [u8; MTU],
    rx_len: usize,
    tx: [u8; MTU],
}

struct MacRx<'a>(&'a [u8]);
struct MacTx<'a>(&'a mut [u8]);

impl phy::RxToken for MacRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl phy::TxToken for MacTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let frame = &mut self.0[..len.min(MTU)];
        let r = f(frame);
        // A real driver hands the descriptor to the DMA engine here.
        core::hint::black_box(&*frame);
        r
    }
}

impl Device for Mac {
    type RxToken<'a> = MacRx<'a>;
    type TxToken<'a> = MacTx<'a>;

    fn receive(&mut self, _now: smoltcp::time::Instant) -> Option<(MacRx<'_>, MacTx<'_>)> {
        // What the DMA engine wrote, if anything (opaque to the optimiser).
        let len = core::hint::black_box(self.rx_len).min(MTU);
        if len == 0 {
            return None;
        }
        self.rx_len = 0;
        Some((MacRx(&self.rx[..len]), MacTx(&mut self.tx)))
    }

    fn transmit(&mut self, _now: smoltcp::time::Instant) -> Option<MacTx<'_>> {
        Some(MacTx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps
    }
}

/// A value placed in `.bss` once, at start-up, and handed out as `&'static mut`
/// exactly once: cortex-m's `singleton!`, without the dependency.
struct StaticCell<T> {
    taken: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is reachable only through the one `&'static mut` that `init`
// hands out, guarded by the atomic flag.
unsafe impl<T> Sync for StaticCell<T> {}

impl<T> StaticCell<T> {
    const fn new() -> Self {
        Self {
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    fn init(&'static self, value: T) -> &'static mut T {
        if self.taken.swap(true, Ordering::AcqRel) {
            panic!("StaticCell initialised twice");
        }
        // SAFETY: the flag makes this the only reference ever created.
        unsafe { (*self.value.get()).write(value) }
    }
}

/// Everything the network needs, in `.bss` so `size` shows the RAM bill.
struct Stack {
    mac: Mac,
    sockets: [SocketStorage<'static>; 1],
    rx_meta: [PacketMetadata<udp::UdpMetadata>; 4],
    rx_data: [u8; 512],
    tx_meta: [PacketMetadata<udp::UdpMetadata>; 4],
    tx_data: [u8; 512],
}

static STACK: StaticCell<Stack> = StaticCell::new();
#[cfg(not(feature = "stack-only"))]
static NTP: StaticCell<Serving> = StaticCell::new();

/// The image's NTP service: three servers and a GPS, serving its LAN with a rate
/// limiter of 16 clients.
#[cfg(not(feature = "stack-only"))]
type Serving = Ntp<Timer, 3, 1, LanPolicy<16>, Server>;

// The appliance's client state budget (three servers and a GPS: four sources),
// checked with exactly this image's features: the build fails above 4 KiB. A
// client-only build (`Ntp<Timer, 3, 1>`, no server) is this; serving adds the
// server's counters and the limiter's table, nothing else.
#[cfg(not(feature = "stack-only"))]
const _: () = assert!(core::mem::size_of::<Ntp<Timer, 3, 1>>() <= 4096);
#[cfg(not(feature = "stack-only"))]
const _: () = assert!(
    core::mem::size_of::<Serving>()
        <= core::mem::size_of::<Ntp<Timer, 3, 1>>()
            + core::mem::size_of::<Server>()
            + core::mem::size_of::<LanPolicy<16>>()
);

/// The entry point the linker looks for when no C runtime is linked
/// (`-C link-arg=-nostartfiles`).
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let stack = STACK.init(Stack {
        mac: Mac {
            rx: [0; MTU],
            rx_len: 0,
            tx: [0; MTU],
        },
        sockets: [SocketStorage::EMPTY],
        rx_meta: [PacketMetadata::EMPTY; 4],
        rx_data: [0; 512],
        tx_meta: [PacketMetadata::EMPTY; 4],
        tx_data: [0; 512],
    });
    let mac_addr = EthernetAddress([0x02, 0x00, 0x5e, 0x10, 0x00, 0x02]);
    let mut iface = Interface::new(
        Config::new(HardwareAddress::Ethernet(mac_addr)),
        &mut stack.mac,
        smoltcp::time::Instant::ZERO,
    );
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(IpAddress::v4(192, 0, 2, 2), 24));
        let _ = a.push(IpCidr::new(
            IpAddress::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
            64,
        ));
    });
    let mut sockets = SocketSet::new(&mut stack.sockets[..]);
    let mut socket = udp::Socket::new(
        udp::PacketBuffer::new(&mut stack.rx_meta[..], &mut stack.rx_data[..]),
        udp::PacketBuffer::new(&mut stack.tx_meta[..], &mut stack.tx_data[..]),
    );
    let _ = socket.bind(123);
    let handle = sockets.add(socket);

    #[cfg(feature = "stack-only")]
    loop {
        let now = smoltcp::time::Instant::from_micros(TIMER_US.load(Ordering::Relaxed) as i64);
        iface.poll(now, &mut stack.mac, &mut sockets);
        let _ = core::hint::black_box(sockets.get_mut::<udp::Socket>(handle).recv());
        TIMER_US.fetch_add(1000, Ordering::Relaxed);
    }

    #[cfg(not(feature = "stack-only"))]
    run_ntp(iface, sockets, handle, &mut stack.mac)
}

#[cfg(not(feature = "stack-only"))]
fn server(a: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, a], 123))
}

/// The GPS receiver's UART: the bytes its receive interrupt has put in the buffer.
#[cfg(not(feature = "stack-only"))]
struct Uart {
    rx: [u8; 128],
    len: usize,
}

#[cfg(not(feature = "stack-only"))]
impl embedded_io::ErrorType for Uart {
    type Error = core::convert::Infallible;
}

#[cfg(not(feature = "stack-only"))]
impl embedded_io::Read for Uart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = self.len.min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), self.rx.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.rx.copy_within(n..self.len, 0);
        self.len -= n;
        Ok(n)
    }
}

#[cfg(not(feature = "stack-only"))]
impl embedded_io::ReadReady for Uart {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.len > 0)
    }
}

/// The NTP client of three servers (two IPv4, one IPv6) and a GPS receiver on a
/// UART (ntpd's `server 127.127.20.0`), serving its LAN, forever.
#[cfg(not(feature = "stack-only"))]
fn run_ntp(
    mut iface: Interface,
    mut sockets: SocketSet<'static>,
    handle: smoltcp::iface::SocketHandle,
    mac: &mut Mac,
) -> ! {
    // A board without an RTC boots at some build-time guess of the date.
    let clock = SoftClock::new(Timer, 1_000_000, NtpTimestamp::from_unix(1_800_000_000, 0));
    let entropy = board_entropy();
    let mut node: Node<3, 1> = match Builder::new(entropy.node_seed)
        .server(server(1))
        .server(server(3))
        .server(SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 123)))
        .step_policy(StepPolicy::AtStartOnly { threshold_s: 0.128 })
        .build_with::<1>(Instant::ZERO)
    {
        Ok(n) => n,
        Err(_) => panic!("configuration"),
    };
    // The receiver's sentences (RMC/GGA/ZDA as ntpd's mode 0 takes them), polled
    // every 16 s: with a fix it outranks the servers (stratum 0 upstream).
    let mut gps_config = RefclockConfig::new(Driver::Nmea, 0);
    gps_config.minpoll = PollInterval::from_log2(4);
    gps_config.maxpoll = PollInterval::from_log2(4);
    let Ok(gps_id) = node.add_refclock(gps_config, Instant::ZERO) else {
        panic!("configuration");
    };
    let mut gps = UartGps::new(
        Uart {
            rx: [0; 128],
            len: 0,
        },
        NmeaMode(0),
    );
    let lan = lan_policy(DiscardParams::NTPD, entropy.limiter_key);
    let ntp = NTP.init(Ntp::serving(clock, node, lan));

    loop {
        let now = ntp.smoltcp_now();
        iface.poll(now, mac, &mut sockets);
        // The UART's bytes first: each sentence is stamped as it is read.
        let Ok(_) = ntp.feed_gps(&mut gps, gps_id);
        let deadline = ntp.poll(sockets.get_mut::<udp::Socket>(handle));
        iface.poll(ntp.smoltcp_now(), mac, &mut sockets);
        #[cfg(feature = "nts")]
        {
            let mut request = [0u8; 512];
            let n = nts_client::step(&mut request, core::hint::black_box(&[]));
            core::hint::black_box((n, &request));
        }
        // Stand-in for WFI until the timer or MAC interrupt: advance the timer to
        // the deadline, at most a millisecond.
        let wait_us = deadline.saturating_since(ntp.now()).as_micros().min(1000) as u64;
        TIMER_US.fetch_add(wait_us.max(1), Ordering::Relaxed);
    }
}

/// The NTS client's building blocks on bytes that would come from TLS (the NTS-KE
/// response, the exported keys) and from UDP (the NTP response), so that the image
/// links them. There is no TLS stack yet: this measures their size and proves they
/// link without std or alloc.
#[cfg(feature = "nts")]
mod nts_client {
    use slew_core::nts::jar::CookieJar;
    use slew_core::nts::ke::RecordDecoder;
    use slew_core::nts::ke_msg::ResponseReader;
    use slew_core::nts::SessionKeys;

    /// `input`: NTS-KE response ‖ C2S ‖ S2C (32 bytes each) ‖ NTP response. Writes
    /// an NTS request into `request` (48 header bytes left as they are) and checks the
    /// response; returns the request length.
    pub fn step(request: &mut [u8], input: &[u8]) -> usize {
        let (Some(ke_len), Some(rest)) = (input.first(), input.get(1..)) else {
            return 0;
        };
        let (ke, rest) = rest.split_at(usize::from(*ke_len).min(rest.len()));
        let (keys, response) = rest.split_at(64.min(rest.len()));
        let (c2s, s2c) = keys.split_at(32.min(keys.len()));
        let mut decoder = RecordDecoder::new();
        let mut reader = ResponseReader::new();
        if reader.feed(&mut decoder, ke).is_err() {
            return 0;
        }
        let Ok(outcome) = reader.finish() else {
            return 0;
        };
        let mut jar = CookieJar::new(SessionKeys::from_slices(c2s, s2c), &outcome);
        let Ok(n) = jar.write_request(request, [0x5a; 32], [0xa5; 16]) else {
            return 0;
        };
        let _ = jar.read_response(response);
        n
    }
}
