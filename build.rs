//! Tells the crate which targets have no count-leading-zeros instruction
//! (see `src/bits.rs`): Armv6-M and Armv8-M Baseline.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(rtarena_soft_clz)");
    println!("cargo::rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv6m") || target.starts_with("thumbv8m.base") {
        println!("cargo::rustc-cfg=rtarena_soft_clz");
    }
}
