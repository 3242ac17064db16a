//! The ptrace platform running application code: syscalls, faults, exceptions, isolation,
//! address spaces, threads, interrupts and clean-up. Mirrors platform-kvm's guest tests.

#![cfg(target_arch = "x86_64")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use abi::x86_64::UserRegs;
use ringfence_tests::snippets;
use sentry::platform::ptrace::{self, AddressSpace, Context, Ptrace, STUB_ADDR};
use sentry::platform::{Access, Perms, Platform, PlatformError, Trap};

const PAGE: u64 = 4096;
const CODE: u64 = 0x40_0000;
const DATA: u64 = 0x60_0000;
const STACK_TOP: u64 = 0x7fff_0000_0000;

/// A platform with a 64 MiB memory file. On a host that forbids ptrace this fails with the
/// platform's explanation of why.
fn platform() -> Ptrace {
    match Ptrace::new(64 << 20) {
        Ok(p) => p,
        Err(e) => panic!("the ptrace platform cannot start: {e}"),
    }
}

/// Hands out memory-file pages.
struct Frames(AtomicU64);

impl Frames {
    fn new() -> Frames {
        Frames(AtomicU64::new(0))
    }

    fn alloc(&self, pages: u64) -> u64 {
        self.0.fetch_add(pages * PAGE, Ordering::Relaxed)
    }
}

/// Put `code` at `at` in `space` (read + execute) from fresh frames.
fn load_at(p: &Ptrace, frames: &Frames, space: &AddressSpace, at: u64, code: &[u8]) {
    let pages = (code.len() as u64).div_ceil(PAGE).max(1);
    let offset = frames.alloc(pages);
    p.memory().write(offset, code).unwrap();
    space
        .map(at, pages * PAGE, offset, Perms::READ | Perms::EXECUTE)
        .unwrap();
}

fn load_code(p: &Ptrace, frames: &Frames, space: &AddressSpace, code: &[u8]) {
    load_at(p, frames, space, CODE, code);
}

/// A fresh page mapped at `addr` with `perms`, holding `value` in its first word; returns
/// its memory-file offset.
fn data_page(
    p: &Ptrace,
    frames: &Frames,
    space: &AddressSpace,
    addr: u64,
    perms: Perms,
    value: u64,
) -> u64 {
    let offset = frames.alloc(1);
    p.memory().write(offset, &value.to_le_bytes()).unwrap();
    space.map(addr, PAGE, offset, perms).unwrap();
    offset
}

fn read_word(p: &Ptrace, offset: u64) -> u64 {
    let mut b = [0u8; 8];
    p.memory().read(offset, &mut b).unwrap();
    u64::from_le_bytes(b)
}

fn regs_at(rip: u64) -> UserRegs {
    UserRegs {
        rip,
        rsp: STACK_TOP,
        eflags: 0x202,
        ..UserRegs::default()
    }
}

/// Resume until the application issues the `DONE` syscall, failing on anything else.
fn run_to_done(ctx: &mut Context, regs: &mut UserRegs, space: &AddressSpace) {
    loop {
        match ctx.switch(regs, space).expect("switch") {
            Trap::Syscall if regs.orig_rax == snippets::DONE => return,
            Trap::Interrupted => continue,
            other => panic!("unexpected {other:?} at rip {:#x}", regs.rip),
        }
    }
}

/// The processes in a process group (a stub's leader and its tracees).
fn process_group(pgid: i32) -> Vec<i32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...": the comm may contain anything but ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        if rest.split_whitespace().nth(2) == Some(&pgid.to_string()) {
            members.push(pid);
        }
    }
    members
}

/// Wait up to two seconds for a process group to shrink to `n` members.
fn wait_for_group(pgid: i32, n: usize) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let members = process_group(pgid);
        if members.len() == n || Instant::now() > deadline {
            return members;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ten_thousand_syscalls_trap_with_number_and_arguments() {
    let p = platform();
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    load_code(&p, &frames, &space, snippets::syscalls());
    let mut ctx = p.new_context();
    const N: u64 = 10_000;
    let mut regs = regs_at(CODE);
    regs.r13 = N;
    let start = Instant::now();
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
    let elapsed = start.elapsed();
    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
    assert_eq!(
        regs.orig_rax,
        snippets::DONE,
        "the code saw every return value"
    );
    println!(
        "ptrace platform: {N} syscall round trips in {elapsed:?}, {} ns each; {}",
        elapsed.as_nanos() / u128::from(N),
        p.counters()
    );
    let stops: u64 = p
        .counters()
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("ptrace_stops=")?.parse().ok())
        .expect("a ptrace_stops counter");
    assert!(stops > N, "{}", p.counters());
}

#[test]
fn mappings_change_between_syscalls_from_the_tracing_thread() {
    // The sentry maps memory while the application sits at a syscall (mmap, brk): the
    // change is injected through this thread's own tracee, which must then resume the
    // application exactly where it was.
    let p = platform();
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    load_code(&p, &frames, &space, snippets::syscalls());
    let mut ctx = p.new_context();
    let mut regs = regs_at(CODE);
    regs.r13 = 300;
    for i in 0..300 {
        assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
        assert_eq!(regs.orig_rax, i);
        let at = DATA + (i % 16) * PAGE;
        data_page(&p, &frames, &space, at, Perms::READ | Perms::WRITE, i);
        if i % 3 == 0 {
            space.unmap(at, PAGE).unwrap();
        }
        regs.rax = i ^ 0x5555;
    }
    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
    assert_eq!(regs.orig_rax, snippets::DONE);
}

#[test]
fn page_faults_report_address_and_access_and_resume_after_map() {
    let p = platform();
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    load_code(&p, &frames, &space, snippets::touch());
    let done_at = CODE + 0x1000;
    load_at(&p, &frames, &space, done_at, snippets::done());
    let src = DATA + 0x1_0000 + 0x28; // unaligned inside the page on purpose
    let dst = DATA + 0x2_0000;
    let dst_offset = data_page(&p, &frames, &space, dst, Perms::READ | Perms::WRITE, 0);
    let mut ctx = p.new_context();
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
    p.memory()
        .write(src_offset + 0x28, &0xfeed_f00d_u64.to_le_bytes())
        .unwrap();
    space
        .map(src & !0xfff, PAGE, src_offset, Perms::READ)
        .unwrap();
    run_to_done(&mut ctx, &mut regs, &space);
    assert_eq!(read_word(&p, dst_offset), 0xfeed_f00d);

    // A store to an unmapped page is a write.
    let mut regs = regs_at(CODE);
    (regs.rdi, regs.rsi, regs.rdx) = (src, DATA + 0x3_0000, done_at);
    let trap = ctx.switch(&mut regs, &space).unwrap();
    assert_eq!(
        trap,
        Trap::Fault {
            addr: DATA + 0x3_0000,
            access: Access::Write,
            present: false
        }
    );
}

#[test]
fn write_to_read_only_faults_as_write() {
    let p = platform();
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    load_code(&p, &frames, &space, snippets::touch());
    data_page(&p, &frames, &space, DATA, Perms::READ, 7);
    let ro = DATA + PAGE;
    data_page(&p, &frames, &space, ro, Perms::READ, 0);
    let mut ctx = p.new_context();
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
    let p = platform();
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    load_code(&p, &frames, &space, snippets::touch());
    data_page(&p, &frames, &space, DATA, Perms::READ | Perms::WRITE, 0);
    // Valid code, but on a page mapped without execute permission.
    let nx = DATA + 0x10_0000;
    let offset = frames.alloc(1);
    p.memory().write(offset, snippets::done()).unwrap();
    space
        .map(nx, PAGE, offset, Perms::READ | Perms::WRITE)
        .unwrap();
    let mut ctx = p.new_context();
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

#[test]
fn exceptions_come_back_with_vector_and_code() {
    let p = platform();
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
    let mut ctx = p.new_context();
    for (what, code, vector, error, rip) in cases {
        let frames = Frames::new();
        let space = p.new_address_space().unwrap();
        load_code(&p, &frames, &space, code);
        let mut regs = regs_at(CODE);
        let trap = ctx.switch(&mut regs, &space).unwrap();
        assert_eq!(
            trap,
            Trap::Exception {
                vector,
                code: error
            },
            "{what}"
        );
        assert_eq!(regs.rip, rip, "{what}: rip");
    }
}

#[test]
fn application_cannot_reach_sentry_memory() {
    let p = platform();
    let on_stack = 0x5a5a_u64;
    let on_heap = Box::new([0x6b6b_u64; 512]);
    let text = platform as fn() -> Ptrace as usize as u64;
    let targets = [
        ("stack", std::ptr::from_ref(&on_stack) as u64),
        ("heap", on_heap.as_ptr() as u64),
        ("text", text),
    ];
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    load_code(&p, &frames, &space, snippets::touch());
    data_page(&p, &frames, &space, DATA, Perms::READ | Perms::WRITE, 0);
    let mut ctx = p.new_context();
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

    // The stub page is readable code, but not writable.
    let mut regs = regs_at(CODE);
    (regs.rdi, regs.rsi) = (DATA, STUB_ADDR + 8);
    let trap = ctx.switch(&mut regs, &space).unwrap();
    assert_eq!(
        trap,
        Trap::Fault {
            addr: STUB_ADDR + 8,
            access: Access::Write,
            present: true
        }
    );

    // What the stub process holds: its code page and the memory file, nothing else.
    let pid = space.stub_pid();
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mapped: Vec<&str> = maps
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.contains("[vsyscall]"))
        .filter(|l| !l.contains("ringfence-memory"))
        .collect();
    assert_eq!(
        mapped,
        [format!(
            "{:x}-{:x} r-xp 00000000 00:00 0",
            STUB_ADDR,
            STUB_ADDR + 0x1000
        )
        .as_str()],
        "only the stub page (and the application's mappings) in:\n{maps}"
    );
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(fds, ["0"], "only the memory file is open in the stub");
}

#[test]
fn syscalls_from_the_stub_code_are_trapped_too() {
    // Jumping into the stub's own code (which starts by unmapping everything below itself)
    // still stops at the syscall: the application never makes a host call.
    let p = platform();
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    load_code(&p, &frames, &space, snippets::syscalls());
    let mut ctx = p.new_context();
    let mut regs = regs_at(STUB_ADDR);
    regs.rdi = STUB_ADDR;
    let trap = ctx.switch(&mut regs, &space).unwrap();
    assert_eq!(trap, Trap::Syscall);
    assert_eq!(regs.orig_rax, libc::SYS_munmap as u64);
    // The code below the stub is still there.
    let mut regs = regs_at(CODE);
    regs.r13 = 1;
    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
    assert_eq!(regs.orig_rax, 0);
    regs.rax = 0x5555;
    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
    assert_eq!(regs.orig_rax, snippets::DONE);
}

#[test]
fn fs_base_is_applied() {
    let p = platform();
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    // mov rax, fs:[0x10]; mov rdi, rax; mov eax, DONE; syscall
    let code = [
        0x64, 0x48, 0x8b, 0x04, 0x25, 0x10, 0, 0, 0, 0x48, 0x89, 0xc7, 0xb8, 0x40, 0x42, 0x0f,
        0x00, 0x0f, 0x05,
    ];
    load_code(&p, &frames, &space, &code);
    let page = data_page(&p, &frames, &space, DATA, Perms::READ, 0);
    p.memory()
        .write(page + 0x10, &0x1111_u64.to_le_bytes())
        .unwrap();
    p.memory()
        .write(page + 0x110, &0x2222_u64.to_le_bytes())
        .unwrap();
    let mut ctx = p.new_context();
    for (base, expected) in [(DATA, 0x1111), (DATA + 0x100, 0x2222), (DATA, 0x1111)] {
        let mut regs = regs_at(CODE);
        regs.fs_base = base;
        assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
        assert_eq!(regs.orig_rax, snippets::DONE);
        assert_eq!((regs.rdi, regs.fs_base), (expected, base));
    }
}

#[test]
fn two_address_spaces_see_their_own_data_and_unmap_is_not_stale() {
    let p = platform();
    let frames = Frames::new();
    let spaces: Vec<(AddressSpace, u64)> = [0x1111_u64, 0x2222]
        .iter()
        .map(|&value| {
            let space = p.new_address_space().unwrap();
            load_code(&p, &frames, &space, snippets::touch());
            data_page(&p, &frames, &space, DATA, Perms::READ, value);
            let out = data_page(
                &p,
                &frames,
                &space,
                DATA + PAGE,
                Perms::READ | Perms::WRITE,
                0,
            );
            load_at(&p, &frames, &space, CODE + 0x1000, snippets::done());
            (space, out)
        })
        .collect();
    let mut ctx = p.new_context();
    // Runs `touch` (copy the word at DATA to the out page), and returns the trap and what
    // the application copied.
    let run = |ctx: &mut Context, (space, out): &(AddressSpace, u64)| {
        p.memory().write(*out, &[0; 8]).unwrap();
        let mut regs = regs_at(CODE);
        (regs.rdi, regs.rsi, regs.rdx) = (DATA, DATA + PAGE, CODE + 0x1000);
        let trap = ctx.switch(&mut regs, space).unwrap();
        (trap, read_word(&p, *out))
    };
    for round in 0..3 {
        for (i, space) in spaces.iter().enumerate() {
            let (trap, seen) = run(&mut ctx, space);
            assert_eq!(trap, Trap::Syscall, "round {round} space {i}");
            assert_eq!(seen, [0x1111, 0x2222][i], "round {round} space {i}");
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
    p.memory()
        .write(replacement, &0x3333_u64.to_le_bytes())
        .unwrap();
    spaces[0]
        .0
        .map(DATA, PAGE, replacement, Perms::READ)
        .unwrap();
    assert_eq!(run(&mut ctx, &spaces[0]), (Trap::Syscall, 0x3333));
    // And replacing a live mapping (no unmap in between) too.
    let again = frames.alloc(1);
    p.memory().write(again, &0x4444_u64.to_le_bytes()).unwrap();
    spaces[0].0.map(DATA, PAGE, again, Perms::READ).unwrap();
    assert_eq!(run(&mut ctx, &spaces[0]), (Trap::Syscall, 0x4444));
}

#[test]
fn four_threads_run_their_own_contexts_concurrently() {
    let p = platform();
    const N: u64 = 2_000;
    std::thread::scope(|s| {
        for t in 0..4 {
            let p = &p;
            s.spawn(move || {
                let frames = Frames::new();
                // Each thread's frames must not overlap: offset them by thread.
                frames.alloc(1024 * t);
                let space = p.new_address_space().unwrap();
                load_code(p, &frames, &space, snippets::syscalls());
                let mut ctx = p.new_context();
                let mut regs = regs_at(CODE);
                regs.r13 = N;
                for i in 0..N {
                    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
                    assert_eq!((regs.orig_rax, regs.rdi), (i, 2 * i), "thread {t}");
                    regs.rax = i ^ 0x5555;
                }
                assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
                assert_eq!(regs.orig_rax, snippets::DONE, "thread {t}");
            });
        }
    });
}

#[test]
fn threads_share_an_address_space() {
    // Four threads, each with its own context, run in one space at once; one of them
    // changes its mappings meanwhile.
    let p = platform();
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    load_code(&p, &frames, &space, snippets::syscalls());
    const N: u64 = 1_000;
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (p, frames, space) = (&p, &frames, &space);
            s.spawn(move || {
                let mut ctx = p.new_context();
                let mut regs = regs_at(CODE);
                regs.r13 = N;
                for i in 0..N {
                    assert_eq!(ctx.switch(&mut regs, space).unwrap(), Trap::Syscall);
                    assert_eq!((regs.orig_rax, regs.rdi), (i, 2 * i), "thread {t}");
                    if i % 100 == 0 {
                        let at = DATA + t * 0x10_0000;
                        data_page(p, frames, space, at, Perms::READ, i);
                    }
                    regs.rax = i ^ 0x5555;
                }
                assert_eq!(ctx.switch(&mut regs, space).unwrap(), Trap::Syscall);
                assert_eq!(regs.orig_rax, snippets::DONE, "thread {t}");
            });
        }
    });
}

#[test]
fn interrupt_kicks_a_spinning_context_out_within_a_second_and_it_resumes() {
    let p = platform();
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    load_code(&p, &frames, &space, snippets::spin());
    let mut ctx = p.new_context();
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
        let took = start.elapsed();
        kicker.join().unwrap();
        assert_eq!(trap, Trap::Interrupted, "round {round}");
        assert!(took < Duration::from_secs(1), "round {round}: {took:?}");
        assert!(
            regs.rip == CODE || regs.rip == CODE + 3,
            "rip {:#x}",
            regs.rip
        );
        assert!(regs.rbx >= last, "the loop counter survives interruption");
        last = regs.rbx;
    }
    assert!(last > 0, "the application ran between interrupts");
    // An interrupt while the context is not running makes the next switch return at once.
    kick.interrupt();
    let rbx = regs.rbx;
    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Interrupted);
    assert_eq!(regs.rbx, rbx, "unchanged");
}

#[test]
fn vector_registers_stay_with_their_context() {
    let p = platform();
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    load_code(&p, &frames, &space, snippets::fpu());
    let mut contexts: Vec<(Context, UserRegs)> = [0x1111_2222_u64, 0x3333_4444]
        .iter()
        .map(|&value| {
            let mut regs = regs_at(CODE);
            regs.rdi = value;
            (p.new_context(), regs)
        })
        .collect();
    // Each loads its value into xmm0 and stops; the other then runs.
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

    // A context that moves to another address space takes its vector state along.
    let other = p.new_address_space().unwrap();
    load_code(&p, &frames, &other, snippets::fpu());
    let mut ctx = p.new_context();
    let mut regs = regs_at(CODE);
    regs.rdi = 0x5555_6666;
    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
    assert_eq!(ctx.switch(&mut regs, &other).unwrap(), Trap::Syscall);
    assert_eq!(regs.orig_rax, snippets::DONE);
    assert_eq!(regs.rdi, 0x5555_6666, "xmm0 followed the context");
}

#[test]
fn release_and_drop_leave_no_stub_process_behind() {
    let p = platform();
    let frames = Frames::new();
    // Released explicitly, with a context still holding a tracee in it.
    let space = p.new_address_space().unwrap();
    load_code(&p, &frames, &space, snippets::syscalls());
    let leader = space.stub_pid();
    let mut ctx = p.new_context();
    let mut regs = regs_at(CODE);
    regs.r13 = 10;
    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
    assert_eq!(process_group(leader).len(), 2, "the stub and one tracee");
    space.release();
    assert_eq!(wait_for_group(leader, 0), Vec::<i32>::new());
    assert!(matches!(
        ctx.switch(&mut regs, &space),
        Err(ptrace::Error::Released)
    ));
    assert!(space.map(DATA, PAGE, 0, Perms::READ).is_err(), "released");
    // The context still works in another space.
    let other = p.new_address_space().unwrap();
    load_code(&p, &frames, &other, snippets::syscalls());
    let mut regs = regs_at(CODE);
    regs.r13 = 1;
    assert_eq!(ctx.switch(&mut regs, &other).unwrap(), Trap::Syscall);
    drop(ctx);
    drop(space);

    // Dropped, without a release.
    let leader = other.stub_pid();
    drop(other);
    assert_eq!(wait_for_group(leader, 0), Vec::<i32>::new());

    // Dropping the platform ends its stub thread; nothing stays behind either.
    let space = p.new_address_space().unwrap();
    let leader = space.stub_pid();
    drop(space);
    drop(p);
    assert_eq!(wait_for_group(leader, 0), Vec::<i32>::new());
}

#[test]
fn threads_that_exit_leave_no_tracees() {
    let p = platform();
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    load_code(&p, &frames, &space, snippets::syscalls());
    let leader = space.stub_pid();
    let enter = |ctx: &mut Context| {
        let mut regs = regs_at(CODE);
        regs.r13 = 5;
        assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
    };
    let moved_out = std::thread::scope(|s| {
        // Dropped on its own thread.
        s.spawn(|| {
            let mut ctx = p.new_context();
            enter(&mut ctx);
        });
        // Leaked: the thread's exit kills its tracee (PTRACE_O_EXITKILL).
        s.spawn(|| {
            let mut ctx = p.new_context();
            enter(&mut ctx);
            std::mem::forget(ctx);
        });
        // Moved out and dropped on another thread.
        s.spawn(|| {
            let mut ctx = p.new_context();
            enter(&mut ctx);
            ctx
        })
        .join()
        .unwrap()
    });
    drop(moved_out);
    assert_eq!(wait_for_group(leader, 1), [leader], "only the stub is left");
    // The space is unharmed.
    let mut ctx = p.new_context();
    enter(&mut ctx);
}

#[test]
fn a_context_answers_only_its_own_thread() {
    let p = platform();
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    load_code(&p, &frames, &space, snippets::syscalls());
    let mut ctx = p.new_context();
    let mut regs = regs_at(CODE);
    regs.r13 = 5;
    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
    let ctx = std::thread::scope(|s| {
        s.spawn(|| {
            let mut ctx = ctx;
            let mut regs = regs;
            let err = ctx.switch(&mut regs, &space).unwrap_err();
            assert!(matches!(err, ptrace::Error::WrongThread { .. }), "{err}");
            ctx
        })
        .join()
        .unwrap()
    });
    drop(ctx);
}

#[test]
fn bad_ranges_are_refused() {
    let p = platform();
    let space = p.new_address_space().unwrap();
    let rw = Perms::READ | Perms::WRITE;
    assert!(space.map(0x1234, PAGE, 0, rw).is_err(), "misaligned");
    assert!(space.map(0, PAGE, 0, rw).is_err(), "page zero");
    assert!(space.map(STUB_ADDR, PAGE, 0, rw).is_err(), "the stub page");
    assert!(
        space.map(DATA, PAGE, p.memory().size(), rw).is_err(),
        "past the file"
    );
    assert!(space.map(DATA, 0, 0, rw).is_err(), "empty");
    let err: PlatformError = space.map(DATA, 0, 0, rw).unwrap_err().into();
    assert!(err.to_string().contains("invalid range"), "{err}");
    space.release();
    assert!(space.map(DATA, PAGE, 0, rw).is_err(), "released");
    let mut ctx = p.new_context();
    let mut regs = regs_at(CODE);
    assert!(
        ctx.switch(&mut regs, &space).is_err(),
        "switch to a released space"
    );
}

#[test]
fn the_platform_describes_itself() {
    let p = platform();
    assert_eq!(p.name(), "ptrace");
    assert!(p.description().contains("PTRACE_SYSEMU"));
    assert_eq!(p.user_range(), (0x1_0000, STUB_ADDR));
}

#[test]
fn a_signal_for_the_tracing_thread_interrupts_the_context() {
    extern "C" fn nothing(_: libc::c_int) {}
    // A handler without SA_RESTART, as a sentry would install to kick its own threads.
    // SAFETY: a zeroed sigaction with a valid handler and an empty mask; SIGUSR2 is used by
    // nothing else in this test binary.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = nothing as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()),
            0
        );
    }
    let p = platform();
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    load_code(&p, &frames, &space, snippets::spin());
    let mut ctx = p.new_context();
    let mut regs = regs_at(CODE);
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() } as usize;
    let kicker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: the test thread outlives this one (it joins it below).
        unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR2) };
    });
    let start = Instant::now();
    let trap = ctx.switch(&mut regs, &space).unwrap();
    kicker.join().unwrap();
    assert_eq!(trap, Trap::Interrupted);
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(regs.rbx > 0, "the application ran");
    // And it resumes.
    let kick = ctx.interrupter();
    let kicker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        kick.interrupt();
    });
    let rbx = regs.rbx;
    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Interrupted);
    kicker.join().unwrap();
    assert!(regs.rbx > rbx);
}

#[test]
fn the_vsyscall_page_does_not_reach_the_host() {
    let p = platform();
    let frames = Frames::new();
    let space = p.new_address_space().unwrap();
    // mov rax, 0xffffffffff600400 (time); call rax; mov rdi, rax; mov eax, DONE; syscall
    let code = [
        0x48, 0xb8, 0x00, 0x04, 0x60, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xd0, 0x48, 0x89, 0xc7,
        0xb8, 0x40, 0x42, 0x0f, 0x00, 0x0f, 0x05,
    ];
    load_code(&p, &frames, &space, &code);
    data_page(
        &p,
        &frames,
        &space,
        STACK_TOP - PAGE,
        Perms::READ | Perms::WRITE,
        0,
    );
    let mut ctx = p.new_context();
    let mut regs = regs_at(CODE);
    match ctx.switch(&mut regs, &space).unwrap() {
        // Emulated vsyscalls meet the stub's seccomp filter.
        Trap::Syscall => {
            assert_eq!(regs.orig_rax, snippets::DONE);
            assert_eq!(
                regs.rdi as i64,
                -i64::from(libc::ENOSYS),
                "not the host's time"
            );
        }
        // Hosts booted with vsyscall=none: just a fault.
        Trap::Fault {
            addr: 0xffff_ffff_ff60_0400,
            access: Access::Execute,
            ..
        } => {}
        other => panic!("{other:?} at {:#x}", regs.rip),
    }
}
