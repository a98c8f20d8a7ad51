//! What every wrapper composes from a core's in-place primitives, written
//! once: zeroing, and a grow or shrink that moves the block when it cannot
//! stay (allocate, copy, free; the copy runs outside `with`, so a locking
//! wrapper never holds its lock for it).

use core::alloc::Layout;
use core::ptr::NonNull;

use crate::{AllocError, Misuse, RawHeap};

/// A wrapper that can lend its core out for one call at a time.
pub(crate) trait WithCore {
    type Core: RawHeap;

    /// Runs `f` on the core, excluding every other `with`; `f` never calls
    /// back into the wrapper.
    fn with<T>(&self, f: impl FnOnce(&mut Self::Core) -> T) -> T;
}

/// `allocate`, with the whole block zeroed.
#[inline]
pub(crate) fn allocate_zeroed<W: WithCore>(
    w: &W,
    layout: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    let block = w.with(|c| c.allocate(layout))?;
    // SAFETY: the block is ours and valid for its whole length.
    unsafe { block.cast::<u8>().write_bytes(0, block.len()) };
    Ok(block)
}

/// Grows in place, else moves. A `new` smaller than `old` breaks the
/// `Allocator` contract: refused with `Err` and reported, before anything
/// is touched (a zeroing grow would zero from `old.size()` to the block's
/// end, past it).
///
/// # Safety
/// `ptr` is live in `w`'s core with layout `old`, and only the caller uses
/// it.
#[inline]
#[track_caller]
pub(crate) unsafe fn grow<W: WithCore>(
    w: &W,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    if new.size() < old.size() {
        return wrong_direction(true, old, new);
    }
    // SAFETY: forwarded contract.
    match w.with(|c| unsafe { c.grow_in_place(ptr, old, new) }) {
        Ok(block) => Ok(block),
        // SAFETY: forwarded contract.
        Err(AllocError) => unsafe { relocate(w, ptr, old, new) },
    }
}

/// As `grow`, with the bytes past `old.size()` zeroed.
///
/// # Safety
/// As for `grow`.
#[inline]
#[track_caller]
pub(crate) unsafe fn grow_zeroed<W: WithCore>(
    w: &W,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    // SAFETY: forwarded contract.
    let block = unsafe { grow(w, ptr, old, new)? };
    // SAFETY: the bytes from `old.size()` to the block's end are ours and
    // hold nothing the caller may read yet; `grow` returned a block of at
    // least `new.size() >= old.size()` bytes.
    unsafe {
        block
            .cast::<u8>()
            .add(old.size())
            .write_bytes(0, block.len() - old.size())
    };
    Ok(block)
}

/// Shrinks in place, else moves. A `new` larger than `old` breaks the
/// `Allocator` contract: refused with `Err` and reported, before anything
/// is touched.
///
/// # Safety
/// `ptr` is live in `w`'s core with layout `old`, and only the caller uses
/// it.
#[inline]
#[track_caller]
pub(crate) unsafe fn shrink<W: WithCore>(
    w: &W,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    if new.size() > old.size() {
        return wrong_direction(false, old, new);
    }
    // SAFETY: forwarded contract.
    match w.with(|c| unsafe { c.shrink_in_place(ptr, old, new) }) {
        Ok(block) => Ok(block),
        // SAFETY: forwarded contract.
        Err(AllocError) => unsafe { relocate(w, ptr, old, new) },
    }
}

/// A resize in the wrong direction: reported, and refused.
#[cold]
#[track_caller]
fn wrong_direction<T>(grow: bool, old: Layout, new: Layout) -> Result<T, AllocError> {
    Misuse::WrongDirection { grow, old, new }.report();
    Err(AllocError)
}

/// Moves a block to a new allocation for `new`, copying what both layouts
/// hold; the old block is freed only once the new one exists. A free the
/// core refuses (the caller's `ptr` was not live) is reported.
///
/// # Safety
/// `ptr` is live in `w`'s core with layout `old`, and only the caller uses
/// it.
#[cold]
#[track_caller]
unsafe fn relocate<W: WithCore>(
    w: &W,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    let block = w.with(|c| c.allocate(new))?;
    // SAFETY: two live blocks that only this caller uses, each valid for
    // the bytes copied; then the old one is freed. A copy that may overlap:
    // with a `ptr` that is not live (a broken contract, which the free then
    // reports), the new block may be that very memory.
    let freed = unsafe {
        ptr.copy_to(block.cast(), old.size().min(new.size()));
        w.with(|c| c.deallocate(ptr, old))
    };
    Misuse::report_err(freed);
    Ok(block)
}
