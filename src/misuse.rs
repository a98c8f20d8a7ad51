//! Calls that break a heap's contract in a way the heap can see at the cost
//! of a branch. The cores refuse them, changing nothing but a count
//! (`Stats::bad_frees`), and hand them up as a `Misuse`; the public entry
//! points report it: debug builds stop with a message at the caller's line,
//! release builds go on.
//!
//! Why the report happens at the entry point and not where the misuse is
//! found: `#[track_caller]` reaches the caller only through a chain of
//! functions that all carry it, and a wrapper calls its core inside a
//! closure (its lock's scope), which cannot; and a `SyncArena` reports
//! with its lock released, so a panic message that allocates does not
//! wait on it.

use core::alloc::Layout;
use core::fmt;

/// A call that broke the heap's contract, which the heap detected and
/// refused: it changed nothing but [`Stats::bad_frees`](crate::Stats::bad_frees)
/// (for frees; a resize in the wrong direction returns `Err`).
///
/// [`RawHeap::deallocate`](crate::raw::RawHeap::deallocate) returns it; the
/// wrappers' and cores' own methods report it instead (debug builds panic
/// with its message at the caller's line, release builds go on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misuse {
    /// The address is in the heap's memory but is not a block the heap
    /// handed out and has not had back: a double free, or a pointer into a
    /// block rather than to its start.
    NotAllocated {
        /// The address freed.
        addr: usize,
    },
    /// The address is not where the heap puts blocks: in none of its
    /// memory (a foreign pointer), or, for a TLSF, not aligned as every
    /// block is (a pointer into a block).
    Foreign {
        /// The address freed.
        addr: usize,
    },
    /// The layout does not fit the block at the address.
    WrongLayout {
        /// The address freed.
        addr: usize,
        /// The layout the caller gave.
        layout: Layout,
    },
    /// A `grow` to a smaller size, or a `shrink` to a larger one.
    WrongDirection {
        /// Whether the call was a grow (else a shrink).
        grow: bool,
        /// The block's layout.
        old: Layout,
        /// The layout asked for.
        new: Layout,
    },
}

impl fmt::Display for Misuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Misuse::NotAllocated { addr } => write!(
                f,
                "{addr:#x} is not an allocated block (double free, a pointer into a block, or one this heap never returned)"
            ),
            Misuse::Foreign { addr } => write!(
                f,
                "{addr:#x} is not where this heap puts blocks (foreign pointer, or a misaligned pointer into a block)"
            ),
            Misuse::WrongLayout { addr, layout } => write!(
                f,
                "{addr:#x} was freed with {layout:?}, which does not fit the block (wrong layout, or a pointer into a block)"
            ),
            Misuse::WrongDirection { grow, old, new } => {
                let (call, rule) = if grow {
                    ("grow", "new.size() >= old.size()")
                } else {
                    ("shrink", "new.size() <= old.size()")
                };
                write!(
                    f,
                    "{call} from {old:?} to {new:?} breaks the rule {rule} (wrong direction)"
                )
            }
        }
    }
}

impl Misuse {
    /// Reports a refused call: a panic with the message at the caller of
    /// the public entry point in debug builds, nothing in release builds.
    #[cold]
    #[track_caller]
    pub(crate) fn report(self) {
        if cfg!(debug_assertions) {
            panic!("rtarena: {self}")
        }
    }

    /// Reports the misuse in `result`, if any.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn report_err(result: Result<(), Misuse>) {
        if let Err(misuse) = result {
            misuse.report();
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Misuse {}
