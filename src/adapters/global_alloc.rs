//! `GlobalAlloc` for `SyncArena`, so a `static` one can be the
//! `#[global_allocator]`.
//!
//! `GlobalAlloc` must not unwind, so every method runs under a guard that
//! turns a panic into an abort: a debug build's report of a broken contract
//! (a double free, a wrong layout), `CriticalSectionLock`'s refusal to be
//! taken from inside itself, or a panic of the lock itself. The message
//! still comes first: the guard acts only once the panic is reported and
//! starts to unwind. Release builds refuse the misuses they detect and go
//! on (see [`Misuse`](crate::raw::Misuse)); they never reach the guard.
//!
//! Re-entry under a `lock_api::RawMutex` (an interrupt or signal handler
//! that allocates while the code it interrupted holds the lock) cannot be
//! told from another thread holding the lock: a `RawMutex` knows no owner,
//! and in `no_std` there is no thread identity to record. It waits for the
//! lock, which its own context holds: with a spin lock it spins forever.
//! The heap itself never allocates while holding the lock, and reports
//! misuse only once it has released it (a panic message may allocate).
//! For heaps that interrupt handlers use, `CriticalSectionLock` refuses
//! re-entry and aborts here with a message.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use crate::{Lock, RawHeap, SyncArena};

/// Aborts the process when dropped, which happens only while a panic
/// unwinds past it: each `GlobalAlloc` method makes one and forgets it on
/// return.
struct AbortOnUnwind;

impl AbortOnUnwind {
    /// The method's result, past the guard.
    #[inline(always)]
    fn done<T>(self, result: T) -> T {
        core::mem::forget(self);
        result
    }
}

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        cannot_unwind();
    }
}

/// Panics in a function that cannot unwind (`extern "C"`): Rust (1.81 and
/// later) aborts then, whatever the panic runtime, `no_std` included (the
/// panic handler is told the panic cannot unwind; std's aborts, and a
/// `no_std` one must not return).
#[cold]
#[inline(never)]
extern "C" fn cannot_unwind() -> ! {
    panic!("rtarena: a panic would unwind out of GlobalAlloc, which must not unwind: aborting")
}

// SAFETY: blocks come from a `RawHeap` (valid, aligned, disjoint, in place
// until freed) behind the arena's lock; failures return null; nothing
// unwinds (`AbortOnUnwind`); `realloc` keeps the contents up to the smaller
// size and leaves the old block intact when it returns null.
unsafe impl<C: RawHeap, R: Lock> GlobalAlloc for SyncArena<C, R> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let guard = AbortOnUnwind;
        let block = self.allocate(layout);
        guard.done(block.map_or(ptr::null_mut(), |block| block.as_ptr().cast()))
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let guard = AbortOnUnwind;
        let block = self.allocate_zeroed(layout);
        guard.done(block.map_or(ptr::null_mut(), |block| block.as_ptr().cast()))
    }

    #[inline]
    #[track_caller]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let guard = AbortOnUnwind;
        if let Some(ptr) = NonNull::new(ptr) {
            // SAFETY: `GlobalAlloc::dealloc`'s contract: a live block of this
            // allocator with this layout.
            unsafe { self.deallocate(ptr, layout) }
        }
        guard.done(())
    }

    #[inline]
    #[track_caller]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (Some(old), Ok(new)) = (
            NonNull::new(ptr),
            Layout::from_size_align(new_size, layout.align()),
        ) else {
            return ptr::null_mut();
        };
        let guard = AbortOnUnwind;
        // SAFETY: `GlobalAlloc::realloc`'s contract: `ptr` is live with
        // `layout`; `new` has the same alignment and a nonzero size.
        let result = unsafe {
            if new_size >= layout.size() {
                self.grow(old, layout, new)
            } else {
                self.shrink(old, layout, new)
            }
        };
        guard.done(result.map_or(ptr::null_mut(), |block| block.as_ptr().cast()))
    }
}
