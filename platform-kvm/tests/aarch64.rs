//! Application code at EL0 on the aarch64 KVM platform: syscalls, faults with exact addresses
//! and access kinds, exceptions, isolation from the kernel's pages and the sentry's memory,
//! address spaces with their own ASIDs, FP/SIMD and TLS state per context, interrupts and
//! more threads than vCPUs. Runs inside `ci/vm-aarch64` (the emulated arm64 machine with EL2).

#![cfg(target_arch = "aarch64")]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use abi::aarch64::TaskRegs;
use platform_kvm::{
    Access, AddressSpace, Context, ExitReason, GuestMode, Machine, MachineConfig, Perms, Trap,
};

const PAGE: u64 = 4096;
const CODE: u64 = 0x40_0000;
const DATA: u64 = 0x60_0000;
const STACK_TOP: u64 = 0x7fff_0000_0000;
/// The kernel's code page and first vCPU frame (`ring0::aarch64::layout`).
const KERNEL_CODE: u64 = 0xffff_ff80_0000_0000;
const KERNEL_FRAME: u64 = 0xffff_ff80_0001_0000;

// The test programs, assembled into this binary and copied into guest memory (each is
// position independent).
core::arch::global_asm!(
    ".pushsection .rodata.rf_test_code, \"a\"",
    ".balign 4",
    ".globl rf_syscalls",
    ".globl rf_load",
    ".globl rf_sve",
    ".globl rf_store",
    ".globl rf_call",
    ".globl rf_brk",
    ".globl rf_udf",
    ".globl rf_mrs",
    ".globl rf_spin",
    ".globl rf_set_flag",
    ".globl rf_fp",
    ".globl rf_tls",
    ".globl rf_end",
    // x19 = next syscall number; x20 accumulates the return values.
    "rf_syscalls: 1: mov x8, x19",
    "svc #0",
    "add x20, x20, x0",
    "add x19, x19, #1",
    "b 1b",
    "rf_load: ldr x1, [x0]",
    "svc #0",
    "rf_store: str x1, [x0]",
    "svc #0",
    "rf_call: blr x0",
    "svc #0",
    "rf_brk: brk #7",
    "rf_udf: udf #0",
    // An SVE instruction (rdvl x0, #1): applications get no SVE.
    "rf_sve: .inst 0x04bf5020",
    "svc #0",
    "rf_mrs: mrs x0, sctlr_el1",
    "svc #0",
    // Spin until the word at x0 is nonzero.
    "rf_spin: 1: ldr x1, [x0]",
    "cbz x1, 1b",
    "svc #0",
    // Write x1 to [x0], then return.
    "rf_set_flag: str x1, [x0]",
    "svc #0",
    // d0 = x0; trap; x0 = d0; trap.
    "rf_fp: fmov d0, x0",
    "svc #0",
    "fmov x0, d0",
    "svc #0",
    // TPIDR_EL0 = x0; trap; x0 = TPIDR_EL0; trap.
    "rf_tls: msr tpidr_el0, x0",
    "svc #0",
    "mrs x0, tpidr_el0",
    "svc #0",
    "rf_end:",
    ".popsection",
    // Sentry code (run by the test thread itself): signs its return address, enters guest
    // mode through the probe, authenticates at EL1, returns what the probe read.
    ".pushsection .text.rf_pac, \"ax\"",
    ".globl rf_pac_across_entry",
    "rf_pac_across_entry:",
    "paciasp",
    "stp x29, x30, [sp, #-16]!",
    "bl ringfence_a64_probe",
    "ldp x29, x30, [sp], #16",
    "autiasp",
    "ret",
    // Signs in guest mode, leaves it through a host call (getpid), authenticates on the host.
    ".globl rf_pac_across_leave",
    "rf_pac_across_leave:",
    "paciasp",
    "stp x29, x30, [sp, #-16]!",
    "bl getpid",
    "ldp x29, x30, [sp], #16",
    "autiasp",
    "ret",
    ".popsection",
);

unsafe extern "C" {
    fn rf_pac_across_entry() -> u64;
    fn rf_pac_across_leave() -> i32;
    safe static rf_syscalls: u8;
    safe static rf_load: u8;
    safe static rf_store: u8;
    safe static rf_call: u8;
    safe static rf_brk: u8;
    safe static rf_udf: u8;
    safe static rf_mrs: u8;
    safe static rf_sve: u8;
    safe static rf_spin: u8;
    safe static rf_set_flag: u8;
    safe static rf_fp: u8;
    safe static rf_tls: u8;
    safe static rf_end: u8;
}

/// The test programs (from `rf_syscalls` to the end), and where each starts in the guest.
fn code() -> &'static [u8] {
    let start = std::ptr::from_ref(&rf_syscalls);
    let len = std::ptr::from_ref(&rf_end) as usize - start as usize;
    // SAFETY: both symbols delimit one assembled block of read-only data in this binary.
    unsafe { std::slice::from_raw_parts(start, len) }
}

fn at(sym: &'static u8) -> u64 {
    CODE + (std::ptr::from_ref(sym) as u64 - std::ptr::from_ref(&rf_syscalls) as u64)
}

/// A machine for tests, or `None` (after saying why) when this host has no `/dev/kvm`.
fn machine_with(vcpus: usize) -> Option<Arc<Machine>> {
    if !Path::new("/dev/kvm").exists() {
        eprintln!("skipping: /dev/kvm does not exist on this host");
        return None;
    }
    let config = MachineConfig {
        vcpus,
        memory_size: 64 << 20,
        table_memory: 4 << 20,
        ..MachineConfig::default()
    };
    Some(Machine::new(config).expect("a KVM machine"))
}

/// An address space with the test programs at `CODE`; memory-file pages after them are
/// handed out by `Pages`.
struct Pages(AtomicU64);

impl Pages {
    fn alloc(&self) -> u64 {
        self.0.fetch_add(PAGE, Ordering::Relaxed)
    }
}

fn space_with_code(machine: &Arc<Machine>) -> (AddressSpace, Pages) {
    let space = AddressSpace::new(machine).unwrap();
    machine.memory().write(0, code()).unwrap();
    let pages = (code().len() as u64).div_ceil(PAGE);
    space
        .map(CODE, pages * PAGE, 0, Perms::READ | Perms::EXECUTE)
        .unwrap();
    (space, Pages(AtomicU64::new(pages * PAGE)))
}

/// A fresh page of the memory file at `addr` in `space`, holding `value` in its first word;
/// its memory-file offset.
fn data_page(
    machine: &Machine,
    pages: &Pages,
    space: &AddressSpace,
    addr: u64,
    perms: Perms,
    value: u64,
) -> u64 {
    let offset = pages.alloc();
    machine
        .memory()
        .write(offset, &value.to_le_bytes())
        .unwrap();
    space.map(addr, PAGE, offset, perms).unwrap();
    offset
}

fn read_word(machine: &Machine, offset: u64) -> u64 {
    let mut b = [0u8; 8];
    machine.memory().read(offset, &mut b).unwrap();
    u64::from_le_bytes(b)
}

fn regs_at(pc: u64) -> TaskRegs {
    TaskRegs {
        user: abi::aarch64::UserRegs {
            pc,
            sp: STACK_TOP,
            ..Default::default()
        },
        tpidr_el0: 0,
        fp: Default::default(),
    }
}

/// [`regs_at`] with `x0` set (the address most programs here work on).
fn regs_with(pc: u64, x0: u64) -> TaskRegs {
    let mut regs = regs_at(pc);
    regs.regs[0] = x0;
    regs
}

fn mmio_exits(machine: &Machine) -> u64 {
    machine.exit_stats().get(ExitReason::Mmio)
}

#[test]
fn ten_thousand_syscalls_trap_with_number_arguments_and_one_exit_each() {
    let Some(machine) = machine_with(2) else {
        return;
    };
    let (space, _) = space_with_code(&machine);
    let mut ctx = Context::new(&machine);
    let mut regs = regs_at(at(&rf_syscalls));
    regs.regs[1..6].copy_from_slice(&[11, 12, 13, 14, 15]);
    const N: u64 = 10_000;
    let before = mmio_exits(&machine);
    let mut sum = 0u64;
    for i in 0..N {
        let trap = ctx.switch(&mut regs, &space).unwrap();
        assert_eq!(trap, Trap::Syscall, "syscall {i} at pc {:#x}", regs.pc);
        assert_eq!(regs.syscall_nr(), i);
        assert_eq!(regs.regs[20], sum, "the application saw every return value");
        assert_eq!(regs.syscall_args()[1..], [11, 12, 13, 14, 15]);
        // PC is past the `svc`, as Linux reports it.
        assert_eq!(regs.pc, at(&rf_syscalls) + 8);
        regs.set_return(i * 3);
        sum += i * 3;
    }
    let exits = mmio_exits(&machine) - before;
    eprintln!("{N} syscalls: {exits} MMIO exits");
    assert_eq!(exits, N, "one exit per syscall");
}

#[test]
fn faults_report_address_access_and_presence() {
    let Some(machine) = machine_with(2) else {
        return;
    };
    let (space, pages) = space_with_code(&machine);
    let mut ctx = Context::new(&machine);

    // A read of an unmapped page.
    let mut regs = regs_with(at(&rf_load), DATA + 0x18);
    let trap = ctx.switch(&mut regs, &space).unwrap();
    assert_eq!(
        trap,
        Trap::Fault {
            addr: DATA + 0x18,
            access: Access::Read,
            present: false
        }
    );
    assert_eq!(regs.pc, at(&rf_load), "PC stays at the faulting load");
    // Map it and resume: the load is retried and succeeds.
    data_page(&machine, &pages, &space, DATA, Perms::READ, 0x5eed);
    regs.regs[0] = DATA;
    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
    assert_eq!(regs.regs[1], 0x5eed);

    // A write to the read-only page.
    let mut regs = regs_with(at(&rf_store), DATA + 8);
    let trap = ctx.switch(&mut regs, &space).unwrap();
    assert_eq!(
        trap,
        Trap::Fault {
            addr: DATA + 8,
            access: Access::Write,
            present: true
        }
    );

    // Executing a data page, and an unmapped one.
    let mut regs = regs_with(at(&rf_call), DATA);
    let trap = ctx.switch(&mut regs, &space).unwrap();
    assert_eq!(
        trap,
        Trap::Fault {
            addr: DATA,
            access: Access::Execute,
            present: true
        }
    );
    let mut regs = regs_with(at(&rf_call), DATA + 0x10_0000);
    let trap = ctx.switch(&mut regs, &space).unwrap();
    assert_eq!(
        trap,
        Trap::Fault {
            addr: DATA + 0x10_0000,
            access: Access::Execute,
            present: false
        }
    );
}

#[test]
fn exceptions_report_class_and_syndrome() {
    let Some(machine) = machine_with(2) else {
        return;
    };
    let (space, _) = space_with_code(&machine);
    let mut ctx = Context::new(&machine);
    let mut regs = regs_at(at(&rf_brk));
    match ctx.switch(&mut regs, &space).unwrap() {
        Trap::Exception { vector: 0x3c, code } => assert_eq!(code & 0xffff, 7, "brk #7"),
        other => panic!("brk gave {other:?}"),
    }
    assert_eq!(regs.pc, at(&rf_brk));
    let mut regs = regs_at(at(&rf_udf));
    assert!(matches!(
        ctx.switch(&mut regs, &space).unwrap(),
        Trap::Exception { vector: 0x00, .. }
    ));
    assert_eq!(regs.pc, at(&rf_udf));
    // An EL1 register is not for EL0: undefined.
    let mut regs = regs_at(at(&rf_mrs));
    assert!(matches!(
        ctx.switch(&mut regs, &space).unwrap(),
        Trap::Exception { vector: 0x00, .. }
    ));
    // SVE (trapped at EL0 where the vCPU has it, undefined where it does not).
    let mut regs = regs_at(at(&rf_sve));
    let trap = ctx.switch(&mut regs, &space).unwrap();
    assert!(
        matches!(
            trap,
            Trap::Exception {
                vector: 0x19 | 0x00,
                ..
            }
        ),
        "SVE at EL0 gave {trap:?}"
    );
    // A misaligned PC.
    let mut regs = regs_at(at(&rf_load) + 2);
    assert!(matches!(
        ctx.switch(&mut regs, &space).unwrap(),
        Trap::Exception { vector: 0x22, .. }
    ));
    // The context still works.
    let mut regs = regs_at(at(&rf_syscalls));
    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
}

#[test]
fn the_application_cannot_reach_kernel_pages_or_sentry_memory() {
    let Some(machine) = machine_with(2) else {
        return;
    };
    let (space, _) = space_with_code(&machine);
    let mut ctx = Context::new(&machine);
    let secret = Box::new(0x5ec7e7u64);
    let sentry = std::ptr::from_ref(&*secret) as u64;
    for (program, addr, access, present) in [
        (at(&rf_load), KERNEL_FRAME, Access::Read, true),
        (at(&rf_store), KERNEL_FRAME, Access::Write, true),
        (at(&rf_load), KERNEL_CODE, Access::Read, true),
        (at(&rf_call), KERNEL_CODE, Access::Execute, true),
        (at(&rf_load), sentry, Access::Read, false),
        (at(&rf_store), sentry, Access::Write, false),
    ] {
        let mut regs = regs_with(program, addr);
        regs.regs[1] = 0xbad;
        let trap = ctx.switch(&mut regs, &space).unwrap();
        assert_eq!(
            trap,
            Trap::Fault {
                addr,
                access,
                present
            },
            "{access:?} of {addr:#x}"
        );
    }
    assert_eq!(*secret, 0x5ec7e7);
    // The syscall path still works after all that.
    let mut regs = regs_at(at(&rf_syscalls));
    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
}

#[test]
fn two_address_spaces_see_their_own_pages_and_unmaps_take_effect() {
    let Some(machine) = machine_with(1) else {
        return;
    };
    let (a, pages) = space_with_code(&machine);
    let b = AddressSpace::new(&machine).unwrap();
    b.map(CODE, PAGE, 0, Perms::READ | Perms::EXECUTE).unwrap();
    data_page(&machine, &pages, &a, DATA, Perms::READ, 0xa);
    data_page(&machine, &pages, &b, DATA, Perms::READ, 0xb);
    let mut ctx = Context::new(&machine);
    for round in 0..50 {
        for (space, want) in [(&a, 0xa), (&b, 0xb)] {
            let mut regs = regs_with(at(&rf_load), DATA);
            assert_eq!(ctx.switch(&mut regs, space).unwrap(), Trap::Syscall);
            assert_eq!(regs.regs[1], want, "round {round}");
        }
    }
    // Mapped again to another frame (as a copy-on-write break does), it reads the new one.
    data_page(&machine, &pages, &a, DATA, Perms::READ, 0xc);
    let mut regs = regs_with(at(&rf_load), DATA);
    assert_eq!(ctx.switch(&mut regs, &a).unwrap(), Trap::Syscall);
    assert_eq!(regs.regs[1], 0xc, "the replaced translation is gone");
    // Once unmapped (after the TLB held it), the page is gone for that space only.
    b.unmap(DATA, PAGE).unwrap();
    let mut regs = regs_with(at(&rf_load), DATA);
    assert!(matches!(
        ctx.switch(&mut regs, &b).unwrap(),
        Trap::Fault { present: false, .. }
    ));
    let mut regs = regs_with(at(&rf_load), DATA);
    assert_eq!(ctx.switch(&mut regs, &a).unwrap(), Trap::Syscall);
    assert_eq!(regs.regs[1], 0xc);
    // A released space cannot be switched to.
    b.release();
    assert!(ctx.switch(&mut regs_at(at(&rf_load)), &b).is_err());
}

#[test]
fn fp_and_tls_registers_belong_to_their_context() {
    let Some(machine) = machine_with(1) else {
        return;
    };
    let (space, _) = space_with_code(&machine);
    let mut one = Context::new(&machine);
    let mut two = Context::new(&machine);
    let mut r1 = regs_at(at(&rf_fp));
    r1.regs[0] = 0x1111_2222_3333_4444;
    let mut r2 = regs_at(at(&rf_fp));
    r2.regs[0] = 0x5555_6666_7777_8888;
    // Both load d0 on the one vCPU, then read it back.
    assert_eq!(one.switch(&mut r1, &space).unwrap(), Trap::Syscall);
    assert_eq!(two.switch(&mut r2, &space).unwrap(), Trap::Syscall);
    assert_eq!(r1.fp.v[0] as u64, 0x1111_2222_3333_4444);
    assert_eq!(one.switch(&mut r1, &space).unwrap(), Trap::Syscall);
    assert_eq!(two.switch(&mut r2, &space).unwrap(), Trap::Syscall);
    assert_eq!(r1.regs[0], 0x1111_2222_3333_4444);
    assert_eq!(r2.regs[0], 0x5555_6666_7777_8888);

    let mut t1 = regs_at(at(&rf_tls));
    t1.regs[0] = 0x7000_1000;
    let mut t2 = regs_at(at(&rf_tls));
    t2.regs[0] = 0x7000_2000;
    assert_eq!(one.switch(&mut t1, &space).unwrap(), Trap::Syscall);
    assert_eq!(
        t1.tpidr_el0, 0x7000_1000,
        "the application's TPIDR_EL0 reaches the sentry"
    );
    assert_eq!(two.switch(&mut t2, &space).unwrap(), Trap::Syscall);
    // The sentry changes it (as clone with CLONE_SETTLS would).
    t1.tpidr_el0 = 0x7000_1234;
    assert_eq!(one.switch(&mut t1, &space).unwrap(), Trap::Syscall);
    assert_eq!(two.switch(&mut t2, &space).unwrap(), Trap::Syscall);
    assert_eq!(t1.regs[0], 0x7000_1234);
    assert_eq!(t2.regs[0], 0x7000_2000);
}

/// How a test's switches run: exit-per-trap from the host, or in guest mode.
#[derive(Clone)]
struct Runner(Option<Arc<GuestMode>>);

impl Runner {
    fn both(machine: &Arc<Machine>) -> [Runner; 2] {
        [
            Runner(None),
            Runner(Some(GuestMode::new(machine).expect("guest mode"))),
        ]
    }

    fn name(&self) -> &'static str {
        if self.0.is_some() {
            "guest mode"
        } else {
            "exit-per-trap"
        }
    }

    /// Runs `f` on this thread the way switches need (inside guest mode's `run`).
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let Some(guest) = &self.0 else { return f() };
        let mut out = None;
        guest.run(|| out = Some(f())).expect("guest mode runs");
        out.expect("the closure ran")
    }

    fn switch(&self, ctx: &mut Context, regs: &mut TaskRegs, space: &AddressSpace) -> Trap {
        match &self.0 {
            Some(guest) => ctx.switch_in_guest(guest, regs, space),
            None => ctx.switch(regs, space),
        }
        .expect("switch")
    }

    /// Switches until the application traps with something other than an interrupt.
    fn switch_past_interrupts(
        &self,
        ctx: &mut Context,
        regs: &mut TaskRegs,
        space: &AddressSpace,
    ) -> Trap {
        loop {
            match self.switch(ctx, regs, space) {
                Trap::Interrupted => continue,
                other => return other,
            }
        }
    }
}

#[test]
fn an_interrupt_takes_a_spinning_application_out_in_both_modes() {
    let Some(machine) = machine_with(2) else {
        return;
    };
    for runner in Runner::both(&machine) {
        let (space, pages) = space_with_code(&machine);
        let flag = data_page(
            &machine,
            &pages,
            &space,
            DATA,
            Perms::READ | Perms::WRITE,
            0,
        );
        let mut ctx = Context::new(&machine);
        let interrupter = ctx.interrupter();
        let mut regs = regs_with(at(&rf_spin), DATA);
        regs.regs[5] = 0x5555;
        let kicker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let sent = Instant::now();
            interrupter.interrupt();
            sent
        });
        let trap = runner.run(|| runner.switch(&mut ctx, &mut regs, &space));
        let latency = kicker.join().unwrap().elapsed();
        let mode = runner.name();
        eprintln!("{mode}: interrupt to return {latency:?}");
        assert_eq!(trap, Trap::Interrupted, "{mode}");
        assert!(latency < Duration::from_secs(1), "{mode}");
        assert!(
            (at(&rf_spin)..at(&rf_spin) + 12).contains(&regs.pc),
            "{mode}: stopped inside the loop, pc {:#x}",
            regs.pc
        );
        assert_eq!(
            regs.regs[5], 0x5555,
            "{mode}: registers survive the interrupt"
        );
        // Set the flag; the same loop, resumed, sees it and traps.
        machine.memory().write(flag, &1u64.to_le_bytes()).unwrap();
        let trap = runner.run(|| runner.switch(&mut ctx, &mut regs, &space));
        assert_eq!(trap, Trap::Syscall, "{mode}");
    }
}

#[test]
fn more_spinning_threads_than_vcpus_all_get_to_run_in_both_modes() {
    // One vCPU: the spinner holds it until the setter runs, which needs the vCPU.
    let Some(machine) = machine_with(1) else {
        return;
    };
    for runner in Runner::both(&machine) {
        let (space, pages) = space_with_code(&machine);
        data_page(
            &machine,
            &pages,
            &space,
            DATA,
            Perms::READ | Perms::WRITE,
            0,
        );
        let space = Arc::new(space);
        let spinner = {
            let (machine, space, runner) = (machine.clone(), space.clone(), runner.clone());
            std::thread::spawn(move || {
                runner.run(|| {
                    let mut ctx = Context::new(&machine);
                    let mut regs = regs_with(at(&rf_spin), DATA);
                    runner.switch_past_interrupts(&mut ctx, &mut regs, &space)
                })
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        let trap = runner.run(|| {
            let mut ctx = Context::new(&machine);
            let mut regs = regs_with(at(&rf_set_flag), DATA);
            regs.regs[1] = 1;
            runner.switch_past_interrupts(&mut ctx, &mut regs, &space)
        });
        eprintln!(
            "{}: the setter ran after {:?}",
            runner.name(),
            started.elapsed()
        );
        assert_eq!(trap, Trap::Syscall, "{}", runner.name());
        assert_eq!(spinner.join().unwrap(), Trap::Syscall, "{}", runner.name());
    }
}

// --- guest mode: the sentry's thread at EL1 ---

/// Runs `f` in guest mode on this thread (the test's switches then use `switch_in_guest`).
fn in_guest_mode<R>(machine: &Arc<Machine>, f: impl FnOnce(&GuestMode) -> R) -> R {
    let guest = GuestMode::new(machine).expect("guest mode");
    let mut out = None;
    guest
        .run(|| out = Some(f(&guest)))
        .expect("guest mode runs");
    out.expect("the closure ran")
}

#[test]
fn guest_mode_syscalls_come_back_without_exits() {
    let Some(machine) = machine_with(2) else {
        return;
    };
    let (space, _) = space_with_code(&machine);
    let mut ctx = Context::new(&machine);
    const N: u64 = 20_000;
    let (exits, other_exits) = in_guest_mode(&machine, |guest| {
        let mut regs = regs_at(at(&rf_syscalls));
        regs.regs[1..6].copy_from_slice(&[11, 12, 13, 14, 15]);
        // Warm up: the first switches map the sentry's code, stack and data into its table.
        for _ in 0..100 {
            ctx.switch_in_guest(guest, &mut regs, &space).unwrap();
        }
        regs = regs_at(at(&rf_syscalls));
        regs.regs[1..6].copy_from_slice(&[11, 12, 13, 14, 15]);
        let before = machine.exit_stats();
        let mut sum = 0u64;
        for i in 0..N {
            let trap = ctx.switch_in_guest(guest, &mut regs, &space).unwrap();
            assert_eq!(trap, Trap::Syscall, "syscall {i} at pc {:#x}", regs.pc);
            assert_eq!(regs.syscall_nr(), i);
            assert_eq!(regs.regs[20], sum);
            assert_eq!(regs.syscall_args()[1..], [11, 12, 13, 14, 15]);
            regs.set_return(i * 3);
            sum += i * 3;
        }
        let after = machine.exit_stats().since(&before);
        (after.total(), after.get(ExitReason::Other))
    });
    eprintln!("{N} application syscalls in guest mode: {exits} VM exits");
    assert_eq!(other_exits, 0);
    assert!(exits <= 4, "{exits} exits for {N} syscalls");
}

#[test]
fn guest_mode_leaves_for_host_calls_and_keeps_the_sentry_state() {
    let Some(machine) = machine_with(2) else {
        return;
    };
    let (space, pages) = space_with_code(&machine);
    data_page(&machine, &pages, &space, DATA, Perms::READ, 0x77);
    let mut ctx = Context::new(&machine);
    in_guest_mode(&machine, |guest| {
        // Sentry state that must survive: floating point, a heap value, a host file.
        let mut acc = 1.5f64;
        let mut seen = Vec::new();
        for round in 0..200u64 {
            let mut regs = regs_with(at(&rf_load), DATA);
            let trap = ctx.switch_in_guest(guest, &mut regs, &space).unwrap();
            assert_eq!(trap, Trap::Syscall);
            assert_eq!(regs.regs[1], 0x77);
            acc = acc * 1.25 - 0.5;
            seen.push(round);
            if round % 20 == 0 {
                // Host calls from guest mode: they leave it and run natively.
                let pid = std::process::id();
                let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
                assert!(stat.starts_with(&format!("{pid} ")));
            }
        }
        let mut expect = 1.5f64;
        for _ in 0..200 {
            expect = expect * 1.25 - 0.5;
        }
        assert_eq!(acc.to_bits(), expect.to_bits());
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
    });
    // Back on the host, the exit-per-trap switch still works on the same machine.
    let mut regs = regs_with(at(&rf_load), DATA);
    assert_eq!(ctx.switch(&mut regs, &space).unwrap(), Trap::Syscall);
}

#[test]
fn guest_mode_faults_exceptions_and_fp_state() {
    let Some(machine) = machine_with(1) else {
        return;
    };
    let (space, pages) = space_with_code(&machine);
    let mut one = Context::new(&machine);
    let mut two = Context::new(&machine);
    in_guest_mode(&machine, |guest| {
        let mut regs = regs_with(at(&rf_store), DATA + 0x40);
        let trap = one.switch_in_guest(guest, &mut regs, &space).unwrap();
        assert_eq!(
            trap,
            Trap::Fault {
                addr: DATA + 0x40,
                access: Access::Write,
                present: false
            }
        );
        let offset = data_page(
            &machine,
            &pages,
            &space,
            DATA,
            Perms::READ | Perms::WRITE,
            0,
        );
        regs.regs[1] = 0xfeed;
        assert_eq!(
            one.switch_in_guest(guest, &mut regs, &space).unwrap(),
            Trap::Syscall
        );
        assert_eq!(read_word(&machine, offset + 0x40), 0xfeed);

        let mut regs = regs_at(at(&rf_brk));
        assert!(matches!(
            one.switch_in_guest(guest, &mut regs, &space).unwrap(),
            Trap::Exception { vector: 0x3c, .. }
        ));
        // The kernel's pages stay out of reach from guest mode too.
        let mut regs = regs_with(at(&rf_load), KERNEL_FRAME);
        assert_eq!(
            one.switch_in_guest(guest, &mut regs, &space).unwrap(),
            Trap::Fault {
                addr: KERNEL_FRAME,
                access: Access::Read,
                present: true
            }
        );

        let mut r1 = regs_at(at(&rf_fp));
        r1.regs[0] = 0x1111_2222_3333_4444;
        let mut r2 = regs_at(at(&rf_fp));
        r2.regs[0] = 0x5555_6666_7777_8888;
        let sentry_fp = std::hint::black_box(2.75f64);
        assert_eq!(
            one.switch_in_guest(guest, &mut r1, &space).unwrap(),
            Trap::Syscall
        );
        assert_eq!(
            two.switch_in_guest(guest, &mut r2, &space).unwrap(),
            Trap::Syscall
        );
        assert_eq!(
            one.switch_in_guest(guest, &mut r1, &space).unwrap(),
            Trap::Syscall
        );
        assert_eq!(
            two.switch_in_guest(guest, &mut r2, &space).unwrap(),
            Trap::Syscall
        );
        assert_eq!(r1.regs[0], 0x1111_2222_3333_4444);
        assert_eq!(r2.regs[0], 0x5555_6666_7777_8888);
        assert_eq!(std::hint::black_box(sentry_fp) * 2.0, 5.5);
    });
}

#[test]
fn guest_mode_return_addresses_signed_on_the_host_authenticate_in_the_guest() {
    let Some(machine) = machine_with(1) else {
        return;
    };
    let (space, _) = space_with_code(&machine);
    let mut ctx = Context::new(&machine);
    in_guest_mode(&machine, |guest| {
        // Be on the host first (a host call leaves guest mode).
        let mut regs = regs_at(at(&rf_syscalls));
        ctx.switch_in_guest(guest, &mut regs, &space).unwrap();
        assert!(std::fs::metadata("/").is_ok());
        // SAFETY: the function signs, enters guest mode (the test runs inside `run`) and
        // returns CurrentEL; its return must authenticate at EL1.
        let el = unsafe { rf_pac_across_entry() };
        assert_eq!(el, 4, "entered guest mode");
        // And the reverse: signed in the guest, authenticated after a host call left it.
        // SAFETY: calls getpid.
        let pid = unsafe { rf_pac_across_leave() };
        assert_eq!(pid as u32, std::process::id());
        assert_eq!(
            ctx.switch_in_guest(guest, &mut regs, &space).unwrap(),
            Trap::Syscall
        );
    });
}
