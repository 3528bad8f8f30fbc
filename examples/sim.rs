//! Run a simulation scenario and print its summary; optionally write the time series
//! as CSV and the offset curve as SVG.
//!
//! ```text
//! cargo run --release --example sim -- SCENARIO [--rfc] [--seed N] [--record S] [--offset S] [--csv FILE] [--svg FILE]
//! cargo run --release --example sim -- table      # every scenario, both estimators
//! ```

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Instant as WallInstant;

use slew_core::discipline::Algorithm;
use slew_core::sim::scenario::NAMES;
use slew_core::sim::{Record, Scenario, Simulator, Summary};

type Sim = Simulator<8>;

fn run(scenario: &Scenario, mut on_record: impl FnMut(&Record)) -> (Summary, f64) {
    let start = WallInstant::now();
    let mut sim = Sim::new(scenario);
    sim.run_until(scenario.duration_s, &mut on_record);
    (sim.summary(), start.elapsed().as_secs_f64())
}

fn fmt_time(t: Option<f64>) -> String {
    match t {
        Some(t) if t < 100.0 => format!("{t:.1} s"),
        Some(t) => format!("{t:.0} s"),
        None => "never".into(),
    }
}

fn fmt_conv(s: &Summary) -> String {
    fmt_time(s.converged_s)
}

fn row(name: &str, alg: &str, s: &Summary) -> String {
    format!(
        "| {name} | {alg} | {} | {} | {:.1} µs | {:.1} µs | {:.3} ppm | {:.2} ppm | {} |",
        fmt_time(s.first_below_1ms_s),
        fmt_conv(s),
        s.rms_offset_s * 1e6,
        s.max_offset_s * 1e6,
        s.rms_freq_error_ppm,
        s.max_freq_error_ppm,
        s.steps
    )
}

fn table() {
    println!("| scenario | estimator | first <1 ms | stays <1 ms | RMS offset | max offset | RMS freq error | max freq error | steps |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut total = 0.0;
    let mut simulated = 0.0;
    for name in NAMES {
        for (alg, label) in [
            (Algorithm::Kalman, "kalman"),
            (Algorithm::Rfc5905, "rfc5905"),
        ] {
            let Some(sc) = Scenario::by_name(name, alg) else {
                continue;
            };
            let (s, secs) = run(&sc, |_| {});
            total += secs;
            simulated += s.duration_s;
            println!("{}", row(name, label, &s));
        }
    }
    println!();
    println!(
        "{:.0} h simulated in {:.2} s of wall time",
        simulated / 3600.0,
        total
    );
}

fn svg(records: &[Record], title: &str) -> String {
    let (w, h, m) = (900.0, 400.0, 60.0);
    let t_max = records.last().map_or(1.0, |r| r.t_s).max(1.0);
    let y_max = records
        .iter()
        .map(|r| r.offset_s.abs())
        .fold(1e-6f64, f64::max);
    // Symmetric log-free scale: the largest |offset| at the edges.
    let x = |t: f64| m + t / t_max * (w - 2.0 * m);
    let y = |o: f64| h / 2.0 - o / y_max * (h / 2.0 - m / 2.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{m}" y="20">{title}: offset (local − true)</text>
<line x1="{m}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#999"/>
<text x="5" y="{yt}">{top:+.3} ms</text><text x="5" y="{yb}">{bot:+.3} ms</text>
<text x="{m}" y="{tb}">0 s</text><text x="{x2}" y="{tb}">{t_max:.0} s</text>
<polyline fill="none" stroke="steelblue" stroke-width="1" points=""##,
        y0 = y(0.0),
        x1 = w - m,
        yt = y(y_max) + 4.0,
        yb = y(-y_max),
        top = y_max * 1e3,
        bot = -y_max * 1e3,
        tb = h - 10.0,
        x2 = w - m - 40.0,
    );
    for r in records {
        let _ = write!(s, "{:.1},{:.1} ", x(r.t_s), y(r.offset_s));
    }
    s.push_str("\"/>\n</svg>\n");
    s
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        eprintln!(
            "usage: sim SCENARIO|table [--rfc] [--seed N] [--record S] [--offset S] [--csv FILE] [--svg FILE]"
        );
        eprintln!("scenarios: {}", NAMES.join(", "));
        return std::process::ExitCode::from(2);
    };
    if name == "table" {
        table();
        return std::process::ExitCode::SUCCESS;
    }
    let mut alg = Algorithm::Kalman;
    let (mut csv, mut svg_path, mut seed, mut record) = (None, None, None, None);
    let mut offset = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rfc" => alg = Algorithm::Rfc5905,
            "--csv" => csv = it.next().cloned(),
            "--svg" => svg_path = it.next().cloned(),
            "--seed" => seed = it.next().and_then(|s| s.parse().ok()),
            "--record" => record = it.next().and_then(|s| s.parse().ok()),
            "--offset" => offset = it.next().and_then(|s| s.parse().ok()),
            other => {
                eprintln!("unknown argument {other}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let Some(mut sc) = Scenario::by_name(name, alg) else {
        eprintln!("unknown scenario {name}; known: {}", NAMES.join(", "));
        return std::process::ExitCode::from(2);
    };
    if let Some(s) = seed {
        sc.seed = s;
    }
    if let Some(r) = record {
        sc.record_interval_s = r;
    }
    if let Some(o) = offset {
        sc.client.offset_s = o;
    }
    let mut records = Vec::new();
    let (s, secs) = run(&sc, |r| records.push(*r));
    println!("scenario {name}, estimator {alg:?}, seed {}", sc.seed);
    println!("simulated {:.0} s in {:.3} s", s.duration_s, secs);
    println!("first |offset| < 1 ms: {}", fmt_time(s.first_below_1ms_s));
    println!("converged (|offset| < 1 ms for good): {}", fmt_conv(&s));
    println!(
        "RMS offset after {:.0} s: {:.1} µs",
        sc.stats_from_s,
        s.rms_offset_s * 1e6
    );
    println!(
        "max |offset| after {:.0} s: {:.1} µs",
        sc.stats_from_s,
        s.max_offset_s * 1e6
    );
    println!("frequency error at end: {:+.4} ppm", s.freq_error_ppm);
    println!(
        "frequency error after {:.0} s: RMS {:.3} ppm, max {:.2} ppm",
        sc.stats_from_s, s.rms_freq_error_ppm, s.max_freq_error_ppm
    );
    println!("steps: {}, max rate {:.1} ppm", s.steps, s.max_rate_ppm);
    println!(
        "records as system peer per server: {:?}, without: {}",
        &s.selected[..sc.servers.len()],
        s.unselected
    );
    if let Some(path) = csv {
        let mut out = String::from("t_s,offset_s,freq_error_ppm,state,poll,selected,stratum\n");
        for r in &records {
            let sel = r.selected.map_or(String::from("-"), |i| i.to_string());
            let _ = writeln!(
                out,
                "{:.3},{:.9},{:.6},{},{},{},{}",
                r.t_s, r.offset_s, r.freq_error_ppm, r.state, r.poll, sel, r.stratum
            );
        }
        if let Err(e) = std::fs::File::create(&path).and_then(|mut f| f.write_all(out.as_bytes())) {
            eprintln!("{path}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    if let Some(path) = svg_path {
        if let Err(e) = std::fs::write(&path, svg(&records, name)) {
            eprintln!("{path}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    std::process::ExitCode::SUCCESS
}
