//! Construction in place: every core's by-value constructor is its in-place
//! one run on a local, so that there is one initialiser per core.
//!
//! Why cores are built in place at all: a control block is kilobytes (see
//! `sizes.rs`), and building one by value, then moving it into an `Arena`,
//! puts several copies of it on the stack, more than a 16 KiB
//! microcontroller has to spare.

use core::mem::MaybeUninit;

use crate::PoolError;

/// Runs the in-place constructor `init` on a local and returns the value it
/// built.
///
/// # Safety
/// When `init` returns `Ok`, it has initialised the place it was given.
pub(crate) unsafe fn by_value<T>(
    init: impl FnOnce(&mut MaybeUninit<T>) -> Result<&mut T, PoolError>,
) -> Result<T, PoolError> {
    let mut place = MaybeUninit::uninit();
    init(&mut place)?;
    // SAFETY: `init` returned `Ok`, so it initialised `place` (caller).
    Ok(unsafe { place.assume_init() })
}

/// The field at `field` (a `&raw mut (*place).field` of a place being
/// built) as a `MaybeUninit`, for its own in-place constructor.
///
/// # Safety
/// `field` is valid for reads and writes and aligned, and is accessed only
/// through the returned reference for `'a`.
pub(crate) unsafe fn uninit_field<'a, T>(field: *mut T) -> &'a mut MaybeUninit<T> {
    // SAFETY: as the caller promises; a `MaybeUninit` may hold any bytes,
    // so the reference asserts nothing about the field's contents.
    unsafe { &mut *field.cast() }
}
