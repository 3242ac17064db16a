//! The initial process stack of the System V ABI, as Linux builds it on x86_64 and aarch64.
//!
//! From the top down: a zero word, the exec file name, the environment and argument strings,
//! then (16-byte aligned) the platform string and the 16 AT_RANDOM bytes, padding, and at the
//! 16-byte aligned stack pointer `argc`, the `argv` pointers and NULL, the `envp` pointers and
//! NULL, and the auxiliary vector ending with AT_NULL. The same layout serves both
//! architectures; only the platform string differs.

#[cfg(test)]
mod tests;

use std::ops::Range;

use abi::auxv::{self, AuxEntry};
use abi::{Arch, Errno};

use super::PAGE_SIZE;
use super::elf::PHDR_SIZE;

/// Longest single argument or environment string, NUL included (Linux's MAX_ARG_STRLEN).
pub const MAX_ARG_STRLEN: usize = 32 * PAGE_SIZE as usize;
/// The argument space every process gets whatever its stack rlimit (Linux's ARG_MAX).
pub const ARG_MIN_SPACE: u64 = 32 * PAGE_SIZE;
/// Most argument space: 3/4 of Linux's default 8 MiB stack limit (`_STK_LIM / 4 * 3`).
pub const ARG_MAX_SPACE: u64 = (8 << 20) / 4 * 3;

/// The auxiliary vector values only the caller knows. `Default` gives a 4 KiB page, 100 Hz
/// ticks, 56-byte program headers and zeros elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuxValues {
    /// AT_PHDR: the program's biased program header address.
    pub phdr: u64,
    /// AT_PHENT.
    pub phent: u64,
    /// AT_PHNUM.
    pub phnum: u64,
    /// AT_PAGESZ.
    pub pagesz: u64,
    /// AT_BASE: the interpreter's bias, 0 without one.
    pub base: u64,
    /// AT_FLAGS.
    pub flags: u64,
    /// AT_ENTRY: the program's biased entry point (not the interpreter's).
    pub entry: u64,
    /// AT_UID.
    pub uid: u64,
    /// AT_EUID.
    pub euid: u64,
    /// AT_GID.
    pub gid: u64,
    /// AT_EGID.
    pub egid: u64,
    /// AT_SECURE.
    pub secure: bool,
    /// AT_HWCAP.
    pub hwcap: u64,
    /// AT_HWCAP2.
    pub hwcap2: u64,
    /// AT_CLKTCK.
    pub clktck: u64,
    /// AT_SYSINFO_EHDR: the vDSO, when one is mapped.
    pub sysinfo_ehdr: Option<u64>,
    /// AT_MINSIGSTKSZ, when known.
    pub minsigstksz: Option<u64>,
    /// Further entries, placed before AT_NULL (AT_RSEQ_*, AT_HWCAP3, …).
    pub extra: Vec<AuxEntry>,
}

impl Default for AuxValues {
    fn default() -> AuxValues {
        AuxValues {
            phdr: 0,
            phent: PHDR_SIZE as u64,
            phnum: 0,
            pagesz: PAGE_SIZE,
            base: 0,
            flags: 0,
            entry: 0,
            uid: 0,
            euid: 0,
            gid: 0,
            egid: 0,
            secure: false,
            hwcap: 0,
            hwcap2: 0,
            clktck: 100,
            sysinfo_ehdr: None,
            minsigstksz: None,
            extra: Vec::new(),
        }
    }
}

/// What goes on the stack.
#[derive(Clone, Debug)]
pub struct StackParams<'a> {
    /// Selects AT_PLATFORM.
    pub arch: Arch,
    /// The stack's top address (exclusive); everything is written below it.
    pub top: u64,
    /// Arguments, without NULs. An empty list becomes `[""]`, as Linux does since 5.18.
    pub argv: &'a [Vec<u8>],
    /// Environment strings, without NULs.
    pub envp: &'a [Vec<u8>],
    /// The file name passed to execve, for AT_EXECFN.
    pub execfn: &'a [u8],
    /// The AT_RANDOM bytes.
    pub random: [u8; 16],
    /// The rest of the auxiliary vector.
    pub aux: &'a AuxValues,
    /// RLIMIT_STACK's soft limit: a quarter of it bounds the strings.
    pub stack_rlimit: u64,
}

/// A built stack: write `bytes` at `sp` and start the program with that stack pointer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialStack {
    /// The initial stack pointer, 16-byte aligned, pointing at `argc`.
    pub sp: u64,
    /// The memory from `sp` up to the top.
    pub bytes: Vec<u8>,
    /// Where the argument strings are (`mm.arg_start..arg_end`, for /proc/pid/cmdline).
    pub args: Range<u64>,
    /// Where the environment strings are (`mm.env_start..env_end`).
    pub env: Range<u64>,
    /// The auxiliary vector as written, AT_NULL included (for /proc/pid/auxv).
    pub auxv: Vec<AuxEntry>,
}

/// AT_PLATFORM's string.
pub const fn platform(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "x86_64",
        Arch::Aarch64 => "aarch64",
    }
}

/// Builds the initial stack. Fails with `E2BIG` when the strings exceed Linux's limits,
/// `EINVAL` when a string holds a NUL or an extra aux entry is AT_NULL, and `EFAULT` when the
/// stack does not fit below `top`.
pub fn build(p: &StackParams<'_>) -> Result<InitialStack, Errno> {
    const EMPTY: &[Vec<u8>] = &[Vec::new()];
    let argv = if p.argv.is_empty() { EMPTY } else { p.argv };
    check_strings(argv, p.envp, p.execfn, p.stack_rlimit)?;
    if p.aux.extra.iter().any(|e| e.a_type == auxv::AT_NULL) {
        return Err(Errno::EINVAL);
    }

    // Strings, top down: zero word, execfn, envp, argv (so argv[0] is lowest).
    let str_len = |v: &[Vec<u8>]| v.iter().map(|s| s.len() as u64 + 1).sum::<u64>();
    let (arg_len, env_len) = (str_len(argv), str_len(p.envp));
    let fn_len = p.execfn.len() as u64 + 1;
    let below = |a: u64, n: u64| a.checked_sub(n).ok_or(Errno::EFAULT);
    let execfn_at = below(below(p.top, 8)?, fn_len)?;
    let env_start = below(execfn_at, env_len)?;
    let arg_start = below(env_start, arg_len)?;

    let plat = platform(p.arch).as_bytes();
    let platform_at = below(arg_start & !15, plat.len() as u64 + 1)?;
    let random_at = below(platform_at, 16)?;

    let auxv = aux_entries(p.aux, random_at, execfn_at, platform_at);
    let words = 1 + (argv.len() + 1) + (p.envp.len() + 1) + 2 * auxv.len();
    let sp = below(random_at, 8 * words as u64)? & !15;

    let mut image = Image {
        base: sp,
        bytes: vec![0; (p.top - sp) as usize],
    };
    let mut at = sp;
    image.word(&mut at, argv.len() as u64);
    image.pointers(&mut at, arg_start, argv);
    image.pointers(&mut at, env_start, p.envp);
    for e in &auxv {
        image.word(&mut at, e.a_type);
        image.word(&mut at, e.a_val);
    }
    image.strings(arg_start, argv);
    image.strings(env_start, p.envp);
    image.put(execfn_at, p.execfn);
    image.put(platform_at, plat);
    image.put(random_at, &p.random);

    Ok(InitialStack {
        sp,
        bytes: image.bytes,
        args: arg_start..env_start,
        env: env_start..execfn_at,
        auxv,
    })
}

/// Linux's limits: each string at most MAX_ARG_STRLEN, and all of them with their pointers
/// within a quarter of the stack rlimit (clamped to ARG_MIN_SPACE..=ARG_MAX_SPACE).
fn check_strings(
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    execfn: &[u8],
    rlimit: u64,
) -> Result<(), Errno> {
    let all = || argv.iter().chain(envp).map(Vec::as_slice).chain([execfn]);
    if all().any(|s| s.contains(&0)) {
        return Err(Errno::EINVAL);
    }
    if all().any(|s| s.len() + 1 > MAX_ARG_STRLEN) {
        return Err(Errno::E2BIG);
    }
    let limit = (rlimit / 4).clamp(ARG_MIN_SPACE, ARG_MAX_SPACE);
    let pointers = 8 * (argv.len() as u64 + envp.len() as u64);
    // The zero word at the top counts, as Linux starts copying one word below STACK_TOP.
    let strings = all().map(|s| s.len() as u64 + 1).sum::<u64>() + 8;
    if pointers >= limit || strings > limit - pointers {
        return Err(Errno::E2BIG);
    }
    Ok(())
}

/// The auxiliary vector in Linux's order: architecture entries first, AT_NULL last.
fn aux_entries(a: &AuxValues, random: u64, execfn: u64, platform: u64) -> Vec<AuxEntry> {
    let mut v = Vec::with_capacity(24 + a.extra.len());
    let mut push = |a_type, a_val| v.push(AuxEntry { a_type, a_val });
    if let Some(ehdr) = a.sysinfo_ehdr {
        push(auxv::AT_SYSINFO_EHDR, ehdr);
    }
    if let Some(size) = a.minsigstksz {
        push(auxv::AT_MINSIGSTKSZ, size);
    }
    push(auxv::AT_HWCAP, a.hwcap);
    push(auxv::AT_PAGESZ, a.pagesz);
    push(auxv::AT_CLKTCK, a.clktck);
    push(auxv::AT_PHDR, a.phdr);
    push(auxv::AT_PHENT, a.phent);
    push(auxv::AT_PHNUM, a.phnum);
    push(auxv::AT_BASE, a.base);
    push(auxv::AT_FLAGS, a.flags);
    push(auxv::AT_ENTRY, a.entry);
    push(auxv::AT_UID, a.uid);
    push(auxv::AT_EUID, a.euid);
    push(auxv::AT_GID, a.gid);
    push(auxv::AT_EGID, a.egid);
    push(auxv::AT_SECURE, u64::from(a.secure));
    push(auxv::AT_RANDOM, random);
    push(auxv::AT_HWCAP2, a.hwcap2);
    push(auxv::AT_EXECFN, execfn);
    push(auxv::AT_PLATFORM, platform);
    v.extend_from_slice(&a.extra);
    v.push(AuxEntry::default());
    v
}

/// The stack bytes being filled, addressed by guest address.
struct Image {
    base: u64,
    bytes: Vec<u8>,
}

impl Image {
    /// Copies `data` to `addr`; every address was computed inside `base..top`.
    fn put(&mut self, addr: u64, data: &[u8]) {
        let at = (addr - self.base) as usize;
        self.bytes[at..at + data.len()].copy_from_slice(data);
    }

    fn word(&mut self, at: &mut u64, value: u64) {
        self.put(*at, &value.to_le_bytes());
        *at += 8;
    }

    /// The pointers to `strings` laid out from `start`, then NULL.
    fn pointers(&mut self, at: &mut u64, mut start: u64, strings: &[Vec<u8>]) {
        for s in strings {
            self.word(at, start);
            start += s.len() as u64 + 1;
        }
        self.word(at, 0);
    }

    /// The strings themselves, NUL-terminated (the NUL is already there).
    fn strings(&mut self, mut at: u64, strings: &[Vec<u8>]) {
        for s in strings {
            self.put(at, s);
            at += s.len() as u64 + 1;
        }
    }
}
