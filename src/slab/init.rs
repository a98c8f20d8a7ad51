//! Building a slab: by value or in place, and what the source's page size
//! fixes once for all (the classes served, where slots end, how aligned
//! they are, the slots per page of each class).

use core::mem::MaybeUninit;

use super::active::{CLASSES_AT, Class, ClassId};
use super::classes::{CLASS_SIZES, CLASSES};
use super::slot_bits::{HeaderEnd, header_end};
use super::spare::Spare;
use super::{Counters, Hot, Slab};
use crate::PoolError;
use crate::in_place::{by_value, uninit_field};
use crate::pages::{MAX_TAIL, PageSource, check_page_size};

impl<S: PageSource> Slab<S> {
    /// A slab over `source`, serving every class that fits at least two
    /// slots in a page (up to 1792 bytes with 4 KiB pages, 224 bytes with
    /// 512-byte pages, 4 KiB from 16 KiB pages up).
    ///
    /// The slab is built on the stack and returned by value; on a small
    /// stack, build it where it will stay with
    /// [`new_in_place`](Self::new_in_place).
    ///
    /// # Errors
    /// [`PoolError::PageSize`] if the source's page size is not a power of
    /// two from [`MIN_PAGE`](crate::pages::MIN_PAGE) to
    /// [`MAX_PAGE`](crate::pages::MAX_PAGE) (a contract violation of the
    /// source, reported rather than trusted).
    ///
    /// # Time complexity
    /// O(CLASSES).
    pub fn new(source: S) -> Result<Self, PoolError> {
        // SAFETY: `new_in_place` initialises its place when it returns `Ok`.
        unsafe { by_value(|place| Self::new_in_place(place, source)) }
    }

    /// A slab over `source` that serves the classes up to `max_size` bytes
    /// which fit at least one slot in a page; see
    /// [`max_class`](Self::max_class) for what that gives.
    ///
    /// # Errors
    /// As for [`new`](Self::new).
    ///
    /// # Time complexity
    /// O(CLASSES).
    pub fn with_max_class(source: S, max_size: usize) -> Result<Self, PoolError> {
        // SAFETY: `with_max_class_in_place` initialises its place when it
        // returns `Ok`.
        unsafe { by_value(|place| Self::with_max_class_in_place(place, source, max_size)) }
    }

    /// [`new`](Self::new), building the slab in `place` (a `static`, a
    /// task's memory) with no copy of it on the stack: the control block is
    /// kilobytes (see the crate documentation), and `new` followed by
    /// `Arena::new` puts several copies on the stack. Wrap the result as
    /// `Arena::new(slab)`: an [`Arena`](crate::Arena) over `&mut Slab`
    /// leaves the slab where it is.
    ///
    /// ```
    /// # #[cfg(feature = "allocator-api2")] {
    /// use core::mem::MaybeUninit;
    /// use rtarena::allocator_api2::boxed::Box;
    /// use rtarena::pages::PoolPages;
    /// use rtarena::{Arena, Slab};
    ///
    /// let mut pool = [MaybeUninit::uninit(); 16 * 1024];
    /// let mut place = MaybeUninit::uninit();
    /// let pages = PoolPages::new(&mut pool, 4096).unwrap();
    /// let slab = Slab::new_in_place(&mut place, pages).unwrap();
    /// let arena = Arena::new(slab);
    /// let boxed = Box::new_in(7u64, &arena);
    /// assert_eq!(arena.stats().live(), 1);
    /// # drop(boxed);
    /// // The slab is never dropped unless you drop it: this gives its
    /// // pages back to the source.
    /// // SAFETY: `new_in_place` returned `Ok`, and nothing uses the slab.
    /// unsafe { place.assume_init_drop() };
    /// # }
    /// ```
    ///
    /// The value in `place` is not dropped unless the caller drops it
    /// ([`MaybeUninit::assume_init_drop`]); a slab's drop gives its pages
    /// back to the source. Building in a `place` that already holds a slab
    /// overwrites it without dropping it: its pages and its source are
    /// leaked (not undefined behaviour). On `Err`, `place` is left
    /// uninitialised and `source` is dropped; so is `source` if a panic
    /// (in its `page_size` or `reserved_tail`) interrupts the build.
    ///
    /// # Errors
    /// As for [`new`](Self::new).
    ///
    /// # Time complexity
    /// O(CLASSES).
    pub fn new_in_place(place: &mut MaybeUninit<Self>, source: S) -> Result<&mut Self, PoolError> {
        // SAFETY: `MaybeUninit::write` initialises the source's place and
        // returns a reference to it, and the closure never returns `Err`.
        unsafe { Self::init(place, |slot| Ok(slot.write(source)), 2, usize::MAX) }
    }

    /// [`with_max_class`](Self::with_max_class), building the slab in
    /// `place` with no copy of it on the stack, as
    /// [`new_in_place`](Self::new_in_place) does (and with its drop rules).
    ///
    /// # Errors
    /// As for [`new`](Self::new).
    ///
    /// # Time complexity
    /// O(CLASSES).
    pub fn with_max_class_in_place(
        place: &mut MaybeUninit<Self>,
        source: S,
        max_size: usize,
    ) -> Result<&mut Self, PoolError> {
        // SAFETY: `MaybeUninit::write` initialises the source's place and
        // returns a reference to it, and the closure never returns `Err`.
        unsafe { Self::init(place, |slot| Ok(slot.write(source)), 1, max_size) }
    }
}

/// Drops the source in the place of a slab being built unless forgotten,
/// which `Slab::init` does once the slab is complete.
struct DropSource<S>(*mut S);

impl<S> Drop for DropSource<S> {
    fn drop(&mut self) {
        // SAFETY: `Slab::init` makes this guard from the source's field once
        // its closure has initialised it, and the reference the closure
        // returned is not used again; the slab is not complete, so nothing
        // else drops the source.
        unsafe { core::ptr::drop_in_place(self.0) }
    }
}

impl<S: PageSource, const N: usize> Slab<S, N> {
    /// Builds in `place` a slab serving the classes up to `max_size` bytes
    /// that fit at least `min_slots` slots in a page, over the source that
    /// `source` writes in the place it is given (so that a large source,
    /// the hybrid heap's TLSF, is built in place too).
    ///
    /// Fields are written one by one through raw pointers, the classes one
    /// at a time, so that no copy of the control block is made on the
    /// stack. On `Err`, nothing in `place` needs dropping.
    ///
    /// # Safety
    /// `source` initialises the place it is given when it returns `Ok`,
    /// returning a reference to that place (the slab takes its page size
    /// from it), and leaves nothing in it that needs dropping when it
    /// returns `Err`.
    pub(crate) unsafe fn init(
        place: &mut MaybeUninit<Self>,
        source: impl FnOnce(&mut MaybeUninit<S>) -> Result<&mut S, PoolError>,
        min_slots: usize,
        max_size: usize,
    ) -> Result<&mut Self, PoolError> {
        const { assert!(N > 0 && N <= CLASSES, "a slab has 1 to CLASSES classes") };
        const { assert!(core::mem::offset_of!(Self, classes) == CLASSES_AT * 8) };
        let slab = place.as_mut_ptr();
        // SAFETY: `slab` points to `place`; `&raw mut` names the field
        // without a reference to uninitialised memory.
        let source_place = unsafe { &raw mut (*slab).source };
        // SAFETY: the field is valid for reads and writes and aligned (it
        // is in `place`), and a `MaybeUninit` of it may be referenced; it is
        // reached only through this reference until the guard below or
        // `assume_init_mut` (after the reference's last use), the other
        // writes being to disjoint fields.
        let source = source(unsafe { uninit_field(source_place) })?;
        // Until the slab is complete, nothing else would drop the source on
        // an `Err` below or a panic (a `debug_assert!`, or the source's
        // `page_size` or `reserved_tail`).
        let guard = DropSource(source_place);
        let page_size = source.page_size();
        check_page_size(page_size)?;
        let tail = source.reserved_tail();
        debug_assert!(tail <= MAX_TAIL, "PageSource::reserved_tail above MAX_TAIL");
        let Shape {
            slot_end,
            served,
            limit,
            max_align,
        } = Shape::new::<N>(page_size, tail, source.page_align(), min_slots, max_size);
        // SAFETY: each write is to a field of `place` through `slab` (the
        // class arrays' elements one by one, in bounds), none to the
        // source's.
        unsafe {
            let classes = (&raw mut (*slab).classes).cast::<Class>();
            let capacities = (&raw mut (*slab).capacities).cast::<u32>();
            for (class, &size) in CLASS_SIZES[..N].iter().enumerate() {
                classes.add(class).write(Class::new(size));
                capacities
                    .add(class)
                    .write(slots_per_page(slot_end, class) as u32);
            }
            (&raw mut (*slab).hot).write(Hot::new(served, limit, max_align, slot_end));
            (&raw mut (*slab).page_size).write(page_size);
            (&raw mut (*slab).counters).write(Counters::default());
        }
        // The slab is complete: its own drop has the source now.
        core::mem::forget(guard);
        // SAFETY: the writes above and the source (initialised by `source`,
        // as the caller promises) initialise every field.
        Ok(unsafe { place.assume_init_mut() })
    }

    /// A slab built in `const` context, for a source whose page size, tail
    /// and page alignment are known at compile time (the growing hybrid
    /// heap's, so that it can be a `static`): as `init`, with those three
    /// given rather than asked of the source.
    ///
    /// # Panics
    /// If `page_size` is not a valid page size or `tail` is above
    /// [`MAX_TAIL`]: at compile time when evaluated in `const` context.
    pub(crate) const fn new_const(
        source: S,
        page_size: usize,
        tail: usize,
        page_align: usize,
        min_slots: usize,
        max_size: usize,
    ) -> Self {
        const { assert!(N > 0 && N <= CLASSES, "a slab has 1 to CLASSES classes") };
        assert!(
            page_size.is_power_of_two()
                && page_size >= crate::pages::MIN_PAGE
                && page_size <= crate::pages::MAX_PAGE
                && tail <= MAX_TAIL,
            "a slab's page size is a power of two from MIN_PAGE to MAX_PAGE"
        );
        let shape = Shape::new::<N>(page_size, tail, page_align, min_slots, max_size);
        let mut classes = [Class::new(0); N];
        let mut capacities = [0; N];
        let mut class = 0;
        while class < N {
            classes[class] = Class::new(CLASS_SIZES[class]);
            capacities[class] = slots_per_page(shape.slot_end, class) as u32;
            class += 1;
        }
        Slab {
            classes,
            capacities,
            hot: Hot::new(shape.served, shape.limit, shape.max_align, shape.slot_end),
            page_size,
            source,
            counters: Counters {
                pages: 0,
                peak_pages: 0,
                failures: 0,
                bad_frees: 0,
            },
        }
    }

    /// The largest request (`Layout::size()` rounded up to its alignment)
    /// this slab serves; 0 if the page is too small for any class.
    pub fn max_class(&self) -> usize {
        self.hot.limit
    }

    /// The page source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The page source, for a core built on the slab (the hybrid heap's
    /// large blocks come from the TLSF that is its page source).
    pub(crate) fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }
}

impl Hot {
    const fn new(served: usize, limit: usize, max_align: usize, slot_end: usize) -> Self {
        Hot {
            latest: ClassId::of_index(0),
            limit,
            max_align,
            slot_end,
            served,
            spare: Spare::new(),
            header_end: HeaderEnd::new(slot_end),
        }
    }
}

/// Which classes a slab serves, and how, for its pages' size and tail.
struct Shape {
    /// Offset in a page where its slots end: the page size less the tail.
    slot_end: usize,
    served: usize,
    limit: usize,
    max_align: usize,
}

impl Shape {
    /// The shape of a slab with room for `N` classes, serving those up to
    /// `max_size` bytes that fit `min_slots` slots below the slot end.
    const fn new<const N: usize>(
        page_size: usize,
        tail: usize,
        page_align: usize,
        min_slots: usize,
        max_size: usize,
    ) -> Shape {
        let slot_end = page_size - if tail < MAX_TAIL { tail } else { MAX_TAIL };
        let served = served_classes(slot_end, min_slots, max_size);
        let served = if served < N { served } else { N };
        let limit = if served == 0 {
            0
        } else {
            CLASS_SIZES[served - 1]
        };
        // Slots sit at multiples of their size below `slot_end`, in pages
        // aligned to `page_align`.
        let slot_align = 1 << slot_end.trailing_zeros();
        Shape {
            slot_end,
            served,
            limit,
            max_align: if slot_align < page_align {
                slot_align
            } else {
                page_align
            },
        }
    }
}

/// Slots of `class` that fit between a page's header (and bitmap) and
/// `slot_end`.
pub(crate) const fn slots_per_page(slot_end: usize, class: usize) -> usize {
    (slot_end - header_end(slot_end)) / CLASS_SIZES[class]
}

/// How many classes, from the smallest, are at most `max_size` bytes and fit
/// at least `min_slots` slots below `slot_end`.
pub(crate) const fn served_classes(slot_end: usize, min_slots: usize, max_size: usize) -> usize {
    let mut served = 0;
    while served < CLASSES
        && CLASS_SIZES[served] <= max_size
        && slots_per_page(slot_end, served) >= min_slots
    {
        served += 1;
    }
    served
}
