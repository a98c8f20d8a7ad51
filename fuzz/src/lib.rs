//! What the fuzz targets share: the test suite's differential harness
//! (`tests/common`: a shadow model of every live block, checked after each
//! operation), and the reading of a fuzzer's bytes as pools and
//! operations.
//!
//! Every target interprets its input the same way: first the set-up (which
//! core, pool sizes and their misalignment, page size), then operations
//! until the bytes run out. Missing bytes read as zero, so every input is
//! a valid case.

#[path = "../../tests/common/mod.rs"]
pub mod common;

use std::alloc::Layout;
use std::mem::MaybeUninit;

pub use common::Op;

/// Operations a run holds at most, so that one input stays fast.
pub const MAX_OPS: usize = 4000;

/// A fuzzer's bytes, read front to back.
pub struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input(data)
    }

    /// The next byte; 0 once the input is used up.
    pub fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&first, rest)) => {
                self.0 = rest;
                first
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A size from 0 to `max`, skewed to small ones as programs' are: the
    /// first byte picks a range (up to 64 B, 1 KiB, 8 KiB or `max`; zero
    /// now and then), two more the size in it.
    pub fn size(&mut self, max: usize) -> usize {
        let range = match self.byte() % 16 {
            0 => return 0,
            1..=7 => 64,
            8..=11 => 1024,
            12..=14 => 8192,
            _ => max,
        }
        .min(max);
        1 + usize::from(self.u16()) * 37 % range
    }

    /// A power of two from 1 to `max`.
    pub fn align(&mut self, max: usize) -> usize {
        let levels = max.trailing_zeros() + 1;
        // Mostly small alignments, as programs ask for.
        let log2 = match self.byte() {
            b @ 0..=191 => u32::from(b) % 5,
            b => u32::from(b) % levels,
        };
        1 << log2.min(levels - 1)
    }

    /// Operations until the input is used up (or `MAX_OPS`), sizes up to
    /// `max_size`, alignments up to `max_align`.
    pub fn ops(&mut self, max_size: usize, max_align: usize) -> Vec<Op> {
        let mut ops = Vec::new();
        while !self.is_empty() && ops.len() < MAX_OPS {
            let kind = self.byte();
            let op = match kind % 16 {
                0..=6 => Op::Alloc {
                    size: self.size(max_size),
                    align: self.align(max_align),
                    zeroed: kind & 0x10 != 0,
                    use_excess: kind & 0x20 != 0,
                },
                7..=10 => Op::Free {
                    pick: usize::from(self.u16()),
                },
                11 | 12 => Op::Grow {
                    pick: usize::from(self.u16()),
                    extra: self.size(max_size),
                    align: self.align(max_align),
                    zeroed: kind & 0x10 != 0,
                },
                13 | 14 => Op::Shrink {
                    pick: usize::from(self.u16()),
                    keep: self.byte(),
                    align: self.align(max_align),
                },
                _ => Op::VerifyAll,
            };
            ops.push(op);
        }
        ops
    }

    /// Up to `max` layouts of sizes up to `max_size` and alignments up to
    /// `max_align`, for blocks a target allocates outside the harness.
    pub fn layouts(&mut self, max: u8, max_size: usize, max_align: usize) -> Vec<Layout> {
        (0..self.byte() % (max + 1))
            .map(|_| {
                let size = self.size(max_size);
                Layout::from_size_align(size, self.align(max_align)).unwrap()
            })
            .collect()
    }

    /// Cuts up to `count` disjoint pools out of `buf`: each starts 0 to 63
    /// bytes past the previous one's end (so pools start unaligned) and is
    /// `min_len` to `max_len` bytes long, any length (odd ones too).
    pub fn pools<'b>(
        &mut self,
        mut buf: &'b mut [MaybeUninit<u8>],
        count: usize,
        min_len: usize,
        max_len: usize,
    ) -> Vec<&'b mut [MaybeUninit<u8>]> {
        let mut pools = Vec::new();
        for _ in 0..count {
            let skip = usize::from(self.byte() % 64).min(buf.len());
            let len = min_len + usize::from(self.u16()) * 61 % (max_len - min_len + 1);
            let rest = &mut std::mem::take(&mut buf)[skip..];
            if rest.len() < len {
                break;
            }
            let (pool, rest) = rest.split_at_mut(len);
            pools.push(pool);
            buf = rest;
        }
        pools
    }
}
