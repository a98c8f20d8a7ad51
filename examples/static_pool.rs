//! Firmware-style rtarena: a `SmallTlsf` heap over a `static` pool.
//!
//! Run it on the host with `cargo run --release --example static_pool`.
//!
//! Everything below `main` is written as it would be on a microcontroller
//! (say a Cortex-M4F, `thumbv7em-none-eabihf`): no `std` collection and no
//! global heap; every dynamic structure lives in the arena, and running out
//! of memory is a handled error. Only the printing is the host's. On the
//! target the same code becomes:
//!
//! ```text
//! #![no_std]
//! #![no_main]
//! extern crate alloc; // allocator-api2's `Vec` and `Box` build on it
//!
//! // Linking `alloc` requires a global allocator, even though every
//! // collection here names the arena. One that always fails makes any
//! // stray use of the global heap an error instead of a hidden allocation.
//! struct NoGlobalHeap;
//! // SAFETY: null is always a valid "allocation failed".
//! unsafe impl GlobalAlloc for NoGlobalHeap {
//!     unsafe fn alloc(&self, _: Layout) -> *mut u8 { core::ptr::null_mut() }
//!     unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
//! }
//! #[global_allocator]
//! static GLOBAL: NoGlobalHeap = NoGlobalHeap;
//!
//! #[cortex_m_rt::entry] // or your RTOS's task entry
//! fn main() -> ! {
//!     let pool = POOL.take().unwrap();
//!     let arena = Arena::new(SmallTlsf::new(pool).unwrap());
//!     let mut task = Telemetry::new(&arena).unwrap();
//!     loop {
//!         let (channel, value) = read_adc(); // paced by a timer
//!         task.tick(channel, value);
//!     }
//! }
//! ```
//!
//! with `println!` replaced by your logger (defmt, RTT, a UART). `main` never
//! returns there, so the arena and the collections borrowing it live for as
//! long as the firmware runs, without `'static` tricks.
//!
//! Dependencies on the target: `rtarena` (default features),
//! `allocator-api2 = { version = "0.2", default-features = false, features =
//! ["alloc"] }` and, for maps, `hashbrown` with its `allocator-api2` feature.

use core::mem::size_of;
use core::ptr;

use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;
use hashbrown::HashMap;
use rtarena::{Arena, SmallTlsf, StaticPool};

/// RAM given to the heap. `SmallTlsf` takes pools of up to 64 KiB.
const POOL_SIZE: usize = 32 * 1024;

/// RAM in `.bss`, handed out once as `&'static mut`: no `static mut`, no
/// `unsafe`.
static POOL: StaticPool<POOL_SIZE> = StaticPool::new();

/// The arena type of this firmware.
type Heap = Arena<SmallTlsf<'static>>;

/// A buffer a DMA engine reads: it must start on a 32-byte boundary.
#[repr(C, align(32))]
struct DmaBuffer([u8; 256]);

/// Running figures for one sensor channel.
#[derive(Clone, Copy)]
struct ChannelStats {
    count: u32,
    min: i16,
    max: i16,
}

/// The heap could not hold what the task needs.
#[derive(Debug)]
struct OutOfMemory;

/// A telemetry task: samples channels, keeps per-channel figures, and sends
/// frames through a DMA buffer. All of its memory comes from the arena.
struct Telemetry<'a> {
    /// Samples not yet sent, bounded: allocated once, never grown.
    pending: Vec<(u8, i16), &'a Heap>,
    channels: HashMap<u8, ChannelStats, hashbrown::DefaultHashBuilder, &'a Heap>,
    dma: Box<DmaBuffer, &'a Heap>,
    arena: &'a Heap,
    frames_sent: u32,
    frames_dropped: u32,
}

impl<'a> Telemetry<'a> {
    const BATCH: usize = 32;

    /// Takes all the memory the task needs up front, at start-up, so that a
    /// heap too small shows at boot and not in flight.
    fn new(arena: &'a Heap) -> Result<Self, OutOfMemory> {
        let mut pending = Vec::new_in(arena);
        pending
            .try_reserve_exact(Self::BATCH)
            .map_err(|_| OutOfMemory)?;
        let mut channels = HashMap::new_in(arena);
        channels.try_reserve(8).map_err(|_| OutOfMemory)?;
        // `Box::new_in` would abort on failure; `try_new_in` returns `Err`.
        let dma = Box::try_new_in(DmaBuffer([0; 256]), arena).map_err(|_| OutOfMemory)?;
        Ok(Telemetry {
            pending,
            channels,
            dma,
            arena,
            frames_sent: 0,
            frames_dropped: 0,
        })
    }

    /// One period of the control loop: record a sample, send a frame when a
    /// batch is full. Every allocation here is O(1) and may fail gracefully.
    fn tick(&mut self, channel: u8, value: i16) {
        // Room for 8 channels was reserved at boot: no allocation here.
        let s = self.channels.entry(channel).or_insert(ChannelStats {
            count: 0,
            min: value,
            max: value,
        });
        s.count += 1;
        s.min = s.min.min(value);
        s.max = s.max.max(value);

        self.pending.push((channel, value)); // within capacity: no allocation
        if self.pending.len() == Self::BATCH {
            self.send_frame();
        }
    }

    /// Encodes the pending samples into a frame of exactly the size needed,
    /// allocated for this frame only, and copies it to the DMA buffer.
    fn send_frame(&mut self) {
        let mut frame: Vec<u8, &Heap> = Vec::new_in(self.arena);
        if frame.try_reserve_exact(2 + 3 * self.pending.len()).is_err() {
            // Out of memory: drop this batch, keep flying.
            self.frames_dropped += 1;
            self.pending.clear();
            return;
        }
        frame.extend_from_slice(&(self.pending.len() as u16).to_le_bytes());
        for &(channel, value) in &self.pending {
            frame.push(channel);
            frame.extend_from_slice(&value.to_le_bytes());
        }
        self.dma.0[..frame.len()].copy_from_slice(&frame);
        self.frames_sent += 1;
        self.pending.clear();
    } // `frame` goes back to the heap here
}

fn main() {
    let pool = POOL.take().expect("the pool is taken once, at boot");
    assert!(POOL.take().is_none(), "a second take gets nothing");

    let arena: Heap = Arena::new(SmallTlsf::new(pool).expect("32 KiB is a valid SmallTlsf pool"));
    println!(
        "static pool: {} KiB in .bss, SmallTlsf control block {} bytes",
        POOL_SIZE / 1024,
        size_of::<SmallTlsf>(),
    );

    let mut task = Telemetry::new(&arena).expect("the heap holds the task's start-up memory");
    let boot = arena.stats();
    println!(
        "after boot: {} of {} bytes in use, {} allocations; DMA buffer 32-byte aligned: {}",
        boot.in_use,
        boot.capacity,
        boot.live(),
        ptr::from_ref(&*task.dma).addr() % 32 == 0,
    );

    // A deterministic stand-in for an ADC: four channels of noisy readings.
    // Channel `c` reads about `100 * c`, give or take 32.
    let mut seed: u32 = 1;
    for _ in 0..10_000 {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let channel = (seed >> 30) as u8;
        let noise = ((seed >> 8) & 0x3f) as i16 - 32;
        task.tick(channel, 100 * i16::from(channel) + noise);
    }

    let mut figures: Vec<(u8, ChannelStats), &Heap> = Vec::new_in(&arena);
    figures.extend(task.channels.iter().map(|(&c, &s)| (c, s)));
    figures.sort_unstable_by_key(|&(c, _)| c);
    for (c, s) in &figures {
        println!(
            "  channel {c}: {:>5} samples, min {:>4}, max {:>4}",
            s.count, s.min, s.max
        );
    }
    drop(figures);

    let s = arena.stats();
    println!(
        "after 10000 ticks: {} frames sent, {} dropped; heap: {} allocations, {} frees, {} failures",
        task.frames_sent, task.frames_dropped, s.allocations, s.deallocations, s.failures
    );
    println!(
        "  in use {} (as at boot: {}), peak {}, largest free block {} of {} free",
        s.in_use,
        s.in_use == boot.in_use,
        s.peak_in_use,
        s.largest_free,
        s.free
    );
    arena.check().expect("heap invariants hold");
    println!("arena.check(): ok");
}
