//! The workload of the real-program benchmark (`benches/program.rs`): parse
//! every Rust file of a source tree with `syn`, crate by crate (a crate's
//! syntax trees all live until it is printed), and print each tree back
//! with `quote`, as a code generator or a linter does: tens of millions of
//! allocations of every size, most of them small and short-lived, and
//! hundreds of MiB live at the peak. One binary per global allocator runs
//! it (`src/bin/parse-*.rs`); each prints one line: seconds, peak resident
//! bytes, a hash of everything printed, files parsed, files refused.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;

use quote::ToTokens;

/// Runs the workload over the tree named by the first argument.
pub fn main() {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: parse-<allocator> <dir>"),
    );
    let start = Instant::now();
    let mut crates: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    collect(&root, &mut |file| {
        let top = file.strip_prefix(&root).unwrap().components().next();
        let top = top.map_or_else(PathBuf::new, |c| PathBuf::from(c.as_os_str()));
        crates.entry(top).or_default().push(file);
    });
    let mut hasher = DefaultHasher::new();
    let (mut parsed, mut refused) = (0usize, 0usize);
    for files in crates.values() {
        let mut trees = Vec::new();
        for file in files {
            let source = std::fs::read_to_string(file).unwrap_or_default();
            match syn::parse_file(&source) {
                Ok(tree) => trees.push(tree),
                Err(_) => refused += 1,
            }
        }
        parsed += trees.len();
        for tree in &trees {
            tree.to_token_stream().to_string().hash(&mut hasher);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{seconds:.3} {} {:016x} {parsed} {refused}",
        peak_resident(),
        hasher.finish()
    );
}

/// Calls `found` with every `.rs` file under `dir`, in a fixed order.
fn collect(dir: &Path, found: &mut impl FnMut(PathBuf)) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found(path);
        }
    }
}

/// The process's peak resident memory in bytes (`VmHWM`; 0 where there
/// is no `/proc`).
fn peak_resident() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kib| {
            kib.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<usize>()
                .ok()
        })
        .map_or(0, |kib| kib << 10)
}
