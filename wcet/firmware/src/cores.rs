//! The allocators the harness measures, behind one small trait: rtarena's
//! cores and rlsf, the reference.

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use rtarena::pages::PoolPages;
use rtarena::{Slab, SmallHeap, SmallTlsf, Tlsf};

/// Page size of the slab's `PoolPages`.
pub const SLAB_PAGE: usize = 1024;

/// rlsf's configuration for pools of up to 32 KiB on 32-bit targets.
pub type Rlsf = rlsf::Tlsf<'static, u16, u16, 12, 16>;

pub trait Core: Sized {
    /// The name the harness reports.
    const NAME: &'static str;

    /// Builds the allocator in `place` over `pool`.
    fn build<'a>(
        place: &'a mut MaybeUninit<Self>,
        pool: &'static mut [MaybeUninit<u8>],
    ) -> &'a mut Self;

    fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>>;

    /// # Safety
    /// `ptr` was allocated by this allocator with `layout` and is live.
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout);

    /// The allocator's own integrity check, where it has one.
    fn check(&self) -> bool;
}

impl Core for Rlsf {
    const NAME: &'static str = "rlsf";

    fn build<'a>(
        place: &'a mut MaybeUninit<Self>,
        pool: &'static mut [MaybeUninit<u8>],
    ) -> &'a mut Self {
        let tlsf = place.write(Rlsf::new());
        tlsf.insert_free_block(pool);
        tlsf
    }

    #[inline(always)]
    fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        Rlsf::allocate(self, layout)
    }

    #[inline(always)]
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller's contract.
        unsafe { Rlsf::deallocate(self, ptr, layout.align()) }
    }

    fn check(&self) -> bool {
        true
    }
}

/// An rtarena core: the same calls on every one of them.
macro_rules! rtarena_core {
    ($type:ty, $name:literal, |$place:ident, $pool:ident| $new:expr) => {
        impl Core for $type {
            const NAME: &'static str = $name;

            fn build<'a>(
                $place: &'a mut MaybeUninit<Self>,
                $pool: &'static mut [MaybeUninit<u8>],
            ) -> &'a mut Self {
                $new.unwrap()
            }

            #[inline(always)]
            fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
                <$type>::allocate(self, layout).ok().map(NonNull::cast)
            }

            #[inline(always)]
            unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) {
                // SAFETY: the caller's contract.
                unsafe { <$type>::deallocate(self, ptr, layout) }
            }

            fn check(&self) -> bool {
                <$type>::check(self).is_ok()
            }
        }
    };
}

// Each built in place: no copy of its control block on the stack, which
// the micro:bit's 16 KiB could not hold beside the pool.
rtarena_core!(SmallTlsf<'static>, "SmallTlsf", |place, pool| {
    SmallTlsf::new_in_place(place, pool)
});
rtarena_core!(Tlsf<'static>, "Tlsf", |place, pool| Tlsf::new_in_place(
    place, pool
));
rtarena_core!(SmallHeap<'static>, "SmallHeap", |place, pool| {
    SmallHeap::new_in_place(place, pool)
});
rtarena_core!(Slab<PoolPages<'static>>, "Slab", |place, pool| {
    Slab::new_in_place(place, PoolPages::new(pool, SLAB_PAGE).unwrap())
});
