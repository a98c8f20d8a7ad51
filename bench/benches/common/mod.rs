//! What the benches share: the pool size and the peers' configurations, so
//! that the instruction counts of `benches/instructions.rs` are of the same
//! heaps as the timings of `benches/tlsf.rs`.

/// Bytes of every peer's pool: enough for the churn workload's live set
/// (≈ 5 MiB) and for everything bumpalo hands out in one churn iteration
/// (≈ 28 MiB, checked in `benches/tlsf.rs`'s `churn_trace`).
pub const POOL: usize = 64 << 20;

/// Page size of the standalone slab: a 16 KiB page (a hardware page on
/// some AArch64 systems) holds at least two slots of every class up to 4 KiB,
/// the largest size of the pair workload.
pub const SLAB_PAGE: usize = 16 << 10;

/// rlsf's configuration: the same coverage and second-level split as
/// rtarena's default `Tlsf` (pools up to 4 GiB, 16 second-level lists), so the
/// two TLSFs differ in implementation only. rlsf's granularity is 32 bytes on
/// 64-bit targets and its largest block is `(32 << FLLEN) - 32`, so
/// `FLLEN = 27` reaches 4 GiB; the bitmaps are the smallest integers with
/// `FLLEN` and `SLLEN` bits.
pub type Rlsf<'p> = rlsf::Tlsf<'p, u32, u16, 27, 16>;

/// talc's single-heap core with no memory source: it allocates only from
/// what was `claim`ed, as the other pool heaps do.
pub type Talc = talc::base::Talc<talc::source::Manual, talc::DefaultBinning>;
