//! Measured calls and the driver that workloads run through.
//!
//! Every allocate and free a workload makes is one call of a function that
//! is never inlined, bracketed by the two marker instructions that the QEMU
//! plugin (wcet/plugin/markers.c) counts between. The count therefore holds
//! what a caller pays: the call, the allocator's code inlined into that
//! function, what it calls out of line, and the return. Beside each call
//! the firmware prints a line saying what it was; the harness pairs the two.

use core::alloc::Layout;
use core::arch::asm;
use core::fmt::Write;
use core::hint::black_box;
use core::num::NonZeroU16;
use core::ptr::NonNull;

use crate::cores::Core;
use crate::semihosting::Out;

/// Live blocks a workload can hold at once.
#[cfg(microbit)]
pub const SLOTS: usize = 256;
#[cfg(not(microbit))]
pub const SLOTS: usize = 1024;

#[inline(always)]
fn start_marker() {
    // SAFETY: a no-op (`mov r10, r10`); without `nomem` it is also a
    // compiler barrier, so the measured call stays between the markers.
    unsafe { asm!("mov r10, r10", options(nostack, preserves_flags)) };
}

#[inline(always)]
fn stop_marker() {
    // SAFETY: as for `start_marker` (`mov r11, r11`).
    unsafe { asm!("mov r11, r11", options(nostack, preserves_flags)) };
}

#[inline(never)]
fn allocate<C: Core>(core: &mut C, layout: Layout) -> Option<NonNull<u8>> {
    core.allocate(layout)
}

/// # Safety
/// As for [`Core::deallocate`].
#[inline(never)]
unsafe fn deallocate<C: Core>(core: &mut C, ptr: NonNull<u8>, layout: Layout) {
    // SAFETY: the caller's contract.
    unsafe { core.deallocate(ptr, layout) }
}

/// A live block of the driver's, in four bytes so that the micro:bit's
/// 16 KiB hold a table of 256 beside the pool: its offset in the pool, and
/// its size (12 bits) with its alignment's log2 (4 bits).
#[derive(Clone, Copy)]
pub struct Block {
    offset: u16,
    /// Never zero (sizes are), which makes an `Option<Block>` four bytes.
    shape: NonZeroU16,
}

impl Block {
    fn new(offset: usize, layout: Layout) -> Self {
        Block {
            offset: offset as u16,
            shape: NonZeroU16::new(
                layout.size() as u16 | (layout.align().trailing_zeros() as u16) << 12,
            )
            .unwrap(),
        }
    }

    fn size(&self) -> usize {
        usize::from(self.shape.get() & 0xfff)
    }

    fn layout(&self) -> Layout {
        Layout::from_size_align(self.size(), 1 << (self.shape.get() >> 12)).unwrap()
    }

    /// The byte written at both ends of the block, checked when it is freed.
    fn tag(&self, slot: usize) -> u8 {
        (slot as u8) ^ (self.shape.get() as u8) ^ 0x5a
    }
}

/// Runs a workload's calls on one core, checks what they return, and
/// reports every call.
pub struct Driver<'a, C: Core> {
    core: &'a mut C,
    /// The pool's first byte: blocks are kept as offsets from it.
    pool: *mut u8,
    slots: &'a mut [Option<Block>; SLOTS],
    out: &'a mut Out,
    calls: u32,
    errors: u32,
}

impl<'a, C: Core> Driver<'a, C> {
    pub fn new(
        core: &'a mut C,
        pool: *mut u8,
        slots: &'a mut [Option<Block>; SLOTS],
        out: &'a mut Out,
    ) -> Self {
        slots.fill(None);
        Driver {
            core,
            pool,
            slots,
            out,
            calls: 0,
            errors: 0,
        }
    }

    /// Allocates `size` bytes aligned to `align` into `slot`, which must be
    /// free; returns whether the allocation succeeded.
    pub fn alloc(&mut self, slot: usize, size: usize, align: usize) -> bool {
        assert!(self.slots[slot].is_none() && size > 0 && size < 1 << 12 && align < 1 << 16);
        let layout = Layout::from_size_align(size, align).unwrap();
        let core = black_box(&mut *self.core);
        let layout = black_box(layout);
        start_marker();
        let result = allocate(core, layout);
        stop_marker();
        self.calls += 1;
        let _ = writeln!(self.out, "a {size} {align} {}", result.is_some() as u8);
        let Some(ptr) = result else { return false };
        if !(ptr.as_ptr() as usize).is_multiple_of(align) {
            self.error(slot, "misaligned block");
        }
        let block = Block::new(ptr.as_ptr() as usize - self.pool as usize, layout);
        // SAFETY: the core handed out `size` bytes at `ptr`.
        unsafe {
            ptr.write(block.tag(slot));
            ptr.add(size - 1).write(block.tag(slot));
        }
        self.slots[slot] = Some(block);
        true
    }

    /// Frees the block in `slot`, if there is one.
    pub fn free(&mut self, slot: usize) {
        let Some(block) = self.slots[slot].take() else {
            return;
        };
        let size = block.size();
        // SAFETY: the block lies in the pool, where the core handed it out.
        let ptr = unsafe { NonNull::new_unchecked(self.pool.add(block.offset.into())) };
        // SAFETY: the block is live, `size` bytes long.
        let intact =
            unsafe { ptr.read() == block.tag(slot) && ptr.add(size - 1).read() == block.tag(slot) };
        if !intact {
            self.error(slot, "block overwritten");
        }
        let core = black_box(&mut *self.core);
        let (ptr, layout) = black_box((ptr, block.layout()));
        start_marker();
        // SAFETY: allocated by this core with this layout, freed once.
        unsafe { deallocate(core, ptr, layout) };
        stop_marker();
        self.calls += 1;
        let _ = writeln!(self.out, "f {size} {}", layout.align());
    }

    pub fn is_live(&self, slot: usize) -> bool {
        self.slots[slot].is_some()
    }

    /// Frees every live block, lowest slot first.
    pub fn free_all(&mut self) {
        for slot in 0..SLOTS {
            self.free(slot);
        }
    }

    /// Calls made so far and the errors found.
    pub fn finish(self) -> (u32, u32) {
        if !self.core.check() {
            let _ = writeln!(self.out, "error: the core's check() failed");
            return (self.calls, self.errors + 1);
        }
        (self.calls, self.errors)
    }

    fn error(&mut self, slot: usize, what: &str) {
        self.errors += 1;
        let _ = writeln!(self.out, "error: slot {slot}: {what}");
    }
}
