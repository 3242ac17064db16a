//! Application code at guest ring 3: syscalls, faults, exceptions, isolation, address
//! spaces, threads and interrupts. Runs on whichever backend this host's `/dev/kvm` is (the
//! software one on our machines; the hardware one inside `ci/vm-x86_64`).

#![cfg(target_arch = "x86_64")]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use platform_kvm::{
    Access, AddressSpace, Context, Error, ExitReason, Machine, MachineConfig, Perms, Trap,
};

#[test]
fn ten_thousand_syscalls_trap_with_number_and_arguments() {
    let Some(machine) = machine() else { return };
    let frames = Frames::new();
    let space = AddressSpace::new(&machine).unwrap();
    load_code(&machine, &frames, &space, snippets::syscalls());
    let mut ctx = Context::new(&machine);
    const N: u64 = 10_000;
    let mut regs = regs_at(CODE);
    regs.r13 = N;
    let before = machine.exit_stats();
    for i in 0..N {
        let trap = ctx.switch(&mut regs, &space).unwrap();
        assert_eq!(trap, Trap::Syscall, "syscall {i} at rip {:#x}", regs.rip);
        assert_eq!(regs.orig_rax, i);
        assert_eq!(
            [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9],
            [2 * i, 3 * i, 4, 5, 6, 7]
        );
        // The code checks it sees exactly this and executes ud2 otherwise.
        regs.rax = i ^ 0x5555;
    }
    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
    assert_eq!(
        regs.orig_rax,
        snippets::DONE,
        "the code saw every return value"
    );
    let exits = machine.exit_stats().since(&before);
    println!("{} on the {} backend: {exits}", N + 1, machine.backend());
    assert_eq!(exits.get(ExitReason::Other), 0);
    // This mode takes exactly one exit per trap.
    assert_eq!(exits.total(), N + 1);
}

#[test]
fn page_faults_report_address_and_access_and_resume_after_map() {
    let Some(machine) = machine() else { return };
    let frames = Frames::new();
    let space = AddressSpace::new(&machine).unwrap();
    load_code(&machine, &frames, &space, snippets::touch());
    let done_at = CODE + 0x1000;
    let done = frames.alloc(1);
    machine.memory().write(done, snippets::done()).unwrap();
    space
        .map(done_at, PAGE, done, Perms::READ | Perms::EXECUTE)
        .unwrap();
    let src = DATA + 0x1_0000 + 0x28; // unaligned inside the page on purpose
    let dst = DATA + 0x2_0000;
    let dst_offset = data_page(
        &machine,
        &frames,
        &space,
        dst,
        Perms::READ | Perms::WRITE,
        0,
    );
    let mut ctx = Context::new(&machine);
    let mut regs = regs_at(CODE);
    (regs.rdi, regs.rsi, regs.rdx) = (src, dst, done_at);

    let trap = ctx.switch(&mut regs, &space).unwrap();
    assert_eq!(
        trap,
        Trap::Fault {
            addr: src,
            access: Access::Read,
            present: false
        }
    );
    assert_eq!(regs.rip, CODE, "the faulting instruction is retried");

    let src_offset = frames.alloc(1);
    machine
        .memory()
        .write(src_offset + 0x28, &0xfeed_f00d_u64.to_le_bytes())
        .unwrap();
    space
        .map(src & !0xfff, PAGE, src_offset, Perms::READ)
        .unwrap();
    run_to_done(&mut ctx, &mut regs, &space);
    assert_eq!(read_word(&machine, dst_offset), 0xfeed_f00d);
}

#[test]
fn write_to_read_only_faults_as_write() {
    let Some(machine) = machine() else { return };
    let frames = Frames::new();
    let space = AddressSpace::new(&machine).unwrap();
    load_code(&machine, &frames, &space, snippets::touch());
    data_page(&machine, &frames, &space, DATA, Perms::READ, 7);
    let ro = DATA + PAGE;
    data_page(&machine, &frames, &space, ro, Perms::READ, 0);
    let mut ctx = Context::new(&machine);
    let mut regs = regs_at(CODE);
    (regs.rdi, regs.rsi) = (DATA, ro + 8);
    let trap = ctx.switch(&mut regs, &space).unwrap();
    assert_eq!(
        trap,
        Trap::Fault {
            addr: ro + 8,
            access: Access::Write,
            present: true
        }
    );
    assert_eq!(regs.rax, 7, "the read before it completed");
    // mprotect-style upgrade, then the write goes through.
    space.protect(ro, PAGE, Perms::READ | Perms::WRITE).unwrap();
    regs.rdx = 0; // jumping to 0 afterwards faults as an instruction fetch
    let trap = ctx.switch(&mut regs, &space).unwrap();
    assert_eq!(
        trap,
        Trap::Fault {
            addr: 0,
            access: Access::Execute,
            present: false
        }
    );
}

#[test]
fn executing_a_no_exec_page_faults_as_fetch() {
    let Some(machine) = machine() else { return };
    let frames = Frames::new();
    let space = AddressSpace::new(&machine).unwrap();
    load_code(&machine, &frames, &space, snippets::touch());
    data_page(
        &machine,
        &frames,
        &space,
        DATA,
        Perms::READ | Perms::WRITE,
        0,
    );
    // Valid code, but on a page mapped without execute permission.
    let nx = DATA + 0x10_0000;
    let offset = frames.alloc(1);
    machine.memory().write(offset, snippets::done()).unwrap();
    space
        .map(nx, PAGE, offset, Perms::READ | Perms::WRITE)
        .unwrap();
    let mut ctx = Context::new(&machine);
    let mut regs = regs_at(CODE);
    (regs.rdi, regs.rsi, regs.rdx) = (DATA, DATA + 8, nx);
    let trap = ctx.switch(&mut regs, &space).unwrap();
    assert_eq!(
        trap,
        Trap::Fault {
            addr: nx,
            access: Access::Execute,
            present: true
        }
    );
    assert_eq!(regs.rip, nx);
}

/// Run `code` from its start and return the first trap with the registers.
fn first_trap(machine: &Arc<Machine>, code: &[u8]) -> (Trap, u64) {
    let frames = Frames::new();
    let space = AddressSpace::new(machine).unwrap();
    load_code(machine, &frames, &space, code);
    let mut ctx = Context::new(machine);
    let mut regs = regs_at(CODE);
    let trap = ctx.switch(&mut regs, &space).unwrap();
    (trap, regs.rip)
}

#[test]
fn exceptions_come_back_with_vector_and_code() {
    let Some(machine) = machine() else { return };
    let div0 = snippets::div0();
    let cases: [(&str, &[u8], u8, u64, u64); 6] = [
        ("divide by zero", div0, 0, 0, CODE + div0.len() as u64 - 2),
        ("ud2", snippets::ud2(), 6, 0, CODE),
        // int3 is a trap: RIP is past it.
        ("int3", snippets::int3(), 3, 0, CODE + 1),
        ("hlt", snippets::hlt(), 13, 0, CODE),
        ("cli", snippets::cli(), 13, 0, CODE),
        ("mov cr3", snippets::mov_cr3(), 13, 0, CODE),
    ];
    let before = machine.exit_stats();
    for (what, code, vector, error, rip) in cases {
        let (trap, at) = first_trap(&machine, code);
        assert_eq!(
            trap,
            Trap::Exception {
                vector,
                code: error
            },
            "{what}"
        );
        assert_eq!(at, rip, "{what}: rip");
    }
    let exits = machine.exit_stats().since(&before);
    assert_eq!(
        exits.get(ExitReason::Other),
        0,
        "no exception escaped to the host as a failure"
    );
}

#[test]
fn application_cannot_reach_sentry_memory() {
    let Some(machine) = machine() else { return };
    let on_stack = 0x5a5a_u64;
    let on_heap = Box::new([0x6b6b_u64; 512]);
    let text = first_trap as fn(&Arc<Machine>, &[u8]) -> (Trap, u64) as usize as u64;
    let targets = [
        ("stack", std::ptr::from_ref(&on_stack) as u64),
        ("heap", on_heap.as_ptr() as u64),
        ("text", text),
        // The kernel's own upper-half pages are present but supervisor-only.
        ("IDT", ring0::x86_64::layout::IDT_VA),
        ("ring-0 stubs", ring0::x86_64::layout::CODE_VA),
    ];
    let frames = Frames::new();
    let space = AddressSpace::new(&machine).unwrap();
    load_code(&machine, &frames, &space, snippets::touch());
    data_page(
        &machine,
        &frames,
        &space,
        DATA,
        Perms::READ | Perms::WRITE,
        0,
    );
    let mut ctx = Context::new(&machine);
    for (what, addr) in targets {
        // Read.
        let mut regs = regs_at(CODE);
        (regs.rdi, regs.rsi) = (addr, DATA);
        let trap = ctx.switch(&mut regs, &space).unwrap();
        assert!(
            matches!(trap, Trap::Fault { addr: a, access: Access::Read, .. } if a == addr),
            "reading sentry {what} at {addr:#x}: {trap:?}"
        );
        // Write.
        let mut regs = regs_at(CODE);
        (regs.rdi, regs.rsi) = (DATA, addr);
        let trap = ctx.switch(&mut regs, &space).unwrap();
        assert!(
            matches!(trap, Trap::Fault { addr: a, access: Access::Write, .. } if a == addr),
            "writing sentry {what} at {addr:#x}: {trap:?}"
        );
    }
    assert_eq!(on_stack, 0x5a5a);
    assert!(on_heap.iter().all(|&w| w == 0x6b6b));
}

#[test]
fn two_address_spaces_see_their_own_data_and_unmap_is_not_stale() {
    let Some(machine) = machine() else { return };
    let frames = Frames::new();
    let spaces: Vec<(AddressSpace, u64)> = [0x1111_u64, 0x2222]
        .iter()
        .map(|&value| {
            let space = AddressSpace::new(&machine).unwrap();
            load_code(&machine, &frames, &space, snippets::touch());
            data_page(&machine, &frames, &space, DATA, Perms::READ, value);
            let out = data_page(
                &machine,
                &frames,
                &space,
                DATA + PAGE,
                Perms::READ | Perms::WRITE,
                0,
            );
            let done = frames.alloc(1);
            machine.memory().write(done, snippets::done()).unwrap();
            space
                .map(CODE + 0x1000, PAGE, done, Perms::READ | Perms::EXECUTE)
                .unwrap();
            (space, out)
        })
        .collect();
    let mut ctx = Context::new(&machine);
    // Runs `touch` (copy the word at DATA to the out page), and returns the trap and what
    // the application copied.
    let run = |ctx: &mut Context, (space, out): &(AddressSpace, u64)| {
        machine.memory().write(*out, &[0; 8]).unwrap();
        let mut regs = regs_at(CODE);
        (regs.rdi, regs.rsi, regs.rdx) = (DATA, DATA + PAGE, CODE + 0x1000);
        let trap = ctx.switch(&mut regs, space).unwrap();
        (trap, read_word(&machine, *out))
    };
    for round in 0..3 {
        for (i, space) in spaces.iter().enumerate() {
            let (trap, seen) = run(&mut ctx, space);
            assert_eq!(trap, Trap::Syscall, "round {round} space {i}");
            assert_eq!(
                seen,
                [0x1111, 0x2222][i],
                "round {round} space {i} saw its own page"
            );
        }
    }
    // The first space loses its data page; the second keeps its own.
    spaces[0].0.unmap(DATA, PAGE).unwrap();
    let (trap, _) = run(&mut ctx, &spaces[0]);
    assert_eq!(
        trap,
        Trap::Fault {
            addr: DATA,
            access: Access::Read,
            present: false
        }
    );
    assert_eq!(run(&mut ctx, &spaces[1]), (Trap::Syscall, 0x2222));
    // Remapping it elsewhere in the file is seen immediately too.
    let replacement = frames.alloc(1);
    machine
        .memory()
        .write(replacement, &0x3333_u64.to_le_bytes())
        .unwrap();
    spaces[0]
        .0
        .map(DATA, PAGE, replacement, Perms::READ)
        .unwrap();
    assert_eq!(run(&mut ctx, &spaces[0]), (Trap::Syscall, 0x3333));
    // And replacing a live mapping (no unmap in between) too.
    let again = frames.alloc(1);
    machine
        .memory()
        .write(again, &0x4444_u64.to_le_bytes())
        .unwrap();
    spaces[0].0.map(DATA, PAGE, again, Perms::READ).unwrap();
    assert_eq!(run(&mut ctx, &spaces[0]), (Trap::Syscall, 0x4444));
}

#[test]
fn four_threads_run_their_own_contexts_concurrently() {
    let Some(machine) = machine() else { return };
    const N: u64 = 2_000;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let machine = machine.clone();
            std::thread::spawn(move || {
                let frames = Frames::new();
                // Each thread's frames must not overlap: offset them by thread.
                frames.alloc(1024 * t);
                let space = AddressSpace::new(&machine).unwrap();
                load_code(&machine, &frames, &space, snippets::syscalls());
                let mut ctx = Context::new(&machine);
                let mut regs = regs_at(CODE);
                regs.r13 = N;
                for i in 0..N {
                    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
                    assert_eq!((regs.orig_rax, regs.rdi), (i, 2 * i), "thread {t}");
                    regs.rax = i ^ 0x5555;
                }
                assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
                assert_eq!(regs.orig_rax, snippets::DONE, "thread {t}");
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread ran all its syscalls");
    }
}

#[test]
fn interrupt_kicks_a_spinning_context_out_and_it_resumes() {
    let Some(machine) = machine() else { return };
    let frames = Frames::new();
    let space = AddressSpace::new(&machine).unwrap();
    load_code(&machine, &frames, &space, snippets::spin());
    let mut ctx = Context::new(&machine);
    let kick = ctx.interrupter();
    let mut regs = regs_at(CODE);
    let mut last = 0;
    for round in 0..3 {
        let kicker = {
            let kick = kick.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                kick.interrupt();
            })
        };
        let start = Instant::now();
        let trap = ctx.switch(&mut regs, &space).unwrap();
        kicker.join().unwrap();
        assert_eq!(trap, Trap::Interrupted, "round {round}");
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(
            regs.rip == CODE || regs.rip == CODE + 3,
            "rip {:#x}",
            regs.rip
        );
        assert!(regs.rbx >= last, "the loop counter survives interruption");
        last = regs.rbx;
    }
    assert!(last > 0, "the application ran between interrupts");
}

#[test]
fn missing_kvm_device_is_a_clear_error() {
    let config = MachineConfig {
        device: "/nonexistent/kvm".into(),
        ..MachineConfig::default()
    };
    let err = Machine::new(config)
        .err()
        .expect("no machine without a device");
    assert!(matches!(err, Error::NoKvm(_)), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/kvm"), "{err}");
}

#[test]
fn bad_ranges_are_refused() {
    let Some(machine) = machine() else { return };
    let space = AddressSpace::new(&machine).unwrap();
    let rw = Perms::READ | Perms::WRITE;
    assert!(space.map(0x1234, PAGE, 0, rw).is_err(), "misaligned");
    assert!(space.map(0, PAGE, 0, rw).is_err(), "page zero");
    assert!(
        space.map(0xffff_8000_0000_0000, PAGE, 0, rw).is_err(),
        "upper half"
    );
    assert!(
        space.map(DATA, PAGE, machine.memory().size(), rw).is_err(),
        "past the file"
    );
    assert!(space.map(DATA, 0, 0, rw).is_err(), "empty");
    space.release();
    assert!(space.map(DATA, PAGE, 0, rw).is_err(), "released");
    let mut ctx = Context::new(&machine);
    let mut regs = regs_at(CODE);
    assert!(
        ctx.switch(&mut regs, &space).is_err(),
        "switch to a released space"
    );
}

#[test]
fn unmap_while_other_contexts_run_completes_and_takes_effect() {
    let Some(machine) = machine() else { return };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinners: Vec<_> = (0..2)
        .map(|t| {
            let (machine, stop) = (machine.clone(), stop.clone());
            std::thread::spawn(move || {
                let frames = Frames::new();
                frames.alloc(1024 * (t + 1));
                let space = AddressSpace::new(&machine).unwrap();
                load_code(&machine, &frames, &space, snippets::spin());
                let mut ctx = Context::new(&machine);
                let kick = ctx.interrupter();
                let stopper = {
                    let stop = stop.clone();
                    std::thread::spawn(move || {
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        kick.interrupt();
                    })
                };
                let mut regs = regs_at(CODE);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Interrupted);
                }
                stopper.join().unwrap();
                regs.rbx
            })
        })
        .collect();
    let frames = Frames::new();
    let space = AddressSpace::new(&machine).unwrap();
    load_code(&machine, &frames, &space, snippets::touch());
    data_page(
        &machine,
        &frames,
        &space,
        DATA,
        Perms::READ | Perms::WRITE,
        9,
    );
    let mut ctx = Context::new(&machine);
    for round in 0..5 {
        std::thread::sleep(Duration::from_millis(20));
        let mut regs = regs_at(CODE);
        (regs.rdi, regs.rsi, regs.rdx) = (DATA, DATA + 8, 0);
        // Reads and writes DATA, then faults fetching address 0.
        let trap = ctx.switch(&mut regs, &space).unwrap();
        assert_eq!(
            trap,
            Trap::Fault {
                addr: 0,
                access: Access::Execute,
                present: false
            }
        );
        let started = Instant::now();
        space.unmap(DATA, PAGE).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "round {round}: unmap stalled"
        );
        let mut regs = regs_at(CODE);
        regs.rdi = DATA;
        let trap = ctx.switch(&mut regs, &space).unwrap();
        assert_eq!(
            trap,
            Trap::Fault {
                addr: DATA,
                access: Access::Read,
                present: false
            }
        );
        data_page(
            &machine,
            &frames,
            &space,
            DATA,
            Perms::READ | Perms::WRITE,
            9,
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in spinners {
        assert!(s.join().expect("spinner ran") > 0);
    }
}

#[test]
fn vector_registers_stay_with_their_context_when_contexts_share_a_vcpu() {
    let Some(machine) = machine_with(1) else {
        return;
    };
    let frames = Frames::new();
    let space = AddressSpace::new(&machine).unwrap();
    load_code(&machine, &frames, &space, snippets::fpu());
    let mut contexts: Vec<(Context, abi::x86_64::UserRegs)> = [0x1111_2222_u64, 0x3333_4444]
        .iter()
        .map(|&value| {
            let mut regs = regs_at(CODE);
            regs.rdi = value;
            (Context::new(&machine), regs)
        })
        .collect();
    // Each loads its value into xmm0 and stops; the other then runs on the same vCPU.
    for (ctx, regs) in contexts.iter_mut() {
        assert_eq!(ctx.switch(regs, &space).unwrap(), Trap::Syscall);
    }
    for (i, (ctx, regs)) in contexts.iter_mut().enumerate().rev() {
        assert_eq!(ctx.switch(regs, &space).unwrap(), Trap::Syscall);
        assert_eq!(regs.orig_rax, snippets::DONE);
        assert_eq!(
            regs.rdi,
            [0x1111_2222, 0x3333_4444][i],
            "context {i} kept its xmm0"
        );
    }
}
