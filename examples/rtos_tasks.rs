//! Per-task heaps with budgets, RTOS style (the tasks are threads here):
//! each task owns an `Arena<Slab<Budget>>` that draws 4 KiB pages from one
//! shared pool up to its own cap, and the tasks pass each other messages
//! allocated from one `SyncArena` they all share. The logger deliberately
//! buffers more than its 2-page budget holds: it gets `Err`, flushes, and
//! carries on, while the other tasks never notice.
//!
//! Run with `cargo run --release --example rtos_tasks`.

use std::mem::MaybeUninit;
use std::sync::mpsc;
use std::thread;

use rtarena::allocator_api2::boxed::Box;
use rtarena::allocator_api2::vec::Vec;
use rtarena::pages::{Budget, PoolPages, SharedPages};
use rtarena::{Arena, Heap, Slab, SyncArena};

/// A spin lock stands in for the RTOS's mutex (or `CriticalSectionLock`).
type Spin = spin::Mutex<()>;
type Messages = SyncArena<Heap<'static>, Spin>;
/// A message in the shared message heap.
type Mail<'m> = Box<Message, &'m Messages>;
type TaskPages<'a> = Budget<'a, PoolPages<'static>, Spin>;

const PAGE: usize = 4096;

/// What the tasks send each other, from the shared message heap.
struct Message {
    from: &'static str,
    summary: [f32; 8],
}

fn main() {
    // Memory the firmware owns: 64 pages for the tasks, 64 KiB for messages.
    let task_memory =
        std::boxed::Box::leak(vec![MaybeUninit::uninit(); 64 * PAGE].into_boxed_slice());
    let message_memory =
        std::boxed::Box::leak(vec![MaybeUninit::uninit(); 64 << 10].into_boxed_slice());
    let pages: SharedPages<PoolPages, Spin> =
        SharedPages::new(PoolPages::new(task_memory, PAGE).expect("task pool"));
    let messages: Messages = SyncArena::new(Heap::new(message_memory).expect("message pool"));
    let messages = &messages;

    let (to_control, control_inbox) = mpsc::channel::<Mail>();
    let (to_logger, logger_inbox) = mpsc::channel::<Mail>();
    let reports = thread::scope(|scope| {
        let mut tasks = std::vec::Vec::new();
        for name in ["sensor-a", "sensor-b"] {
            let (budget, to_control) = (pages.budget(8), to_control.clone());
            tasks.push(scope.spawn(move || sensor(name, budget, to_control, messages)));
        }
        drop(to_control);
        let budget = pages.budget(8);
        tasks.push(scope.spawn(move || control(budget, control_inbox, to_logger, messages)));
        let budget = pages.budget(2);
        tasks.push(scope.spawn(move || logger(budget, logger_inbox)));
        tasks
            .into_iter()
            .map(|task| task.join().expect("task"))
            .collect::<std::vec::Vec<_>>()
    });
    for report in reports {
        println!("{report}");
    }
    let m = messages.stats();
    println!(
        "messages: {} allocated from the shared SyncArena, {} live at the end, peak {} bytes of its pool",
        m.allocations,
        m.live(),
        m.peak_in_use
    );
}

/// Reads a batch into its own heap, sends a summary to control.
fn sensor<'m>(
    name: &'static str,
    pages: TaskPages,
    to_control: mpsc::Sender<Mail<'m>>,
    messages: &'m Messages,
) -> String {
    let heap = Arena::new(Slab::new(pages).expect("slab"));
    for batch in 0..500 {
        let mut readings: Vec<f32, _> = Vec::with_capacity_in(64, &heap);
        readings.extend((0..64).map(|i| (batch * 64 + i) as f32));
        let mut summary = [0.0; 8];
        for (sum, chunk) in summary.iter_mut().zip(readings.chunks(8)) {
            *sum = chunk.iter().sum();
        }
        let message = Box::new_in(
            Message {
                from: name,
                summary,
            },
            messages,
        );
        to_control.send(message).expect("control listens");
    }
    report(name, &heap, "")
}

/// Keeps a window of totals in its own heap, forwards every tenth message.
fn control<'m>(
    pages: TaskPages,
    inbox: mpsc::Receiver<Mail<'m>>,
    to_logger: mpsc::Sender<Mail<'m>>,
    messages: &'m Messages,
) -> String {
    let heap = Arena::new(Slab::new(pages).expect("slab"));
    let mut window: Vec<f32, _> = Vec::with_capacity_in(64, &heap);
    let mut received = 0;
    for message in inbox {
        if window.len() == 64 {
            window.remove(0);
        }
        window.push(message.summary.iter().sum());
        received += 1;
        if received % 10 == 0 {
            let note = Message {
                from: message.from,
                summary: message.summary,
            };
            to_logger
                .send(Box::new_in(note, messages))
                .expect("logger listens");
        }
    }
    report("control", &heap, &format!(", {received} messages received"))
}

/// Buffers a 256-byte record per message in its own 2-page heap; when the
/// budget runs out, it flushes the buffer and goes on.
fn logger(pages: TaskPages, inbox: mpsc::Receiver<Mail>) -> String {
    let heap = Arena::new(Slab::new(pages).expect("slab"));
    let mut buffer = std::vec::Vec::new();
    let (mut flushes, mut records) = (0, 0);
    for message in inbox {
        for part in 0..4u8 {
            let record = [message.summary[0] as u8 ^ part; 256];
            match Box::try_new_in(record, &heap) {
                Ok(line) => buffer.push(line),
                Err(_) => {
                    // Out of budget: write the buffer out, then retry.
                    records += buffer.len();
                    buffer.clear();
                    flushes += 1;
                    buffer.push(Box::try_new_in(record, &heap).expect("room after a flush"));
                }
            }
        }
    }
    records += buffer.len();
    drop(buffer);
    report(
        "logger",
        &heap,
        &format!(", {records} records in {flushes} flushes"),
    )
}

fn report<S: rtarena::pages::PageSource>(name: &str, heap: &Arena<Slab<S>>, extra: &str) -> String {
    let s = heap.stats();
    format!(
        "{name:>9}: peak {} pages, {} allocations, {} failed (handled){extra}",
        s.peak_in_use / PAGE,
        s.allocations,
        s.failures
    )
}
