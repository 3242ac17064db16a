//! `ringfence platform` and `ringfence check`: what this host offers, and a small built-in
//! program run at guest ring 3 to prove it works and to show what a trap costs.
//!
//! The program's few syscalls (write to stdout, getpid, exit_group) are answered here; the
//! general system-call layer is the sentry's job.

use std::error::Error;
use std::process::ExitCode;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

pub use program::{platform, run};

mod program {
    use std::time::Instant;

    use abi::errno::Errno;
    #[cfg(target_arch = "aarch64")]
    use abi::syscalls::aarch64::{name, nr};
    #[cfg(target_arch = "x86_64")]
    use abi::syscalls::x86_64::{name, nr};
    use platform_kvm::{AddressSpace, Context, Machine, Perms, Trap};

    use std::io::Write;

    use platform_kvm::{Backend, MachineConfig};

    use super::*;

    fn config(backend: Option<&str>) -> Result<MachineConfig> {
        let backend = match backend {
            None => None,
            Some("hardware") => Some(Backend::Hardware),
            Some("software") => Some(Backend::Software),
            Some(other) => {
                return Err(
                    format!("unknown backend {other:?} (expected hardware or software)").into(),
                );
            }
        };
        Ok(MachineConfig {
            vcpus: 1,
            memory_size: 64 << 20,
            table_memory: 4 << 20,
            backend,
            ..MachineConfig::default()
        })
    }

    pub fn platform() -> Result<ExitCode> {
        use sentry::platform::Platform;
        let kvm = sentry::platform::kvm::Kvm::new(config(None)?)?;
        println!("platform: {}", kvm.description());
        Ok(ExitCode::SUCCESS)
    }

    #[cfg(target_arch = "x86_64")]
    core::arch::global_asm!(
        ".pushsection .rodata.ringfence_check, \"a\"",
        ".globl ringfence_check_program",
        "ringfence_check_program:",
        "mov eax, 1", // write(1, message, len)
        "mov edi, 1",
        "lea rsi, [rip + 5f]",
        "lea rdx, [rip + 6f]",
        "sub rdx, rsi",
        "syscall",
        "xor r12d, r12d",
        "2:",
        "mov eax, 39", // getpid, r13 times; the sandbox's pid is 1
        "syscall",
        "cmp rax, 1",
        "jne 4f",
        "inc r12",
        "cmp r12, r13",
        "jb 2b",
        "mov eax, 231", // exit_group(0)
        "xor edi, edi",
        "syscall",
        "4:",
        "mov eax, 231", // exit_group(3): getpid returned something else
        "mov edi, 3",
        "syscall",
        "ud2",
        "5:",
        ".ascii \"hello from guest ring 3\\n\"",
        "6:",
        ".globl ringfence_check_program_end",
        "ringfence_check_program_end:",
        ".popsection",
    );

    #[cfg(target_arch = "aarch64")]
    core::arch::global_asm!(
        ".pushsection .rodata.ringfence_check, \"a\"",
        ".globl ringfence_check_program",
        "ringfence_check_program:",
        "mov x8, #64", // write(1, message, len)
        "mov x0, #1",
        "adr x1, 5f",
        "adr x2, 6f",
        "sub x2, x2, x1",
        "svc #0",
        "mov x20, #0",
        "2:",
        "mov x8, #172", // getpid, x19 times; the sandbox's pid is 1
        "svc #0",
        "cmp x0, #1",
        "b.ne 4f",
        "add x20, x20, #1",
        "cmp x20, x19",
        "b.lo 2b",
        "mov x8, #94", // exit_group(0)
        "mov x0, #0",
        "svc #0",
        "4:",
        "mov x8, #94", // exit_group(3): getpid returned something else
        "mov x0, #3",
        "svc #0",
        "udf #0",
        "5:",
        ".ascii \"hello from EL0\\n\"",
        "6:",
        ".globl ringfence_check_program_end",
        "ringfence_check_program_end:",
        ".popsection",
    );

    /// The registers the program starts with: at `CODE`, `syscalls` getpid calls to make.
    #[cfg(target_arch = "x86_64")]
    fn start_regs(syscalls: u64) -> sentry::platform::Regs {
        abi::x86_64::UserRegs {
            rip: CODE,
            eflags: 0x202,
            r13: syscalls,
            ..Default::default()
        }
    }

    #[cfg(target_arch = "aarch64")]
    fn start_regs(syscalls: u64) -> sentry::platform::Regs {
        let mut x = [0; 31];
        x[19] = syscalls;
        abi::aarch64::TaskRegs {
            user: abi::aarch64::UserRegs {
                regs: x,
                pc: CODE,
                ..Default::default()
            },
            tpidr_el0: 0,
            fp: Default::default(),
        }
    }

    unsafe extern "C" {
        safe static ringfence_check_program: u8;
        safe static ringfence_check_program_end: u8;
    }

    fn program() -> &'static [u8] {
        let start = core::ptr::from_ref(&ringfence_check_program);
        let len = core::ptr::from_ref(&ringfence_check_program_end) as usize - start as usize;
        // SAFETY: the two labels delimit one block of this binary's read-only data.
        unsafe { core::slice::from_raw_parts(start, len) }
    }

    const CODE: u64 = 0x40_0000;
    /// Where the program runs, in the architecture's words.
    const USER_LEVEL: &str = if cfg!(target_arch = "aarch64") {
        "EL0"
    } else {
        "guest ring 3"
    };
    const PAGE: u64 = 4096;

    /// Copy `len` bytes of application memory at `addr`, page by page.
    fn copy_in(machine: &Machine, space: &AddressSpace, addr: u64, len: u64) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(len as usize);
        let mut at = addr;
        while at < addr.checked_add(len)? {
            let (offset, perms) = space.translate(at & !(PAGE - 1))?;
            if !perms.contains(Perms::READ) {
                return None;
            }
            let chunk = (PAGE - at % PAGE).min(addr + len - at);
            let mut buf = vec![0u8; chunk as usize];
            machine.memory().read(offset + at % PAGE, &mut buf).ok()?;
            out.extend_from_slice(&buf);
            at += chunk;
        }
        Some(out)
    }

    pub fn run(syscalls: u64, backend: Option<&str>) -> Result<ExitCode> {
        let syscalls = syscalls.max(1);
        let kvm = sentry::platform::kvm::Kvm::new(config(backend)?)?;
        let machine = kvm.machine().clone();
        let space = AddressSpace::new(&machine)?;
        machine.memory().write(0, program())?;
        space.map(CODE, PAGE, 0, Perms::READ | Perms::EXECUTE)?;
        let mut ctx = Context::new(&machine);
        let mut regs = start_regs(syscalls);
        let mut getpids = 0u64;
        let mut started = None;
        let exits_before = machine.exit_stats();
        let mut reported_enosys = std::collections::HashSet::new();
        let status = loop {
            let trap = ctx.switch(&mut regs, &space)?;
            if trap != Trap::Syscall {
                eprintln!(
                    "ringfence check: the program stopped with {trap:?} at {:#x}",
                    regs.ip()
                );
                break 128 + 11;
            }
            let [a0, a1, a2, ..] = regs.syscall_args();
            let ret: std::result::Result<u64, Errno> = match regs.syscall_nr() as u32 {
                nr::WRITE if a0 == 1 || a0 == 2 => match copy_in(&machine, &space, a1, a2) {
                    Some(bytes) => {
                        let mut out = std::io::stdout().lock();
                        out.write_all(&bytes).and_then(|()| out.flush())?;
                        Ok(a2)
                    }
                    None => Err(Errno::EFAULT),
                },
                nr::WRITE => Err(Errno::EBADF),
                nr::GETPID => {
                    getpids += 1;
                    started.get_or_insert_with(Instant::now);
                    Ok(1)
                }
                nr::EXIT_GROUP => break a0 as i32 & 0xff,
                n => {
                    if reported_enosys.insert(n) {
                        let name = name(n).unwrap_or("unknown");
                        tracing::warn!("unsupported syscall {name} ({n}): ENOSYS");
                    }
                    Err(Errno::ENOSYS)
                }
            };
            regs.set_return(ret.unwrap_or_else(|e| e.as_syscall_return()));
        };
        let elapsed = started.map(|s| s.elapsed()).unwrap_or_default();
        let exits = machine.exit_stats().since(&exits_before);
        eprintln!(
            "ringfence check: {} — {getpids} syscalls at {USER_LEVEL}, {:.0} ns each, \
             {:.2} VM exits per syscall ({exits}); exit status {status}",
            sentry::platform::Platform::description(&kvm),
            elapsed.as_nanos() as f64 / getpids.max(1) as f64,
            exits.total() as f64 / (getpids + 2) as f64,
        );
        Ok(ExitCode::from(status as u8))
    }
}
