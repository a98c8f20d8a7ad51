//! A real program with rtarena as its global allocator, beside glibc and
//! mimalloc: `src/parse.rs` parses every file of the Rust standard
//! library's sources with `syn` and prints it back with `quote`, one binary
//! per allocator (`src/bin/parse-*.rs`: rtarena's `GrowingHeap` and
//! `GrowingTlsf` over 2 MiB OS pages). Each runs `ROUNDS` times (default
//! 5), all in turn, so that the machine's load falls on all of them
//! alike; the table gives the median wall time and peak resident memory of
//! each, with ratios to glibc's, and the run fails if the outputs differ.
//!
//! Run with `cargo bench -p rtarena-bench --bench program`. The sources
//! come from the `rust-src` component (`rustup component add rust-src`,
//! of the toolchain that runs the bench, or nightly's); `RUST_SRC=<dir>`
//! names another tree.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

const PROGRAMS: [(&str, &str); 4] = [
    ("glibc", env!("CARGO_BIN_EXE_parse-glibc")),
    ("mimalloc", env!("CARGO_BIN_EXE_parse-mimalloc")),
    (
        "rtarena GrowingHeap",
        env!("CARGO_BIN_EXE_parse-rtarena-heap"),
    ),
    ("rtarena GrowingTlsf", env!("CARGO_BIN_EXE_parse-rtarena")),
];

/// One run's report line: seconds, peak resident bytes, output hash, files
/// parsed and refused.
struct Run {
    seconds: f64,
    peak: usize,
    output: String,
}

fn main() -> ExitCode {
    if std::env::args().any(|arg| arg == "--list" || arg == "--test") {
        return ExitCode::SUCCESS;
    }
    let Some(tree) = source_tree() else {
        eprintln!(
            "no Rust sources found: `rustup component add rust-src`, or set RUST_SRC to a tree of .rs files"
        );
        return ExitCode::FAILURE;
    };
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    println!("{} rounds over {}", rounds, tree.display());
    let mut runs: Vec<Vec<Run>> = PROGRAMS.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (runs, (name, program)) in runs.iter_mut().zip(PROGRAMS) {
            let out = Command::new(program).arg(&tree).output().expect(name);
            assert!(
                out.status.success(),
                "{name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8(out.stdout).unwrap();
            let fields: Vec<&str> = line.split_whitespace().collect();
            runs.push(Run {
                seconds: fields[0].parse().unwrap(),
                peak: fields[1].parse().unwrap(),
                output: fields[2..].join(" "),
            });
        }
    }
    let first = &runs[0][0].output;
    if runs.iter().flatten().any(|run| &run.output != first) {
        eprintln!("the programs' outputs differ");
        return ExitCode::FAILURE;
    }
    let fields: Vec<&str> = first.split(' ').collect();
    println!(
        "{} files parsed and printed ({} refused), output hash {}",
        fields[1], fields[2], fields[0]
    );
    let medians: Vec<(f64, f64)> = runs
        .iter()
        .map(|runs| {
            let seconds = median(runs.iter().map(|run| run.seconds));
            let peak = median(runs.iter().map(|run| run.peak as f64)) / (1 << 20) as f64;
            (seconds, peak)
        })
        .collect();
    println!("| global allocator | wall time (median) | vs glibc | peak RSS (median) | vs glibc |");
    println!("|---|---:|---:|---:|---:|");
    for ((name, _), (seconds, peak)) in PROGRAMS.iter().zip(&medians) {
        println!(
            "| {name} | {seconds:.2} s | {:.2}× | {peak:.0} MiB | {:.2}× |",
            seconds / medians[0].0,
            peak / medians[0].1
        );
    }
    ExitCode::SUCCESS
}

/// `RUST_SRC`, else the `library` tree of the `rust-src` component of the
/// toolchain that runs the bench, else of nightly's.
fn source_tree() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("RUST_SRC") {
        return Some(dir.into());
    }
    [
        &["rustc", "--print", "sysroot"][..],
        &["rustup", "run", "nightly", "rustc", "--print", "sysroot"],
    ]
    .iter()
    .filter_map(|command| Command::new(command[0]).args(&command[1..]).output().ok())
    .map(|out| {
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            .join("lib/rustlib/src/rust/library")
    })
    .find(|dir| dir.is_dir())
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
