//! Error types shared by every core.

use core::fmt;

/// An allocation could not be served: the heap has no free block that fits,
/// or the layout is larger than any block the heap can hold.
///
/// The heap is left exactly as it was. With feature `allocator-api2` (on by
/// default) this converts into `allocator_api2::alloc::AllocError`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AllocError;

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("memory allocation failed: no free block fits the layout")
    }
}

/// A pool was refused. Nothing was written to it and the heap is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolError {
    /// After alignment the pool cannot hold one block and the end-of-pool
    /// sentinel.
    TooSmall {
        /// Usable bytes the pool has once its ends are aligned.
        usable: usize,
        /// Bytes a pool must have at least.
        min: usize,
    },
    /// The pool is larger than the biggest block this configuration can file
    /// in a free list; choose a configuration with more first-level lists, or
    /// give the memory as several pools.
    TooLarge {
        /// Bytes of the pool.
        size: usize,
        /// Largest pool this configuration accepts.
        max: usize,
    },
    /// The heap already has as many separate pools as its table holds
    /// ([`MAX_POOLS`](crate::tlsf::MAX_POOLS)); merge adjacent memory into
    /// one pool instead (see
    /// [`GenericTlsf::add_pool_raw`](crate::GenericTlsf::add_pool_raw)).
    TooManyPools {
        /// The table's size.
        max: usize,
    },
    /// A raw pool's start or length is not a multiple of the required
    /// alignment (see [`GenericTlsf::add_pool_raw`](crate::GenericTlsf::add_pool_raw)).
    Misaligned {
        /// Alignment the pool must have.
        align: usize,
    },
    /// A page size that is not a power of two between
    /// [`MIN_PAGE`](crate::pages::MIN_PAGE) and
    /// [`MAX_PAGE`](crate::pages::MAX_PAGE).
    PageSize {
        /// The size asked for.
        size: usize,
        /// Smallest page size accepted.
        min: usize,
        /// Largest page size accepted.
        max: usize,
    },
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PoolError::TooSmall { usable, min } => {
                write!(
                    f,
                    "pool too small: {usable} usable bytes, at least {min} needed"
                )
            }
            PoolError::TooLarge { size, max } => {
                write!(
                    f,
                    "pool too large: {size} bytes, this configuration takes at most {max}"
                )
            }
            PoolError::TooManyPools { max } => {
                write!(
                    f,
                    "too many pools: this heap holds at most {max} separate pools"
                )
            }
            PoolError::Misaligned { align } => {
                write!(
                    f,
                    "pool misaligned: start and length must be multiples of {align}"
                )
            }
            PoolError::PageSize { size, min, max } => {
                write!(
                    f,
                    "bad page size {size}: a page is a power of two from {min} to {max} bytes"
                )
            }
        }
    }
}

/// The integrity check found a broken invariant: memory was corrupted (an
/// out-of-bounds write, a use after free) or the heap has a bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckError {
    what: &'static str,
    addr: usize,
}

impl CheckError {
    pub(crate) const fn new(what: &'static str, addr: usize) -> Self {
        CheckError { what, addr }
    }

    /// Which invariant failed.
    pub const fn what(&self) -> &'static str {
        self.what
    }

    /// Address of the block (or list) where it failed.
    pub const fn addr(&self) -> usize {
        self.addr
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "heap integrity check failed at {:#x}: {}",
            self.addr, self.what
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AllocError {}
#[cfg(feature = "std")]
impl std::error::Error for PoolError {}
#[cfg(feature = "std")]
impl std::error::Error for CheckError {}
