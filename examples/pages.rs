//! Two subsystems, each with a slab heap of its own, on pages mapped from
//! the operating system: a message broker on 4 KiB base pages (the OS's
//! page size, whatever it is) and a sensor index on 2 MiB huge pages where
//! the kernel gives them.
//!
//! Run with `cargo run --release --features std --example pages`.

use std::error::Error;

use hashbrown::HashMap;
use rtarena::allocator_api2::boxed::Box;
use rtarena::allocator_api2::vec::Vec;
use rtarena::pages::{OsPages, PageKind};
use rtarena::{Arena, Slab};

/// A message as the broker queues it.
struct Message {
    topic: u32,
    body: [u8; 120],
}

fn main() -> Result<(), std::boxed::Box<dyn Error>> {
    let base = OsPages::new()?;
    let base_page = rtarena::pages::PageSource::page_size(&base);
    let mut broker = Arena::new(Slab::new(base)?);
    let mut index = Arena::new(Slab::new(OsPages::huge()?)?);

    {
        // The broker: per-topic queues of boxed messages.
        let mut queues: HashMap<u32, Vec<Box<Message, _>, _>, _, _> = HashMap::new_in(&broker);
        // 1000 messages over 16 topics: every table and queue stays within
        // the largest class of a 4 KiB page (1792 bytes), which a slab
        // alone cannot exceed.
        for i in 0..1000u32 {
            let message = Box::new_in(
                Message {
                    topic: i % 16,
                    body: [i as u8; 120],
                },
                &broker,
            );
            queues
                .entry(message.topic)
                .or_insert_with(|| Vec::new_in(&broker))
                .push(message);
        }
        // Consumers drain half of the topics, checking what they read.
        for topic in 0..8 {
            for message in queues.remove(&topic).into_iter().flatten() {
                assert!(message.body.iter().all(|&b| b == message.body[0]));
            }
        }

        // The index: small readings, one box per sensor, grouped in rows.
        let mut rows: Vec<Vec<Box<[f32; 6], _>, _>, _> = Vec::new_in(&index);
        for row in 0..64 {
            let mut readings = Vec::with_capacity_in(100, &index);
            for sensor in 0..100 {
                readings.push(Box::new_in([(row * 100 + sensor) as f32; 6], &index));
            }
            rows.push(readings);
        }

        let left: usize = queues.values().map(Vec::len).sum();
        println!("broker: {left} messages queued in {} topics", queues.len());
        report("broker", &broker, base_page);
        println!("index:  {} rows of sensor readings", rows.len());
        report("index ", &index, 2 << 20);
    }

    // Everything is freed: each slab keeps at most one empty page (the
    // spare) until it is trimmed, then the pages go back to their source, which
    // keeps a small reserve mapped and unmaps the rest.
    for (name, arena) in [("broker", &mut broker), ("index ", &mut index)] {
        let slab = arena.get_mut();
        let kept = slab.stats().capacity;
        let trimmed = slab.trim();
        let pages = slab.source();
        println!(
            "{name}: after freeing everything, {kept} bytes in its spare page; trim gave back {trimmed}; \
             the source has {} pages out and {} mapped (its reserve)",
            pages.pages_in_use(),
            pages.pages_mapped(),
        );
        print!("{name}: pages mapped over the run:");
        for kind in [PageKind::Base, PageKind::HugeTlb, PageKind::TransparentHuge] {
            print!(" {kind:?} {}", pages.total_mapped(kind));
        }
        println!();
    }
    Ok(())
}

/// Prints a subsystem's pages and its busiest classes.
fn report<S: rtarena::pages::PageSource>(name: &str, arena: &Arena<Slab<S>>, page_size: usize) {
    let stats = arena.stats();
    println!(
        "{name}: {} pages of {} KiB in use, {} objects, {} bytes in slots ({:.0}% of the pages)",
        stats.capacity / page_size,
        page_size >> 10,
        stats.live(),
        stats.in_use,
        100.0 * stats.in_use as f64 / stats.capacity as f64,
    );
    for class in (0..).map_while(|c| arena.class_stats(c)) {
        if class.live > 0 {
            println!(
                "{name}:   {:>5}-byte class: {:>5} objects on {} pages ({} slots each)",
                class.size, class.live, class.pages, class.slots_per_page
            );
        }
    }
}
