//! The worst-case harness's firmware: runs every workload on every core
//! (rtarena's and rlsf, the reference) on an emulated Cortex-M, and marks
//! each allocate and free for the instruction-counting QEMU plugin.
//!
//! Output, over semihosting (read by wcet/run.py):
//!
//! ```text
//! cpu <m0|m4> pool <bytes>
//! workload <name> <targets, or -> <aim>
//! run <core> <workload> stack <bytes the construction took>
//! a <size> <align> <1 if it succeeded>      one per measured allocate
//! f <size> <align>                          one per measured free
//! end <calls> <errors> headroom <bytes of stack never used>
//! ```

#![no_std]
#![no_main]

mod cores;
mod measure;
mod semihosting;
mod stack;
mod workloads;

use core::fmt::Write;
use core::mem::MaybeUninit;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use rtarena::pages::PoolPages;
use rtarena::{Slab, SmallHeap, SmallTlsf, Tlsf};

use crate::cores::{Core, Rlsf};
use crate::measure::{Block, Driver, SLOTS};
use crate::semihosting::{Out, exit};
use crate::workloads::{Workload, for_each_workload};

#[cfg(microbit)]
const CPU: &str = "m0";
#[cfg(not(microbit))]
const CPU: &str = "m4";

/// The pool every core gets: 8 KiB of the micro:bit's 16, 16 KiB on the M4.
#[cfg(microbit)]
const POOL: usize = 8 << 10;
#[cfg(not(microbit))]
const POOL: usize = 16 << 10;

#[repr(C, align(8))]
struct Pool([MaybeUninit<u8>; POOL]);

static mut POOL_MEMORY: Pool = Pool([MaybeUninit::uninit(); POOL]);
static mut SLOT_TABLE: [Option<Block>; SLOTS] = [None; SLOTS];
const _: () = assert!(
    POOL <= 1 << 16,
    "blocks are kept as 16-bit offsets in the pool"
);

/// Stack that must stay unused at the end of every run: less means the
/// stack came close to the statics.
const MIN_HEADROOM: usize = 256;

#[entry]
fn main() -> ! {
    let mut out = Out::new();
    let _ = writeln!(out, "cpu {CPU} pool {POOL}");
    macro_rules! describe {
        ($workload:ident, $function:ident) => {
            let w = &workloads::$workload;
            let targets = if w.targets.is_empty() { "-" } else { w.targets };
            let _ = writeln!(out, "workload {} {targets} {}", w.name, w.aim);
        };
    }
    for_each_workload!(describe);
    let mut errors = 0;
    errors += run_core::<Rlsf>(&mut out);
    errors += run_core::<SmallTlsf<'static>>(&mut out);
    errors += run_core::<Tlsf<'static>>(&mut out);
    errors += run_core::<SmallHeap<'static>>(&mut out);
    errors += run_core::<Slab<PoolPages<'static>>>(&mut out);
    let _ = writeln!(out, "done {errors}");
    exit(errors == 0)
}

/// Runs every workload on a fresh `C` each; returns the errors found.
#[inline(never)]
fn run_core<C: Core>(out: &mut Out) -> u32 {
    let mut place = MaybeUninit::<C>::uninit();
    let mut errors = 0;
    macro_rules! run {
        ($workload:ident, $function:ident) => {
            errors += run::<C>(
                &mut place,
                &workloads::$workload,
                workloads::$function::<C>,
                out,
            );
        };
    }
    for_each_workload!(run);
    errors
}

fn run<C: Core>(
    place: &mut MaybeUninit<C>,
    workload: &Workload,
    function: fn(&mut Driver<C>),
    out: &mut Out,
) -> u32 {
    let (pool, slots) = (&raw mut POOL_MEMORY, &raw mut SLOT_TABLE);
    // SAFETY: the pool and the slot table are used by one run at a time;
    // the previous run's core was dropped, so no borrow of them is left.
    let (pool, slots) = unsafe { (&mut (*pool).0, &mut *slots) };
    let base = pool.as_mut_ptr().cast::<u8>();
    let (core, construction) = stack::measure(|| C::build(place, pool));
    let _ = writeln!(
        out,
        "run {} {} stack {construction}",
        C::NAME,
        workload.name
    );
    let mut driver = Driver::new(core, base, slots, out);
    function(&mut driver);
    let (calls, mut errors) = driver.finish();
    let headroom = stack::headroom();
    if headroom < MIN_HEADROOM {
        let _ = writeln!(out, "error: only {headroom} bytes of stack left unused");
        errors += 1;
    }
    let _ = writeln!(out, "end {calls} {errors} headroom {headroom}");
    // SAFETY: built above; nothing borrows it any more.
    unsafe { place.assume_init_drop() };
    errors
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    let mut out = Out::new();
    let _ = writeln!(out, "error: hard fault at pc {:#x}", frame.pc());
    exit(false)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let mut out = Out::new();
    let _ = writeln!(out, "error: panic: {info}");
    exit(false)
}
