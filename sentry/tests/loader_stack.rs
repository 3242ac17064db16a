//! The initial stack read back as a C runtime reads it, for both architectures, with the
//! auxiliary vector filled from a real load plan.

use std::collections::HashMap;

use abi::Arch;
use abi::auxv::{self, AuxEntry};
use sentry::loader::layout::{self, mmap_base, pie_base, task_size};
use sentry::loader::stack::{self, AuxValues, InitialStack, StackParams};
use sentry::loader::{Placement, elf};

fn word(s: &InitialStack, addr: u64) -> u64 {
    let at = (addr - s.sp) as usize;
    let mut w = [0u8; 8];
    w.copy_from_slice(&s.bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

fn cstr(s: &InitialStack, addr: u64) -> &[u8] {
    let at = (addr - s.sp) as usize;
    let len = s.bytes[at..].iter().position(|&b| b == 0).unwrap();
    &s.bytes[at..at + len]
}

/// (argv, envp, auxv) as `_start` finds them.
fn read_back(s: &InitialStack) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<AuxEntry>) {
    let mut at = s.sp;
    let mut next = || {
        at += 8;
        word(s, at - 8)
    };
    let argc = next();
    let argv: Vec<u64> = (0..argc).map(|_| next()).collect();
    assert_eq!(next(), 0);
    let envp: Vec<u64> = std::iter::from_fn(|| Some(next()).filter(|&p| p != 0)).collect();
    let mut aux = Vec::new();
    loop {
        let e = AuxEntry {
            a_type: next(),
            a_val: next(),
        };
        aux.push(e);
        if e.a_type == auxv::AT_NULL {
            break;
        }
    }
    let strs = |v: Vec<u64>| v.into_iter().map(|p| cstr(s, p).to_vec()).collect();
    (strs(argv), strs(envp), aux)
}

fn check(arch: Arch) {
    let top = task_size(arch);
    let argv: Vec<Vec<u8>> = ["/bin/prog", "--flag", "ünïcode", ""]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    let envp: Vec<Vec<u8>> = ["HOME=/root", "LANG=C.UTF-8"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    let aux = AuxValues {
        phdr: 0x5555_5555_4040,
        phnum: 13,
        entry: 0x5555_5555_5040,
        base: 0x7fff_f7fc_3000,
        sysinfo_ehdr: Some(0x7fff_f7fc_1000),
        ..AuxValues::default()
    };
    let random = [0xa5u8; 16];
    let s = stack::build(&StackParams {
        arch,
        top,
        argv: &argv,
        envp: &envp,
        execfn: b"/bin/prog",
        random,
        aux: &aux,
        stack_rlimit: 8 << 20,
    })
    .unwrap();
    assert_eq!(s.sp % 16, 0, "SP/RSP 16-byte aligned at argc");
    assert_eq!(s.sp + s.bytes.len() as u64, top);

    let (a, e, v) = read_back(&s);
    assert_eq!(a, argv);
    assert_eq!(e, envp);
    assert_eq!(v, s.auxv);
    let map: HashMap<u64, u64> = v.iter().map(|e| (e.a_type, e.a_val)).collect();
    for t in [
        auxv::AT_PHDR,
        auxv::AT_PHENT,
        auxv::AT_PHNUM,
        auxv::AT_PAGESZ,
        auxv::AT_BASE,
        auxv::AT_FLAGS,
        auxv::AT_ENTRY,
        auxv::AT_UID,
        auxv::AT_EUID,
        auxv::AT_GID,
        auxv::AT_EGID,
        auxv::AT_SECURE,
        auxv::AT_HWCAP,
        auxv::AT_HWCAP2,
        auxv::AT_CLKTCK,
        auxv::AT_RANDOM,
        auxv::AT_EXECFN,
        auxv::AT_PLATFORM,
        auxv::AT_SYSINFO_EHDR,
    ] {
        assert!(map.contains_key(&t), "AT {t} missing");
    }
    assert_eq!(map[&auxv::AT_CLKTCK], 100);
    assert_eq!(map[&auxv::AT_ENTRY], 0x5555_5555_5040);
    assert_eq!(cstr(&s, map[&auxv::AT_EXECFN]), b"/bin/prog");
    assert_eq!(
        cstr(&s, map[&auxv::AT_PLATFORM]),
        stack::platform(arch).as_bytes()
    );
    let r = (map[&auxv::AT_RANDOM] - s.sp) as usize;
    assert_eq!(s.bytes[r..r + 16], random);
    // The strings sit above the tables, argv first.
    assert!(s.args.start > map[&auxv::AT_RANDOM]);
    assert_eq!(s.args.end, s.env.start);
}

#[test]
fn x86_64_stack() {
    check(Arch::X86_64);
}

#[test]
fn aarch64_stack() {
    check(Arch::Aarch64);
}

/// The whole pure pipeline on the host's /bin/ls: parse, plan program and interpreter, stack.
#[test]
fn pipeline_on_bin_ls() {
    let Ok(file) = std::fs::File::open("/bin/ls") else {
        eprintln!("/bin/ls not present, skipped");
        return;
    };
    let arch = Arch::HOST;
    let user = 0x10000..task_size(arch);
    let info = elf::parse(&file, arch).unwrap();
    let plan = layout::plan(&info, Placement::At(pie_base(arch)), user.clone()).unwrap();
    let base = match &info.interp {
        Some(path) => {
            let interp = elf::parse(&std::fs::File::open(path).unwrap(), arch).unwrap();
            let top = mmap_base(task_size(arch), 8 << 20);
            let iplan = layout::plan(&interp, Placement::Below(top), user).unwrap();
            assert!(iplan.extent.start >= plan.extent.end);
            iplan.bias
        }
        None => 0,
    };
    let aux = AuxValues {
        phdr: plan.phdr.unwrap(),
        phnum: u64::from(info.phnum),
        entry: plan.entry,
        base,
        ..AuxValues::default()
    };
    let argv = vec![b"ls".to_vec(), b"-la".to_vec()];
    let s = stack::build(&StackParams {
        arch,
        top: task_size(arch),
        argv: &argv,
        envp: &[],
        execfn: b"/bin/ls",
        random: [7; 16],
        aux: &aux,
        stack_rlimit: 8 << 20,
    })
    .unwrap();
    let (_, _, v) = read_back(&s);
    let at = |t| v.iter().find(|e| e.a_type == t).unwrap().a_val;
    assert_eq!(at(auxv::AT_PHDR), plan.bias + info.phdr_vaddr.unwrap());
    assert_eq!(at(auxv::AT_ENTRY), plan.bias + info.entry);
    assert_eq!(at(auxv::AT_BASE), base);
}
