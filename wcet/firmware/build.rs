//! Puts the board's memory map where cortex-m-rt's `link.x` looks for
//! `memory.x`: the micro:bit (16 KiB of RAM) for Cortex-M0, the MPS2 AN386
//! for Cortex-M4.

use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").unwrap();
    let board = if target.starts_with("thumbv6m") {
        "microbit"
    } else {
        "mps2-an386"
    };
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::copy(format!("memory/{board}.x"), out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-check-cfg=cfg(microbit)");
    if board == "microbit" {
        println!("cargo:rustc-cfg=microbit");
    }
    println!("cargo:rerun-if-changed=memory");
    println!("cargo:rerun-if-changed=build.rs");
}
