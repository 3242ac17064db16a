//! `cargo bench --bench app_syscall`: what an application trap costs on the KVM platform,
//! against a native `getpid` in the same run.
//!
//! Reports native `getpid`, the application's syscall → `Trap::Syscall` → resume round trip,
//! an exception round trip (`ud2`, `udf`) and a page-fault round trip, each with VM exits per
//! operation, in exit-per-trap mode (a `Context` switched from the host) and, on the hardware
//! backend, in guest mode (switched by the sentry thread at guest ring 0 / EL1), on x86_64
//! and aarch64. Medians of several repetitions; the table also goes to
//! `target/ringfence-bench/app_syscall.{md,csv}`.

use std::path::PathBuf;
use std::time::Instant;

use platform_kvm::{Machine, MachineConfig};

const REPS: usize = 7;

struct Row {
    name: &'static str,
    ns: f64,
    exits_per_op: Option<f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn native_getpid(iters: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        // SAFETY: getpid takes no arguments and cannot fail.
        std::hint::black_box(unsafe { libc::syscall(libc::SYS_getpid) });
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn main() {
    let quick =
        std::env::args().any(|a| a == "--quick") || std::env::var_os("RF_BENCH_QUICK").is_some();
    let iters = if quick { 500 } else { 5_000 };
    let machine = match Machine::new(MachineConfig {
        vcpus: 1,
        memory_size: 16 << 20,
        table_memory: 4 << 20,
        ..MachineConfig::default()
    }) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("app_syscall: skipped: {e}");
            return;
        }
    };
    let rows = arch::measure(&machine, iters);
    let native = rows[0].ns;
    let title = format!(
        "app_syscall — KVM {} backend, {} (median of {REPS} runs of {iters})",
        machine.backend(),
        if std::env::var_os("RF_IN_VM").is_some() {
            "inside an emulated machine (ci/vm-x86_64, ci/vm-aarch64): only ratios mean anything"
        } else {
            "this host"
        }
    );
    let mut md = format!(
        "{title}\n\n| operation | ns/op | ratio to native getpid | VM exits/op |\n|---|---:|---:|---:|\n"
    );
    let mut csv = String::from("operation,ns_per_op,ratio_to_native,vm_exits_per_op\n");
    for r in &rows {
        let exits = r.exits_per_op.map_or("—".into(), |e| format!("{e:.2}"));
        md += &format!(
            "| {} | {:.0} | {:.1}× | {} |\n",
            r.name,
            r.ns,
            r.ns / native,
            exits
        );
        csv += &format!(
            "{},{:.1},{:.2},{}\n",
            r.name,
            r.ns,
            r.ns / native,
            r.exits_per_op.map_or(String::new(), |e| format!("{e:.3}"))
        );
    }
    print!("{md}");
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("ringfence-bench");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("app_syscall.md"), &md);
        let _ = std::fs::write(dir.join("app_syscall.csv"), &csv);
        println!("written to {}", dir.display());
    }
}

#[cfg(target_arch = "x86_64")]
mod arch {
    use std::time::Instant;

    use abi::x86_64::UserRegs;
    use platform_kvm::{AddressSpace, Backend, Context, GuestFpu, GuestMode, Machine, Perms, Trap};
    use ringfence_tests::snippets;

    use super::{REPS, Row, median, native_getpid};

    const CODE: u64 = 0x40_0000;

    fn setup(machine: &std::sync::Arc<Machine>, code: &[u8]) -> AddressSpace {
        let space = AddressSpace::new(machine).expect("address space");
        machine.memory().write(0, code).expect("code");
        space
            .map(CODE, 4096, 0, Perms::READ | Perms::EXECUTE)
            .expect("map");
        space
    }

    /// Timed round trips through `switch` (after one to warm up: first entry, TLB, FPU
    /// hand-over), with the VM exits they took, per operation.
    fn timed(
        machine: &Machine,
        iters: u64,
        prepare: impl Fn(&mut UserRegs, u64),
        expect: impl Fn(&Trap, &UserRegs) -> bool,
        mut switch: impl FnMut(&mut UserRegs) -> Result<Trap, platform_kvm::Error>,
    ) -> Result<(f64, f64), platform_kvm::Error> {
        let mut regs = UserRegs {
            rip: CODE,
            eflags: 0x202,
            r13: u64::MAX,
            ..UserRegs::default()
        };
        prepare(&mut regs, 0);
        switch(&mut regs)?;
        let before = machine.exit_stats();
        let start = Instant::now();
        for i in 0..iters {
            prepare(&mut regs, i);
            let trap = switch(&mut regs)?;
            if !expect(&trap, &regs) {
                return Err(platform_kvm::Error::GuestFailure(format!(
                    "unexpected {trap:?}"
                )));
            }
        }
        let ns = start.elapsed().as_nanos() as f64 / iters as f64;
        let exits = machine.exit_stats().since(&before).total() as f64 / iters as f64;
        Ok((ns, exits))
    }

    /// Round trips of `code` in exit-per-trap mode (a `Context` switched from the host).
    fn round_trips(
        machine: &std::sync::Arc<Machine>,
        code: &[u8],
        iters: u64,
        prepare: impl Fn(&mut UserRegs, u64),
        expect: impl Fn(&Trap, &UserRegs) -> bool,
    ) -> (f64, f64) {
        let space = setup(machine, code);
        let mut ctx = Context::new(machine);
        timed(machine, iters, prepare, expect, |r| ctx.switch(r, &space)).expect("switches")
    }

    /// [`round_trips`] from guest mode: the switches run at guest ring 0.
    fn guest_round_trips(
        machine: &std::sync::Arc<Machine>,
        guest: &GuestMode,
        code: &[u8],
        iters: u64,
        prepare: impl Fn(&mut UserRegs, u64),
        expect: impl Fn(&Trap, &UserRegs) -> bool,
    ) -> (f64, f64) {
        let space = setup(machine, code);
        let mut fpu = GuestFpu::new();
        let (measured, _) = guest
            .run(|| {
                timed(machine, iters, prepare, expect, |r| {
                    guest.switch(r, &mut fpu, &space)
                })
            })
            .expect("guest mode");
        measured.expect("guest-mode switches")
    }

    /// The rows of the table (native getpid first).
    pub fn measure(machine: &std::sync::Arc<Machine>, iters: u64) -> Vec<Row> {
        let mut getpid = Vec::new();
        let mut syscall = (Vec::new(), Vec::new());
        let mut exception = (Vec::new(), Vec::new());
        let mut fault = (Vec::new(), Vec::new());
        let mut mmio = (Vec::new(), Vec::new());
        let guest = (machine.backend() == Backend::Hardware)
            .then(|| GuestMode::new(machine).expect("guest mode"));
        let mut guest_syscall = (Vec::new(), Vec::new());
        let mut guest_fault = (Vec::new(), Vec::new());
        for _ in 0..REPS {
            if let Some(guest) = &guest {
                let (ns, ex) = guest_round_trips(
                    machine,
                    guest,
                    snippets::syscalls(),
                    iters,
                    |r, i| r.rax = i ^ 0x5555,
                    |t, _| *t == Trap::Syscall,
                );
                guest_syscall.0.push(ns);
                guest_syscall.1.push(ex);
                let (ns, ex) = guest_round_trips(
                    machine,
                    guest,
                    snippets::touch(),
                    iters,
                    |r, _| {
                        r.rip = CODE;
                        r.rdi = 0x7000_0000;
                    },
                    |t, _| matches!(t, Trap::Fault { .. }),
                );
                guest_fault.0.push(ns);
                guest_fault.1.push(ex);
            }
            getpid.push(native_getpid(iters * 20));
            let (ns, ex) = round_trips(
                machine,
                snippets::syscalls(),
                iters,
                |r, i| r.rax = i ^ 0x5555,
                |t, _| *t == Trap::Syscall,
            );
            syscall.0.push(ns);
            syscall.1.push(ex);
            let (ns, ex) = round_trips(
                machine,
                snippets::ud2(),
                iters,
                |r, _| r.rip = CODE,
                |t, _| matches!(t, Trap::Exception { vector: 6, .. }),
            );
            exception.0.push(ns);
            exception.1.push(ex);
            let (ns, ex) = round_trips(
                machine,
                snippets::touch(),
                iters,
                |r, _| {
                    r.rip = CODE;
                    r.rdi = 0x7000_0000;
                },
                |t, _| matches!(t, Trap::Fault { .. }),
            );
            fault.0.push(ns);
            fault.1.push(ex);
            // An exit candidate: application code writing the exit page directly (the
            // trampoline's MMIO exit without the `syscall` in front of it).
            let (ns, ex) = round_trips(
                machine,
                snippets::touch(),
                iters,
                |r, _| {
                    r.rip = CODE;
                    r.rdi = CODE;
                    r.rsi = ring0::x86_64::layout::EXIT_PAGE_VA;
                },
                |t, _| matches!(t, Trap::Fault { .. }),
            );
            mmio.0.push(ns);
            mmio.1.push(ex);
        }
        let native = median(getpid);
        let mut rows = vec![
            Row {
                name: "native getpid",
                ns: native,
                exits_per_op: None,
            },
            Row {
                name: "exit-per-trap: ring-3 syscall round trip",
                ns: median(syscall.0),
                exits_per_op: Some(median(syscall.1)),
            },
            Row {
                name: "exit-per-trap: ring-3 exception (ud2) round trip",
                ns: median(exception.0),
                exits_per_op: Some(median(exception.1)),
            },
            Row {
                name: "exit-per-trap: ring-3 page fault round trip",
                ns: median(fault.0),
                exits_per_op: Some(median(fault.1)),
            },
            Row {
                name: "exit-per-trap: ring-3 store to the exit page (MMIO) round trip",
                ns: median(mmio.0),
                exits_per_op: Some(median(mmio.1)),
            },
        ];
        if guest.is_some() {
            rows.insert(
                1,
                Row {
                    name: "guest mode: ring-3 syscall round trip",
                    ns: median(guest_syscall.0),
                    exits_per_op: Some(median(guest_syscall.1)),
                },
            );
            rows.insert(
                2,
                Row {
                    name: "guest mode: ring-3 page fault round trip",
                    ns: median(guest_fault.0),
                    exits_per_op: Some(median(guest_fault.1)),
                },
            );
        }
        rows
    }
}

#[cfg(target_arch = "aarch64")]
mod arch {
    use std::sync::Arc;
    use std::time::Instant;

    use abi::aarch64::{TaskRegs, UserRegs};
    use platform_kvm::{AddressSpace, Context, GuestMode, Machine, Perms, Trap};

    use super::{REPS, Row, median, native_getpid};

    const CODE: u64 = 0x40_0000;
    /// Where the page-fault round trip loads from: never mapped.
    const UNMAPPED: u64 = 0x7000_0000;
    /// The programs in the code page: a syscall loop, a load, an undefined instruction.
    const SYSCALL: u64 = CODE;
    const TOUCH: u64 = CODE + 8;
    const UDF: u64 = CODE + 16;

    core::arch::global_asm!(
        ".pushsection .rodata.rf_bench_code, \"a\"",
        ".balign 4",
        ".globl rf_bench_code",
        "rf_bench_code:",
        "1: svc #0",
        "b 1b",
        "ldr x1, [x0]",
        "svc #0",
        "udf #0",
        ".globl rf_bench_code_end",
        "rf_bench_code_end:",
        ".popsection",
    );

    unsafe extern "C" {
        safe static rf_bench_code: u8;
        safe static rf_bench_code_end: u8;
    }

    fn code() -> &'static [u8] {
        let start = std::ptr::from_ref(&rf_bench_code);
        let len = std::ptr::from_ref(&rf_bench_code_end) as usize - start as usize;
        // SAFETY: both symbols delimit one assembled block of this binary's read-only data.
        unsafe { std::slice::from_raw_parts(start, len) }
    }

    /// Timed round trips from `pc` through `switch` (after one to warm up), with the VM
    /// exits they took, per operation.
    fn timed(
        machine: &Machine,
        iters: u64,
        pc: u64,
        expect: impl Fn(&Trap) -> bool,
        mut switch: impl FnMut(&mut TaskRegs) -> Result<Trap, platform_kvm::Error>,
    ) -> (f64, f64) {
        let start_regs = TaskRegs {
            user: UserRegs {
                pc,
                regs: [UNMAPPED; 31],
                ..UserRegs::default()
            },
            tpidr_el0: 0,
            fp: Default::default(),
        };
        let mut regs = start_regs;
        switch(&mut regs).expect("switch");
        let before = machine.exit_stats();
        let start = Instant::now();
        for _ in 0..iters {
            regs.pc = pc;
            let trap = switch(&mut regs).expect("switch");
            assert!(expect(&trap), "unexpected {trap:?}");
        }
        let ns = start.elapsed().as_nanos() as f64 / iters as f64;
        let exits = machine.exit_stats().since(&before).total() as f64 / iters as f64;
        (ns, exits)
    }

    /// A measured operation: its name, whether it runs in guest mode, where the program
    /// starts, and the trap it must end in.
    type Case<'a> = (&'static str, bool, u64, &'a dyn Fn(&Trap) -> bool);

    /// The rows of the table (native getpid first).
    pub fn measure(machine: &Arc<Machine>, iters: u64) -> Vec<Row> {
        let space = AddressSpace::new(machine).expect("address space");
        machine.memory().write(0, code()).expect("code");
        space
            .map(CODE, 4096, 0, Perms::READ | Perms::EXECUTE)
            .expect("map");
        let guest = GuestMode::new(machine).expect("guest mode");
        let mut ctx = Context::new(machine);
        let is_syscall = |t: &Trap| *t == Trap::Syscall;
        let is_fault = |t: &Trap| matches!(t, Trap::Fault { .. });
        let is_udf = |t: &Trap| matches!(t, Trap::Exception { vector: 0, .. });
        let cases: [Case; 5] = [
            (
                "guest mode: EL0 syscall round trip",
                true,
                SYSCALL,
                &is_syscall,
            ),
            (
                "guest mode: EL0 page fault round trip",
                true,
                TOUCH,
                &is_fault,
            ),
            (
                "exit-per-trap: EL0 syscall round trip",
                false,
                SYSCALL,
                &is_syscall,
            ),
            (
                "exit-per-trap: EL0 exception (udf) round trip",
                false,
                UDF,
                &is_udf,
            ),
            (
                "exit-per-trap: EL0 page fault round trip",
                false,
                TOUCH,
                &is_fault,
            ),
        ];
        let mut getpid = Vec::new();
        let mut results = vec![(Vec::new(), Vec::new()); cases.len()];
        for _ in 0..REPS {
            getpid.push(native_getpid(iters * 20));
            for ((_, in_guest, pc, expect), result) in cases.iter().zip(&mut results) {
                let (ns, exits) = if *in_guest {
                    let mut out = None;
                    guest
                        .run(|| {
                            out = Some(timed(machine, iters, *pc, expect, |r| {
                                ctx.switch_in_guest(&guest, r, &space)
                            }));
                        })
                        .expect("guest mode");
                    out.expect("guest mode ran")
                } else {
                    timed(machine, iters, *pc, expect, |r| ctx.switch(r, &space))
                };
                result.0.push(ns);
                result.1.push(exits);
            }
        }
        let mut rows = vec![Row {
            name: "native getpid",
            ns: median(getpid),
            exits_per_op: None,
        }];
        for ((name, ..), (ns, exits)) in cases.iter().zip(results) {
            rows.push(Row {
                name,
                ns: median(ns),
                exits_per_op: Some(median(exits)),
            });
        }
        rows
    }
}
