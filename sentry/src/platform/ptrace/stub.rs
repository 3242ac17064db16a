//! Creating a stub process: fork the sentry, strip the child of everything of the sentry,
//! and leave it stopped at the stub's `ready` `int3`, traced by the calling thread (the
//! platform's stub thread, see the module docs).
//!
//! The child of a multi-threaded process may only make async-signal-safe calls, so
//! everything it needs (the seccomp program, the stub bytes) is prepared before the fork and
//! the child uses raw system calls only. Until `PTRACE_TRACEME` succeeds a failure ends the
//! child with a distinctive exit status; after it, the child stops at an `int3` with the
//! failed step in `rdi` and the errno in `rsi`, which the tracer reads.

use std::arch::asm;
use std::io;
use std::os::fd::RawFd;

use super::error::{Error, Result};
use super::stub_asm;
use super::sys::{self, Pid, WaitStatus};
use super::{STUB_ADDR, STUB_SIZE};

/// The descriptor the memory file has in every stub.
pub const STUB_MEMFD: u64 = 0;

/// The system calls the stub page is allowed to make: its own set-up (`munmap`), injected
/// mapping changes (`mmap`, `mprotect`, `munmap`), new tracees (`clone`, `prctl`, `pause`)
/// and `exit`. Any other call from the stub page kills the stub; any call from elsewhere
/// (application code never reaches the host: `PTRACE_SYSEMU` stops it first, except for the
/// vsyscall page's emulation) gets `ENOSYS`.
const STUB_SYSCALLS: [u32; 7] = [
    9,   // mmap
    10,  // mprotect
    11,  // munmap
    34,  // pause
    56,  // clone
    60,  // exit
    157, // prctl
];

// x86_64 system call numbers the child uses.
const NR_MMAP: i64 = 9;
const NR_MPROTECT: i64 = 10;
const NR_RT_SIGACTION: i64 = 13;
const NR_RT_SIGPROCMASK: i64 = 14;
const NR_PTRACE: i64 = 101;
const NR_SETPGID: i64 = 109;
const NR_GETPPID: i64 = 110;
const NR_SIGALTSTACK: i64 = 131;
const NR_PERSONALITY: i64 = 135;
const NR_PRCTL: i64 = 157;
const NR_EXIT_GROUP: i64 = 231;
const NR_DUP3: i64 = 292;
const NR_PRLIMIT64: i64 = 302;
const NR_SECCOMP: i64 = 317;
const NR_CLOSE_RANGE: i64 = 436;
const NR_RSEQ: i64 = 334;

const ARCH_GET_FS: u64 = 0x1003;
const RSEQ_FLAG_UNREGISTER: u64 = 1;
/// The signature glibc registers restartable sequences with on x86.
const RSEQ_SIG: u64 = 0x5305_3053;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const SECCOMP_SET_MODE_FILTER: u64 = 1;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

/// Exit statuses of a child that fails before it is traced.
const EXIT_PDEATHSIG: i32 = 101;
const EXIT_PARENT_GONE: i32 = 102;
/// `PTRACE_TRACEME` failed: 128 + errno.
const EXIT_TRACEME: i32 = 128;

/// The steps after `PTRACE_TRACEME`, reported in `rdi` of a failure stop.
const STEPS: [&str; 13] = [
    "setpgid",
    "prlimit(RLIMIT_CORE)",
    "resetting signal dispositions",
    "sigaltstack",
    "rt_sigprocmask",
    "moving the memory file to descriptor 0",
    "closing the sentry's descriptors (close_range, Linux 5.9)",
    "placing the stub page (the stack is there)",
    "mapping the stub page",
    "mprotect of the stub page",
    "PR_SET_NO_NEW_PRIVS",
    "installing the seccomp filter",
    "unregistering the inherited rseq area (restartable sequences)",
];

/// The kernel's `struct sigaction` on x86_64.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// The calling thread's restartable-sequences registration, which a fork inherits: the
/// kernel writes to that area (in the thread's TLS) on every return to user space after a
/// preemption or signal, so a stub that unmapped it would get `SIGSEGV`s. The child
/// unregisters it before unmapping.
#[derive(Clone, Copy)]
struct Rseq {
    addr: u64,
    len: u64,
}

/// Where glibc registered this thread's rseq area, if it did (`__rseq_offset` from the
/// thread pointer, `__rseq_size`; glibc 2.35 and later).
fn rseq_registration() -> Option<Rseq> {
    // SAFETY: dlsym with valid C strings; the symbols, when present, are glibc's exported
    // `ptrdiff_t __rseq_offset` and `unsigned int __rseq_size`, read as such.
    let (offset, size) = unsafe {
        let offset = libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_offset".as_ptr());
        let size = libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_size".as_ptr());
        if offset.is_null() || size.is_null() {
            return None;
        }
        (*offset.cast::<isize>(), *size.cast::<u32>())
    };
    if size == 0 {
        return None;
    }
    let mut thread_pointer = 0u64;
    // SAFETY: ARCH_GET_FS stores the FS base through the valid pointer.
    let ret = unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_GET_FS, &raw mut thread_pointer) };
    (ret == 0).then(|| Rseq {
        addr: thread_pointer.wrapping_add_signed(offset as i64),
        // glibc registers at least the original 32-byte area.
        len: u64::from(size).max(32),
    })
}

/// What the child needs, prepared before the fork.
struct ChildArgs {
    parent: Pid,
    rseq: Option<Rseq>,
    memfd: u64,
    code: &'static [u8],
    prog: libc::sock_fprog,
    xsave: bool,
}

/// Fork a stub process holding `memfd` and return its pid once it is stopped at `ready`,
/// traced by the calling thread with `PTRACE_O_EXITKILL`.
pub fn spawn(memfd: RawFd) -> Result<Pid> {
    let mut filter = seccomp_filter();
    let args = ChildArgs {
        parent: sys::getpid(),
        rseq: rseq_registration(),
        memfd: memfd as u64,
        code: stub_asm::code().bytes,
        prog: libc::sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_mut_ptr(),
        },
        xsave: std::arch::is_x86_feature_detected!("xsave"),
    };
    // SAFETY: a raw fork (no exit signal, so the sentry gets no SIGCHLD). The child runs
    // only `child`, which makes raw system calls on data prepared above and never returns.
    let pid = unsafe { libc::syscall(libc::SYS_clone, 0usize, 0usize, 0usize, 0usize, 0usize) };
    if pid < 0 {
        return Err(Error::host("clone of a stub process")(
            io::Error::last_os_error(),
        ));
    }
    if pid == 0 {
        // SAFETY: we are the freshly forked child; see `child`.
        unsafe { child(&args) }
    }
    drop(filter);
    let pid = pid as Pid;
    match finish(pid) {
        Ok(()) => Ok(pid),
        Err(e) => {
            let _ = sys::kill(pid, libc::SIGKILL);
            while !matches!(
                sys::wait(pid),
                Ok(WaitStatus::Exited(_) | WaitStatus::Killed(_)) | Err(_)
            ) {}
            Err(e)
        }
    }
}

/// Wait for the child's first stop and check that it is the `ready` one.
fn finish(pid: Pid) -> Result<()> {
    let status = loop {
        match sys::wait(pid) {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            other => break other.map_err(Error::host("waitpid for a new stub"))?,
        }
    };
    let setup = |step: &'static str, source| Err(Error::StubSetup { step, source });
    match status {
        WaitStatus::Exited(code) if code >= EXIT_TRACEME => Err(Error::NotPermitted {
            op: "PTRACE_TRACEME in the stub process",
            source: io::Error::from_raw_os_error(code - EXIT_TRACEME),
        }),
        WaitStatus::Exited(EXIT_PDEATHSIG) => {
            setup("PR_SET_PDEATHSIG", io::Error::other("the stub exited"))
        }
        WaitStatus::Exited(EXIT_PARENT_GONE) => setup(
            "start",
            io::Error::other("the sentry went away while the stub started"),
        ),
        WaitStatus::Exited(_) | WaitStatus::Killed(_) => Err(Error::StubDied {
            pid,
            what: format!("{status} while it was set up"),
        }),
        WaitStatus::Stopped {
            sig: libc::SIGTRAP,
            event: 0,
        } => {
            let regs = sys::get_regs(pid).map_err(Error::host("PTRACE_GETREGS"))?;
            if regs.rip == stub_asm::ready_rip() {
                let options = sys::PTRACE_O_EXITKILL | sys::PTRACE_O_TRACESYSGOOD;
                return sys::set_options(pid, options).map_err(Error::host("PTRACE_SETOPTIONS"));
            }
            let step = STEPS
                .get((regs.rdi as usize).wrapping_sub(1))
                .copied()
                .unwrap_or("an unknown step");
            setup(step, io::Error::from_raw_os_error(regs.rsi as i32))
        }
        WaitStatus::Stopped {
            sig: libc::SIGILL, ..
        } => {
            let regs = sys::get_regs(pid).map_err(Error::host("PTRACE_GETREGS"))?;
            setup(
                "unmapping the sentry from the stub",
                io::Error::from_raw_os_error(-(regs.rax as i64) as i32),
            )
        }
        WaitStatus::Stopped { .. } => Err(Error::UnexpectedStop {
            pid,
            what: format!("{status} while it was set up"),
        }),
    }
}

/// The stub's seccomp program (see [`STUB_SYSCALLS`]).
fn seccomp_filter() -> Vec<libc::sock_filter> {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;
    // Offsets into struct seccomp_data.
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    const IP_LO: u32 = 8;
    const IP_HI: u32 = 12;
    let op = |code, k, jt, jf| libc::sock_filter { code, jt, jf, k };
    let n = STUB_SYSCALLS.len();
    let (allow, enosys, kill) = (9 + n, 10 + n, 11 + n);
    // A jump offset from instruction `pc` to `target`.
    let to = |pc: usize, target: usize| (target - pc - 1) as u8;
    let mut f = vec![
        op(LD_W_ABS, ARCH, 0, 0),
        op(JEQ_K, AUDIT_ARCH_X86_64, 0, to(1, kill)),
        op(LD_W_ABS, IP_HI, 0, 0),
        op(JEQ_K, (STUB_ADDR >> 32) as u32, 0, to(3, enosys)),
        op(LD_W_ABS, IP_LO, 0, 0),
        op(JGE_K, STUB_ADDR as u32, 0, to(5, enosys)),
        op(JGE_K, (STUB_ADDR + STUB_SIZE) as u32, to(6, enosys), 0),
        op(LD_W_ABS, NR, 0, 0),
    ];
    for (i, &nr) in STUB_SYSCALLS.iter().enumerate() {
        f.push(op(JEQ_K, nr, to(8 + i, allow), 0));
    }
    f.push(op(RET_K, SECCOMP_RET_KILL_PROCESS, 0, 0));
    f.push(op(RET_K, SECCOMP_RET_ALLOW, 0, 0));
    f.push(op(RET_K, SECCOMP_RET_ERRNO | libc::ENOSYS as u32, 0, 0));
    f.push(op(RET_K, SECCOMP_RET_KILL_PROCESS, 0, 0));
    debug_assert_eq!(f.len(), kill + 1);
    f
}

/// A raw system call, returning the result or `-errno`.
#[inline(always)]
unsafe fn raw(nr: i64, a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> i64 {
    let ret;
    // SAFETY: the caller vouches for the call and its arguments; `syscall` clobbers only
    // rcx and r11 besides rax.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d, in("r8") e, in("r9") f,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// End the child before it is traced.
unsafe fn exit(code: i32) -> ! {
    // SAFETY: exit_group does not return.
    unsafe {
        asm!(
            "syscall",
            in("rax") NR_EXIT_GROUP,
            in("rdi") code as u64,
            options(noreturn, nostack),
        )
    }
}

/// Stop a traced child with step `step` (1-based into [`STEPS`]) and the errno of `ret` if
/// `ret` is an error; the tracer kills it there.
unsafe fn check(step: u64, ret: i64) {
    if ret < 0 {
        // SAFETY: int3 stops the traced child; it is never resumed.
        unsafe { asm!("int3", "ud2", in("rdi") step, in("rsi") -ret, options(noreturn)) }
    }
}

/// The freshly forked child: make it a stub and jump to the stub code.
///
/// # Safety
///
/// Only in the child of the fork in [`spawn`]: it unmaps the sentry and never returns.
unsafe fn child(args: &ChildArgs) -> ! {
    // SAFETY: (the whole body) raw system calls on our own copy of the sentry's memory,
    // with pointers to live locals or to `args`, which the fork copied; after the jump
    // nothing of this function's state is used again.
    unsafe {
        if raw(
            NR_PRCTL,
            libc::PR_SET_PDEATHSIG as u64,
            libc::SIGKILL as u64,
            0,
            0,
            0,
            0,
        ) < 0
        {
            exit(EXIT_PDEATHSIG);
        }
        if raw(NR_GETPPID, 0, 0, 0, 0, 0, 0) != args.parent as i64 {
            exit(EXIT_PARENT_GONE);
        }
        let ret = raw(NR_PTRACE, 0, 0, 0, 0, 0, 0); // PTRACE_TRACEME
        if ret < 0 {
            exit(EXIT_TRACEME + (-ret).min(127) as i32);
        }
        if let Some(rseq) = args.rseq {
            let unregister = |len| {
                raw(
                    NR_RSEQ,
                    rseq.addr,
                    len,
                    RSEQ_FLAG_UNREGISTER,
                    RSEQ_SIG,
                    0,
                    0,
                )
            };
            let mut ret = unregister(rseq.len);
            // The length must match the registration's; glibc versions differ.
            let mut len = 4;
            while ret == -(libc::EINVAL as i64) && len <= 512 {
                ret = unregister(len);
                len += 4;
            }
            check(13, ret);
        }
        check(1, raw(NR_SETPGID, 0, 0, 0, 0, 0, 0));
        raw(NR_PERSONALITY, 0, 0, 0, 0, 0, 0); // no READ_IMPLIES_EXEC or the like
        let no_core = [0u64; 2];
        check(
            2,
            raw(
                NR_PRLIMIT64,
                0,
                libc::RLIMIT_CORE as u64,
                no_core.as_ptr() as u64,
                0,
                0,
                0,
            ),
        );
        let default = KernelSigaction {
            handler: 0,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        let ignore = KernelSigaction {
            handler: 1,
            ..default
        };
        for sig in 1..=64 {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            // Ignoring SIGCHLD makes the kernel reap dead tracees (children of the stub).
            let act = if sig == libc::SIGCHLD {
                &ignore
            } else {
                &default
            };
            let act = std::ptr::from_ref(act) as u64;
            check(3, raw(NR_RT_SIGACTION, sig as u64, act, 0, 8, 0, 0));
        }
        let no_altstack = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        let ss = std::ptr::from_ref(&no_altstack) as u64;
        check(4, raw(NR_SIGALTSTACK, ss, 0, 0, 0, 0, 0));
        let empty = 0u64;
        let set = std::ptr::from_ref(&empty) as u64;
        check(
            5,
            raw(NR_RT_SIGPROCMASK, libc::SIG_SETMASK as u64, set, 0, 8, 0, 0),
        );
        if args.memfd != STUB_MEMFD {
            check(6, raw(NR_DUP3, args.memfd, STUB_MEMFD, 0, 0, 0, 0));
        }
        check(
            7,
            raw(NR_CLOSE_RANGE, STUB_MEMFD + 1, u32::MAX as u64, 0, 0, 0, 0),
        );
        let sp: u64;
        asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack));
        if sp.wrapping_sub(STUB_ADDR) < STUB_SIZE + 0x1_0000 {
            check(8, -(libc::EBUSY as i64));
        }
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
        let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED) as u64;
        check(
            9,
            raw(NR_MMAP, STUB_ADDR, STUB_SIZE, rw, flags, u64::MAX, 0),
        );
        std::ptr::copy_nonoverlapping(args.code.as_ptr(), STUB_ADDR as *mut u8, args.code.len());
        let rx = (libc::PROT_READ | libc::PROT_EXEC) as u64;
        check(10, raw(NR_MPROTECT, STUB_ADDR, STUB_SIZE, rx, 0, 0, 0));
        check(
            11,
            raw(NR_PRCTL, libc::PR_SET_NO_NEW_PRIVS as u64, 1, 0, 0, 0, 0),
        );
        let prog = std::ptr::from_ref(&args.prog) as u64;
        check(
            12,
            raw(NR_SECCOMP, SECCOMP_SET_MODE_FILTER, 0, prog, 0, 0, 0),
        );
        asm!(
            "jmp {entry}",
            entry = in(reg) STUB_ADDR,
            in("rdi") STUB_ADDR,
            in("rsi") args.xsave as u64,
            options(noreturn),
        );
    }
}
