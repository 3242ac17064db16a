//! Guest mode: this test's own Rust code runs at guest ring 0 with its stack, heap and TLS,
//! and leaves guest mode transparently at its first host call or at memory the guest table
//! does not map yet. Runs on whichever backend this host's `/dev/kvm` is (on the software
//! one ring 0 is emulated: slow, but the same mechanism); CI also runs it inside
//! `ci/vm-x86_64` on the hardware backend.

#![cfg(target_arch = "x86_64")]

mod common;

use std::cell::Cell;

use common::*;
use platform_kvm::{GuestMode, current_ring};

thread_local! {
    static MARK: Cell<u64> = const { Cell::new(7) };
}

#[test]
fn code_runs_at_ring_0_until_its_first_host_call() {
    let Some(machine) = machine() else { return };
    let guest = GuestMode::new(&machine).expect("guest mode");
    let heap: Vec<u64> = (1..=100).collect();
    for round in 0..3u64 {
        let ((ring_in, sum, tls, pid, ring_after), exits) = guest
            .run(|| {
                let ring_in = current_ring();
                // Stack, heap and TLS, all at guest ring 0.
                let sum: u64 = heap.iter().sum::<u64>() + round;
                MARK.with(|m| m.set(m.get() + 1));
                let tls = MARK.with(Cell::get);
                // A host call: it leaves guest mode and runs natively.
                // SAFETY: getpid has no preconditions.
                let pid = unsafe { libc::getpid() };
                (ring_in, sum, tls, pid, current_ring())
            })
            .expect("run in guest mode");
        assert_eq!(ring_in, 0, "round {round}: entered guest ring 0");
        assert_eq!(sum, 5050 + round);
        assert_eq!(tls, 8 + round, "the thread's own TLS");
        assert_eq!(pid as u32, std::process::id(), "getpid ran on the host");
        assert_eq!(ring_after, 3, "back in host mode after the host call");
        assert!(exits >= 1, "the host call left guest mode");
    }
}

#[test]
fn memory_mapped_after_the_table_is_reached_through_the_host() {
    let Some(machine) = machine() else { return };
    let guest = GuestMode::new(&machine).expect("guest mode");
    // A mapping the guest table has never seen: touching it in guest mode faults there, and
    // the access is retried on the host.
    let len = 1 << 20;
    // At an address nothing else uses: a mapping at an address the kernel picks could reuse
    // a range another test thread unmapped after the table was built, still in the table.
    let hint = 0x5a5a_0000_0000_usize as *mut libc::c_void;
    // SAFETY: a fresh private anonymous mapping where nothing is (NOREPLACE), unmapped below.
    let p = unsafe {
        libc::mmap(
            hint,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    assert_eq!(p, hint, "the address was free");
    let cell = p.cast::<u64>();
    let ((ring_before, ring_after), exits) = guest
        .run(|| {
            let before = current_ring();
            // SAFETY: `cell` points into the mapping above, alive until munmap below.
            unsafe { cell.write_volatile(0x5eed) };
            (before, current_ring())
        })
        .expect("run in guest mode");
    assert_eq!((ring_before, ring_after), (0, 3));
    assert_eq!(exits, 1, "one exit: the fault");
    // SAFETY: as above.
    assert_eq!(unsafe { cell.read_volatile() }, 0x5eed);

    // Once refreshed, the same access stays in guest mode.
    guest.refresh().expect("refresh");
    let (ring, exits) = guest
        .run(|| {
            // SAFETY: as above.
            unsafe { cell.write_volatile(0xfeed) };
            current_ring()
        })
        .expect("run in guest mode");
    assert_eq!(ring, 0, "the store ran at ring 0");
    assert_eq!(exits, 1, "only the final leave");
    // SAFETY: as above; then the mapping goes.
    unsafe {
        assert_eq!(cell.read_volatile(), 0xfeed);
        libc::munmap(p, len);
    }
}

static SIGNALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_sentry_signal(_: libc::c_int) {
    SIGNALLED.store(true, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn a_signal_reaches_a_thread_spinning_in_guest_mode() {
    use std::sync::atomic::Ordering;
    let Some(machine) = machine() else { return };
    let guest = GuestMode::new(&machine).expect("guest mode");
    // SAFETY: installs a handler that only stores to an atomic.
    unsafe {
        libc::signal(
            libc::SIGUSR2,
            on_sentry_signal as *const () as libc::sighandler_t,
        )
    };
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let sender = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        // SAFETY: signals this test's own thread.
        unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGUSR2) };
    });
    let started = std::time::Instant::now();
    let ((ring_in, ring_out), _) = guest
        .run(|| {
            let ring_in = current_ring();
            // No host call in the loop: only the signal can end guest mode.
            while !SIGNALLED.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            (ring_in, current_ring())
        })
        .expect("run in guest mode");
    sender.join().expect("sender");
    assert_eq!(ring_in, 0);
    assert_eq!(ring_out, 3, "the signal took the thread out of guest mode");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "handled promptly"
    );
}

#[test]
fn vector_registers_survive_leaving_guest_mode() {
    let Some(machine) = machine() else { return };
    let guest = GuestMode::new(&machine).expect("guest mode");
    for value in [0x0123_4567_89ab_cdef_u64, 0xfeed_face_cafe_beef] {
        let ((ring_in, kept, ring_out), _) = guest
            .run(|| {
                let ring_in = current_ring();
                let kept: u64;
                // xmm7 is set at guest ring 0 and read back after a `syscall`, which leaves
                // guest mode and runs again on the host in between.
                // SAFETY: getpid through a raw syscall; the clobbers are declared.
                unsafe {
                    core::arch::asm!(
                        "movq xmm7, {v}",
                        "syscall",
                        "movq {k}, xmm7",
                        v = in(reg) value,
                        k = out(reg) kept,
                        inout("rax") libc::SYS_getpid => _,
                        out("rcx") _,
                        out("r11") _,
                        out("xmm7") _,
                    );
                }
                (ring_in, kept, current_ring())
            })
            .expect("run in guest mode");
        assert_eq!((ring_in, ring_out), (0, 3));
        assert_eq!(kept, value, "xmm7 came back from the guest");
    }
}

#[test]
fn application_syscalls_come_back_to_guest_mode_without_exits() {
    use platform_kvm::{AddressSpace, Backend, ExitReason, GuestFpu, Trap};
    let Some(machine) = machine() else { return };
    let guest = GuestMode::new(&machine).expect("guest mode");
    let frames = Frames::new();
    let space = AddressSpace::new(&machine).unwrap();
    load_code(&machine, &frames, &space, snippets::syscalls());
    const N: u64 = 100_000;
    let mut regs = regs_at(CODE);
    regs.r13 = N;
    let mut fpu = GuestFpu::new();
    let before = machine.exit_stats();
    let (outcome, _) = guest
        .run(|| -> Result<(u64, Option<String>), platform_kvm::Error> {
            let mut wrong = None;
            let mut rings_seen_in_sentry = 0;
            for i in 0..=N {
                let trap = guest.switch(&mut regs, &mut fpu, &space)?;
                if current_ring() == 0 {
                    rings_seen_in_sentry += 1;
                }
                let args = [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9];
                if i < N
                    && wrong.is_none()
                    && (trap != Trap::Syscall
                        || regs.orig_rax != i
                        || args != [2 * i, 3 * i, 4, 5, 6, 7])
                {
                    wrong = Some(format!("syscall {i}: {trap:?} {} {args:?}", regs.orig_rax));
                }
                // The application checks that it gets exactly this back.
                regs.rax = i ^ 0x5555;
            }
            Ok((rings_seen_in_sentry, wrong))
        })
        .expect("run in guest mode");
    if machine.backend() == Backend::Software {
        // Ring 0 is only emulated there: applications run through `Context` instead.
        let err = outcome.expect_err("the software backend refuses");
        assert!(err.to_string().contains("hardware backend only"), "{err}");
        return;
    }
    let (in_guest, wrong) = outcome.expect("switches");
    assert_eq!(wrong, None);
    assert_eq!(
        regs.orig_rax,
        snippets::DONE,
        "the application saw every result"
    );
    let exits = machine.exit_stats().since(&before);
    println!("{} syscalls from guest mode: {exits}", N + 1);
    assert!(
        in_guest > N / 2,
        "the sentry handled them at ring 0 ({in_guest})"
    );
    assert!(exits.total() < 10, "no exit per syscall: {exits}");
    assert_eq!(exits.get(ExitReason::Other), 0);
}

/// Applications on the hardware backend; on the software one, the refusal.
fn hardware_or_refused<T: std::fmt::Debug>(
    machine: &platform_kvm::Machine,
    outcome: Result<T, platform_kvm::Error>,
) -> Option<T> {
    if machine.backend() == platform_kvm::Backend::Software {
        let err = outcome.expect_err("the software backend refuses");
        assert!(err.to_string().contains("hardware backend only"), "{err}");
        return None;
    }
    Some(outcome.expect("switches"))
}

#[test]
fn application_and_sentry_vector_registers_stay_apart() {
    use platform_kvm::{AddressSpace, GuestFpu, Trap};
    let Some(machine) = machine() else { return };
    let guest = GuestMode::new(&machine).expect("guest mode");
    let frames = Frames::new();
    let space = AddressSpace::new(&machine).unwrap();
    load_code(&machine, &frames, &space, snippets::fpu());
    let values = [0x1111_2222_3333_4444_u64, 0x5555_6666_7777_8888];
    let mut apps: Vec<_> = values
        .iter()
        .map(|&v| {
            let mut regs = regs_at(CODE);
            regs.rdi = v;
            (regs, GuestFpu::new())
        })
        .collect();
    let (outcome, _) = guest
        .run(|| -> Result<Vec<(Trap, u64, u64)>, platform_kvm::Error> {
            let mut seen = Vec::new();
            // Each application loads its value into xmm0 and stops at a syscall; the sentry
            // then fills xmm0 with its own value before the other runs.
            for (regs, fpu) in apps.iter_mut() {
                seen.push((guest.switch(regs, fpu, &space)?, regs.orig_rax, 0));
                // SAFETY: writes a vector register the asm block declares clobbered.
                unsafe { core::arch::asm!("movq xmm0, {}", in(reg) 0xdead_u64, out("xmm0") _) };
            }
            for (regs, fpu) in apps.iter_mut().rev() {
                let trap = guest.switch(regs, fpu, &space)?;
                seen.push((trap, regs.orig_rax, regs.rdi));
                // SAFETY: as above.
                unsafe { core::arch::asm!("movq xmm0, {}", in(reg) 0xbeef_u64, out("xmm0") _) };
            }
            Ok(seen)
        })
        .expect("run in guest mode");
    let Some(seen) = hardware_or_refused(&machine, outcome) else {
        return;
    };
    assert_eq!(seen[0].0, Trap::Syscall);
    assert_eq!(seen[1].0, Trap::Syscall);
    // Second round, in reverse order: each got its own xmm0 back.
    assert_eq!(seen[2], (Trap::Syscall, snippets::DONE, values[1]));
    assert_eq!(seen[3], (Trap::Syscall, snippets::DONE, values[0]));
}

#[test]
fn application_avx_state_survives_the_sentry_in_both_modes() {
    use platform_kvm::{AddressSpace, GuestFpu, Trap};
    if !std::arch::is_x86_feature_detected!("avx") {
        println!("skipped: this CPU has no AVX");
        return;
    }
    let Some(machine) = machine() else { return };
    let guest = GuestMode::new(&machine).expect("guest mode");
    let frames = Frames::new();
    let space = AddressSpace::new(&machine).unwrap();
    load_code(&machine, &frames, &space, snippets::avx());
    let value = 0x0123_4567_89ab_cdef_u64;
    let (outcome, _) = guest
        .run(
            || -> Result<Vec<(Trap, u64, u64, u16)>, platform_kvm::Error> {
                let mut seen = Vec::new();
                // The application puts `value` in ymm3's upper half and stops at a syscall; the
                // sentry clobbers ymm3 (and, the second time, makes a host call, so the next
                // switch starts from host mode), and the application reports what it has.
                for leave in [false, true] {
                    let mut regs = regs_at(CODE);
                    regs.rdi = value;
                    let mut fpu = GuestFpu::new();
                    guest.switch(&mut regs, &mut fpu, &space)?;
                    // SAFETY: AVX is there (checked above); ymm3 is declared clobbered.
                    unsafe { core::arch::asm!("vpcmpeqb ymm3, ymm3, ymm3", out("ymm3") _) };
                    if leave {
                        // SAFETY: getppid has no arguments and no side effects.
                        unsafe { libc::syscall(libc::SYS_getppid) };
                    }
                    let ring = current_ring();
                    let trap = guest.switch(&mut regs, &mut fpu, &space)?;
                    seen.push((trap, regs.orig_rax, regs.rdi, ring));
                }
                Ok(seen)
            },
        )
        .expect("run in guest mode");
    let Some(seen) = hardware_or_refused(&machine, outcome) else {
        return;
    };
    assert_eq!(seen[0], (Trap::Syscall, snippets::DONE, value, 0));
    assert_eq!(seen[1], (Trap::Syscall, snippets::DONE, value, 3));
}

static SIGNALLED_APP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_app_signal(_: libc::c_int) {
    SIGNALLED_APP.store(true, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn a_signal_interrupts_an_application_run_from_guest_mode() {
    use platform_kvm::{AddressSpace, GuestFpu, Trap};
    use std::sync::atomic::Ordering;
    let Some(machine) = machine() else { return };
    let guest = GuestMode::new(&machine).expect("guest mode");
    let frames = Frames::new();
    let space = AddressSpace::new(&machine).unwrap();
    load_code(&machine, &frames, &space, snippets::spin());
    // SAFETY: installs a handler that only stores to an atomic.
    unsafe {
        libc::signal(
            libc::SIGUSR1,
            on_app_signal as *const () as libc::sighandler_t,
        )
    };
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let mut regs = regs_at(CODE);
    let mut fpu = GuestFpu::new();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let sent = std::time::Instant::now();
        // SAFETY: signals this test's own thread.
        unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGUSR1) };
        sent
    });
    let (outcome, _) = guest
        .run(|| guest.switch(&mut regs, &mut fpu, &space))
        .expect("run in guest mode");
    let back = std::time::Instant::now();
    let sent = sender.join().expect("sender");
    let Some(trap) = hardware_or_refused(&machine, outcome) else {
        return;
    };
    assert_eq!(trap, Trap::Interrupted);
    assert!(SIGNALLED_APP.load(Ordering::SeqCst), "the handler ran");
    let latency = back.saturating_duration_since(sent);
    println!("tgkill to Trap::Interrupted: {latency:?}");
    assert!(
        latency < std::time::Duration::from_secs(1),
        "interrupted within 1 s ({latency:?})"
    );
    // The application was stopped inside its loop, with its counter going.
    assert!((CODE..CODE + 16).contains(&regs.rip), "rip {:#x}", regs.rip);
    assert!(regs.rbx > 0, "it ran");
}

#[test]
fn four_threads_run_applications_from_guest_mode_concurrently() {
    use platform_kvm::{AddressSpace, GuestFpu, Trap};
    let Some(machine) = machine() else { return };
    let guest = GuestMode::new(&machine).expect("guest mode");
    const N: u64 = 100_000;
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (machine, guest) = (machine.clone(), guest.clone());
            std::thread::spawn(move || {
                let frames = Frames::new();
                let space = AddressSpace::new(&machine).unwrap();
                load_code(&machine, &frames, &space, snippets::syscalls());
                let mut regs = regs_at(CODE);
                regs.r13 = N;
                let mut fpu = GuestFpu::new();
                let (outcome, _) = guest
                    .run(|| -> Result<u64, platform_kvm::Error> {
                        let mut wrong = 0;
                        for i in 0..=N {
                            let trap = guest.switch(&mut regs, &mut fpu, &space)?;
                            if i < N && (trap != Trap::Syscall || regs.orig_rax != i) {
                                wrong += 1;
                            }
                            regs.rax = i ^ 0x5555;
                        }
                        Ok(wrong)
                    })
                    .expect("run in guest mode");
                (t, outcome, regs.orig_rax)
            })
        })
        .collect();
    for handle in threads {
        let (t, outcome, last) = handle.join().expect("thread");
        let Some(wrong) = hardware_or_refused(&machine, outcome) else {
            continue;
        };
        assert_eq!(wrong, 0, "thread {t}: every result was right");
        assert_eq!(
            last,
            snippets::DONE,
            "thread {t}: its application saw every result"
        );
    }
}

#[test]
fn more_threads_than_vcpus_all_progress_while_some_wait() {
    use platform_kvm::{AddressSpace, GuestFpu, Trap};
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::{Duration, Instant};
    // Two vCPUs, six threads: each runs its application from guest mode, then waits until
    // all six got there, then runs it again. A thread waiting on the host must not keep a
    // vCPU, or the last ones could never arrive.
    let Some(machine) = machine_with(2) else {
        return;
    };
    let guest = GuestMode::new(&machine).expect("guest mode");
    const THREADS: usize = 6;
    const N: u64 = 2_000;
    let arrived = Arc::new((Mutex::new(0usize), Condvar::new()));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (machine, guest, arrived) = (machine.clone(), guest.clone(), arrived.clone());
            std::thread::spawn(move || {
                let frames = Frames::new();
                let space = AddressSpace::new(&machine).unwrap();
                load_code(&machine, &frames, &space, snippets::syscalls());
                let mut regs = regs_at(CODE);
                regs.r13 = 2 * N;
                let mut fpu = GuestFpu::new();
                let (outcome, _) = guest
                    .run(|| -> Result<(u64, bool), platform_kvm::Error> {
                        let mut wrong = 0;
                        let mut all_arrived = true;
                        for i in 0..=2 * N {
                            if i == N {
                                let (count, cv) = &*arrived;
                                let mut n = count.lock().unwrap();
                                *n += 1;
                                cv.notify_all();
                                let deadline = Instant::now() + Duration::from_secs(60);
                                while *n < THREADS && Instant::now() < deadline {
                                    n = cv.wait_timeout(n, Duration::from_secs(1)).unwrap().0;
                                }
                                all_arrived = *n == THREADS;
                            }
                            // Taken off its vCPU for a waiter: switch again, as the sentry does.
                            let trap = loop {
                                match guest.switch(&mut regs, &mut fpu, &space)? {
                                    Trap::Interrupted => continue,
                                    trap => break trap,
                                }
                            };
                            if i < 2 * N && (trap != Trap::Syscall || regs.orig_rax != i) {
                                wrong += 1;
                            }
                            regs.rax = i ^ 0x5555;
                        }
                        Ok((wrong, all_arrived))
                    })
                    .expect("run in guest mode");
                (t, outcome, regs.orig_rax)
            })
        })
        .collect();
    for handle in threads {
        let (t, outcome, last) = handle.join().expect("thread");
        let Some((wrong, all_arrived)) = hardware_or_refused(&machine, outcome) else {
            continue;
        };
        assert!(all_arrived, "thread {t}: the others never arrived");
        assert_eq!(wrong, 0, "thread {t}: every result was right");
        assert_eq!(
            last,
            snippets::DONE,
            "thread {t}: its application saw every result"
        );
    }
}

#[test]
fn the_sentry_reads_the_clock_allocates_and_writes_a_pipe_in_guest_mode() {
    use std::time::{Instant, SystemTime};
    let Some(machine) = machine() else { return };
    let guest = GuestMode::new(&machine).expect("guest mode");
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    const BIG: usize = 64 << 20;
    for round in 0..2 {
        let (mono0, real0) = (Instant::now(), SystemTime::now());
        let ((ring_before, ring_after, mono, real, sum, written, mono2), _) = guest
            .run(|| {
                let ring_before = current_ring();
                // Through the vDSO: at ring 0 where the vCPU reads the host's TSC and the
                // host's clock source is the TSC, else through a host call.
                let (mono, real) = (Instant::now(), SystemTime::now());
                let ring_after = current_ring();
                let mut big = vec![0u8; BIG];
                for i in (0..BIG).step_by(4096) {
                    big[i] = (i >> 12) as u8;
                }
                let sum: u64 = big.iter().map(|&b| u64::from(b)).sum();
                // SAFETY: writes 5 bytes of a static string to the pipe's write end.
                let written = unsafe { libc::write(fds[1], c"guest".as_ptr().cast(), 5) };
                (
                    ring_before,
                    ring_after,
                    mono,
                    real,
                    sum,
                    written,
                    Instant::now(),
                )
            })
            .expect("run in guest mode");
        let (mono1, real1) = (Instant::now(), SystemTime::now());
        println!(
            "round {round}: clock read at ring {ring_before}, ring {ring_after} after it \
             (host clock source: {})",
            std::fs::read_to_string(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource"
            )
            .unwrap_or_default()
            .trim()
        );
        assert_eq!(ring_before, 0, "round {round}: entered guest ring 0");
        assert!(
            mono0 <= mono && mono <= mono2 && mono2 <= mono1,
            "monotonic time from guest mode within the host's"
        );
        assert!(
            real0 <= real && real <= real1,
            "real time within the host's"
        );
        let expected: u64 = (0..BIG)
            .step_by(4096)
            .map(|i| ((i >> 12) as u8) as u64)
            .sum();
        assert_eq!(
            sum, expected,
            "the 64 MiB allocation holds what was written"
        );
        assert_eq!(written, 5);
        let mut buf = [0u8; 5];
        // SAFETY: reads at most 5 bytes into `buf`.
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), 5) };
        assert_eq!(
            (n, &buf),
            (5, b"guest"),
            "the pipe carries what guest mode wrote"
        );
    }
    // SAFETY: closes the two descriptors this test opened.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
}

#[test]
fn isolation_and_exceptions_hold_for_applications_run_from_guest_mode() {
    use platform_kvm::{AddressSpace, GuestFpu, Perms, Trap};
    use ring0::trap::Access;
    use ring0::x86_64::layout::{GUEST_CODE_VA, GUEST_IDT_VA, per_cpu_va};
    let Some(machine) = machine() else { return };
    let guest = GuestMode::new(&machine).expect("guest mode");
    let on_stack = 0x5a5a_u64;
    let on_heap = Box::new([0x6b6b_u64; 512]);
    let text = hardware_or_refused::<()> as *const () as u64;
    // What the application must not reach: the sentry's own memory (mapped in the kernel
    // table guest mode runs on) and the guest-mode entry area (present, supervisor-only).
    let targets = [
        ("stack", std::ptr::from_ref(&on_stack) as u64),
        ("heap", on_heap.as_ptr() as u64),
        ("text", text),
        ("guest-mode IDT", GUEST_IDT_VA),
        ("guest-mode entry code", GUEST_CODE_VA),
        ("per-CPU page", per_cpu_va(0)),
    ];
    let frames = Frames::new();
    let touch = AddressSpace::new(&machine).unwrap();
    load_code(&machine, &frames, &touch, snippets::touch());
    data_page(
        &machine,
        &frames,
        &touch,
        DATA,
        Perms::READ | Perms::WRITE,
        9,
    );
    let ro = DATA + PAGE;
    data_page(&machine, &frames, &touch, ro, Perms::READ, 0);
    let div0 = snippets::div0();
    let exceptions: [(&str, &[u8], u8, u64); 6] = [
        ("divide by zero", div0, 0, CODE + div0.len() as u64 - 2),
        ("ud2", snippets::ud2(), 6, CODE),
        ("int3", snippets::int3(), 3, CODE + 1),
        ("hlt", snippets::hlt(), 13, CODE),
        ("cli", snippets::cli(), 13, CODE),
        ("mov cr3", snippets::mov_cr3(), 13, CODE),
    ];
    let spaces: Vec<_> = exceptions
        .iter()
        .map(|(_, code, ..)| {
            let space = AddressSpace::new(&machine).unwrap();
            load_code(&machine, &frames, &space, code);
            space
        })
        .collect();
    let (outcome, _) = guest
        .run(
            || -> Result<Vec<(String, Trap, u64)>, platform_kvm::Error> {
                let mut fpu = GuestFpu::new();
                let mut seen = Vec::new();
                for (what, addr) in targets {
                    let mut regs = regs_at(CODE);
                    (regs.rdi, regs.rsi) = (addr, DATA);
                    let trap = guest.switch(&mut regs, &mut fpu, &touch)?;
                    seen.push((format!("read {what}"), trap, addr));
                    let mut regs = regs_at(CODE);
                    (regs.rdi, regs.rsi) = (DATA, addr);
                    let trap = guest.switch(&mut regs, &mut fpu, &touch)?;
                    seen.push((format!("write {what}"), trap, addr));
                }
                let mut regs = regs_at(CODE);
                (regs.rdi, regs.rsi) = (DATA, ro + 8);
                let trap = guest.switch(&mut regs, &mut fpu, &touch)?;
                seen.push(("write read-only".into(), trap, regs.rax));
                for ((what, ..), space) in exceptions.iter().zip(&spaces) {
                    let mut regs = regs_at(CODE);
                    let trap = guest.switch(&mut regs, &mut fpu, space)?;
                    seen.push((what.to_string(), trap, regs.rip));
                }
                Ok(seen)
            },
        )
        .expect("run in guest mode");
    let Some(seen) = hardware_or_refused(&machine, outcome) else {
        return;
    };
    let mut seen = seen.into_iter();
    for (what, addr) in targets {
        for access in [Access::Read, Access::Write] {
            let (case, trap, at) = seen.next().expect("a result per case");
            assert_eq!(at, addr);
            assert!(
                matches!(trap, Trap::Fault { addr: a, access: x, .. } if a == addr && x == access),
                "{case} ({what}) at {addr:#x}: {trap:?}"
            );
        }
    }
    let (_, trap, rax) = seen.next().expect("read-only case");
    assert_eq!(
        trap,
        Trap::Fault {
            addr: ro + 8,
            access: Access::Write,
            present: true
        }
    );
    assert_eq!(rax, 9, "the read before the write completed");
    for (what, _, vector, rip) in exceptions {
        let (case, trap, at) = seen.next().expect("an exception per case");
        assert_eq!(case, what);
        assert_eq!(trap, Trap::Exception { vector, code: 0 }, "{what}");
        assert_eq!(at, rip, "{what}: rip");
    }
    assert_eq!(on_stack, 0x5a5a);
    assert!(on_heap.iter().all(|&w| w == 0x6b6b));
}

#[test]
fn spinning_applications_share_one_vcpu_in_both_modes() {
    use platform_kvm::{AddressSpace, Context, GuestFpu, Perms, Trap};
    use std::sync::mpsc;
    use std::time::Duration;
    // One vCPU, three applications that each count in and then spin until all three have:
    // only taking the vCPU back from a spinning holder lets the others in.
    let Some(machine) = machine_with(1) else {
        return;
    };
    let guest = GuestMode::new(&machine).expect("guest mode");
    let frames = Frames::new();
    const THREADS: u64 = 3;
    for in_guest_mode in [false, true] {
        let counter = frames.alloc(1);
        machine
            .memory()
            .write(counter, &0u64.to_le_bytes())
            .unwrap();
        let (tx, rx) = mpsc::channel();
        for t in 0..THREADS {
            let space = AddressSpace::new(&machine).unwrap();
            load_code(&machine, &frames, &space, snippets::barrier());
            space
                .map(DATA, PAGE, counter, Perms::READ | Perms::WRITE)
                .unwrap();
            let (machine, guest, tx) = (machine.clone(), guest.clone(), tx.clone());
            std::thread::spawn(move || {
                let mut regs = regs_at(CODE);
                (regs.rdi, regs.rsi) = (DATA, THREADS);
                let result = if in_guest_mode {
                    let mut fpu = GuestFpu::new();
                    guest
                        .run(|| {
                            loop {
                                match guest.switch(&mut regs, &mut fpu, &space) {
                                    Ok(Trap::Interrupted) => continue,
                                    other => break other,
                                }
                            }
                        })
                        .map(|(r, _)| r)
                        .and_then(|r| r)
                } else {
                    let mut ctx = Context::new(&machine);
                    loop {
                        match ctx.switch(&mut regs, &space) {
                            Ok(Trap::Interrupted) => continue,
                            other => break other,
                        }
                    }
                };
                let _ = tx.send((t, result, regs.orig_rax));
            });
        }
        for _ in 0..THREADS {
            let (t, result, nr) = rx
                .recv_timeout(Duration::from_secs(120))
                .expect("every application finishes: a spinning one must not keep the only vCPU");
            let mode = if in_guest_mode {
                "guest"
            } else {
                "exit-per-trap"
            };
            if in_guest_mode {
                let Some(trap) = hardware_or_refused(&machine, result) else {
                    continue;
                };
                assert_eq!(
                    (trap, nr),
                    (Trap::Syscall, snippets::DONE),
                    "{mode} thread {t}"
                );
            } else {
                let trap = result.expect("switch");
                assert_eq!(
                    (trap, nr),
                    (Trap::Syscall, snippets::DONE),
                    "{mode} thread {t}"
                );
            }
        }
    }
}

#[test]
fn unmap_takes_other_threads_of_the_space_out_of_it_in_both_modes() {
    use platform_kvm::{AddressSpace, Context, Perms, Trap};
    use ring0::trap::Access;
    use std::sync::Arc;
    use std::time::Duration;
    // A thread reads a page in a loop without ever trapping, counting its reads in another
    // page; this thread unmaps the first. The reader's TLB may hold the old translation, so
    // the unmap must take it out of its application before returning (like a TLB
    // shoot-down): from then on the count stands still, and the reader's next run faults.
    let Some(machine) = machine() else { return };
    let guest = GuestMode::new(&machine).expect("guest mode");
    let frames = Frames::new();
    const COUNT: u64 = DATA + 0x10_0000;
    for in_guest_mode in [false, true] {
        let space = Arc::new(AddressSpace::new(&machine).unwrap());
        load_code(&machine, &frames, &space, snippets::read_loop());
        let rw = Perms::READ | Perms::WRITE;
        data_page(&machine, &frames, &space, DATA, rw, 5);
        let counter = data_page(&machine, &frames, &space, COUNT, rw, 0);
        let reader = {
            let (machine, guest, space) = (machine.clone(), guest.clone(), space.clone());
            std::thread::spawn(move || -> Result<Vec<Trap>, platform_kvm::Error> {
                let mut regs = regs_at(CODE);
                (regs.rdi, regs.rsi) = (DATA, COUNT);
                let mut seen = Vec::new();
                let mut step = |trap: Trap| {
                    seen.push(trap);
                    matches!(trap, Trap::Fault { .. }) || seen.len() > 1000
                };
                // Through a `Context`, as the sentry runs applications in both modes.
                let mut ctx = Context::new(&machine);
                if in_guest_mode {
                    guest
                        .run(|| -> Result<(), platform_kvm::Error> {
                            while !step(ctx.switch_in_guest(&guest, &mut regs, &space)?) {}
                            Ok(())
                        })?
                        .0?;
                } else {
                    while !step(ctx.switch(&mut regs, &space)?) {}
                }
                Ok(seen)
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        space.unmap(DATA, PAGE).unwrap();
        let count_at_unmap = read_word(&machine, counter);
        std::thread::sleep(Duration::from_millis(100));
        let count_after = read_word(&machine, counter);
        let outcome = reader.join().expect("reader");
        let mode = if in_guest_mode {
            "guest"
        } else {
            "exit-per-trap"
        };
        let seen = if in_guest_mode {
            let Some(seen) = hardware_or_refused(&machine, outcome) else {
                continue;
            };
            seen
        } else {
            outcome.expect("switches")
        };
        assert_eq!(
            seen.last(),
            Some(&Trap::Fault {
                addr: DATA,
                access: Access::Read,
                present: false
            }),
            "{mode}: {seen:?}"
        );
        assert!(count_at_unmap > 0, "{mode}: the reader ran");
        // One more count is the read the reader had done before the unmap, completed.
        assert!(
            count_after <= count_at_unmap + 1,
            "{mode}: the reader went on reading the unmapped page after the unmap returned \
             ({count_at_unmap} then {count_after})"
        );
    }
}
