//! Stack high-water marks: the stack below the caller is painted with a
//! pattern, and the lowest word no longer holding it shows how deep the
//! stack went. RAM is flat on these boards, so an overflow would silently
//! run into the statics below the stack; the harness checks that it never
//! comes near them.

use core::arch::asm;

const PATTERN: u32 = 0xdead_beef;

unsafe extern "C" {
    /// The end of the statics (cortex-m-rt's linker script): the lowest
    /// address the stack may reach.
    static __sheap: u32;
}

fn bottom() -> *mut u32 {
    (&raw const __sheap).cast_mut()
}

#[inline(always)]
fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer.
    unsafe { asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// Runs `f` on a freshly painted stack; returns what it returned and the
/// bytes of stack it took below the caller's frame (the frames of this
/// function and of `f`, and whatever `f` calls).
#[inline(always)]
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let top = stack_pointer();
    let result = paint_and_run(f);
    (result, top - lowest())
}

#[inline(never)]
fn paint_and_run<R>(f: impl FnOnce() -> R) -> R {
    let top = stack_pointer();
    let mut word = bottom();
    while (word as usize) < top {
        // SAFETY: between the statics' end and the stack pointer lies
        // unused stack; this loop keeps everything in registers, and no
        // interrupt handler runs in the harness.
        unsafe {
            word.write_volatile(PATTERN);
            word = word.add(1);
        }
    }
    f()
}

/// The lowest address written since the last `measure` painted the stack.
fn lowest() -> usize {
    let mut word = bottom();
    // SAFETY: reads the stack region `measure` painted; the scan stops at
    // the first word that changed, at the latest at the live stack.
    while unsafe { word.read_volatile() } == PATTERN {
        word = word.wrapping_add(1);
    }
    word as usize
}

/// Bytes of stack never used since the last `measure` painted it.
pub fn headroom() -> usize {
    lowest() - bottom() as usize
}
