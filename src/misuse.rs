//! The panics of debug builds when a caller breaks a heap's contract: cheap
//! checks that turn a silent corruption into a clear message.

#[cfg(debug_assertions)]
use core::alloc::Layout;
use core::ptr::NonNull;

/// A pointer that no pool holds was given back: a bug in the caller.
#[cold]
#[track_caller]
pub(crate) fn foreign_pointer(ptr: NonNull<u8>) {
    if cfg!(debug_assertions) {
        panic!(
            "rtarena: {ptr:p} was freed into a heap whose pools do not contain it (foreign pointer)"
        )
    }
}

#[cfg(debug_assertions)]
#[cold]
#[track_caller]
pub(crate) fn double_free(ptr: NonNull<u8>) -> ! {
    panic!(
        "rtarena: {ptr:p} is not an allocated block (double free, or a pointer this heap never returned)"
    )
}

#[cfg(debug_assertions)]
#[cold]
#[track_caller]
pub(crate) fn wrong_layout(ptr: NonNull<u8>, layout: Layout) -> ! {
    panic!(
        "rtarena: {ptr:p} was freed with {layout:?}, which does not fit the block (wrong layout or foreign pointer)"
    )
}
