use std::collections::HashMap;

use super::*;

const TOP: u64 = 0x7fff_ffff_f000;

fn strings(v: &[&str]) -> Vec<Vec<u8>> {
    v.iter().map(|s| s.as_bytes().to_vec()).collect()
}

/// Reads the stack back the way a C runtime does, from `sp` up.
struct Parsed {
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    auxv: Vec<(u64, u64)>,
}

fn word(s: &InitialStack, addr: u64) -> u64 {
    let at = (addr - s.sp) as usize;
    u64::from_le_bytes(s.bytes[at..at + 8].try_into().unwrap())
}

fn cstr(s: &InitialStack, addr: u64) -> Vec<u8> {
    let at = (addr - s.sp) as usize;
    let len = s.bytes[at..].iter().position(|&b| b == 0).unwrap();
    s.bytes[at..at + len].to_vec()
}

fn parse_back(s: &InitialStack) -> Parsed {
    let mut at = s.sp;
    let mut next = || {
        let w = word(s, at);
        at += 8;
        w
    };
    let argc = next();
    let argv: Vec<u64> = (0..argc).map(|_| next()).collect();
    assert_eq!(next(), 0, "argv ends with NULL");
    let mut envp = Vec::new();
    loop {
        match next() {
            0 => break,
            p => envp.push(p),
        }
    }
    let mut auxv = Vec::new();
    loop {
        let (t, v) = (next(), next());
        auxv.push((t, v));
        if t == auxv::AT_NULL {
            break;
        }
    }
    Parsed {
        argv: argv.iter().map(|&p| cstr(s, p)).collect(),
        envp: envp.iter().map(|&p| cstr(s, p)).collect(),
        auxv,
    }
}

fn params<'a>(argv: &'a [Vec<u8>], envp: &'a [Vec<u8>], aux: &'a AuxValues) -> StackParams<'a> {
    StackParams {
        arch: Arch::X86_64,
        top: TOP,
        argv,
        envp,
        execfn: b"/bin/ls",
        random: *b"0123456789abcdef",
        aux,
        stack_rlimit: 8 << 20,
    }
}

#[test]
fn round_trips_through_a_c_runtime_view() {
    let argv = strings(&["ls", "-l", ""]);
    let envp = strings(&["A=1", "PATH=/bin"]);
    let aux = AuxValues {
        phdr: 0x400040,
        phnum: 9,
        entry: 0x401000,
        base: 0x7fff_f7fc_3000,
        uid: 1000,
        euid: 1001,
        gid: 1002,
        egid: 1003,
        hwcap: 0x178b_fbff,
        hwcap2: 2,
        sysinfo_ehdr: Some(0x7fff_f7fc_1000),
        minsigstksz: Some(3632),
        extra: vec![AuxEntry {
            a_type: auxv::AT_RSEQ_ALIGN,
            a_val: 32,
        }],
        ..AuxValues::default()
    };
    let s = build(&params(&argv, &envp, &aux)).unwrap();
    assert_eq!(s.sp % 16, 0);
    assert_eq!(s.sp + s.bytes.len() as u64, TOP);
    assert_eq!(word(&s, TOP - 8), 0, "zero word at the top");

    let p = parse_back(&s);
    assert_eq!(p.argv, argv);
    assert_eq!(p.envp, envp);
    assert_eq!(
        p.auxv.first(),
        Some(&(auxv::AT_SYSINFO_EHDR, 0x7fff_f7fc_1000))
    );
    assert_eq!(p.auxv.last(), Some(&(auxv::AT_NULL, 0)));
    assert_eq!(p.auxv[p.auxv.len() - 2], (auxv::AT_RSEQ_ALIGN, 32));
    let map: HashMap<u64, u64> = p.auxv.iter().copied().collect();
    assert_eq!(map.len(), p.auxv.len(), "no duplicate types");
    let expect = [
        (auxv::AT_PHDR, 0x400040),
        (auxv::AT_PHENT, 56),
        (auxv::AT_PHNUM, 9),
        (auxv::AT_PAGESZ, 4096),
        (auxv::AT_BASE, 0x7fff_f7fc_3000),
        (auxv::AT_FLAGS, 0),
        (auxv::AT_ENTRY, 0x401000),
        (auxv::AT_UID, 1000),
        (auxv::AT_EUID, 1001),
        (auxv::AT_GID, 1002),
        (auxv::AT_EGID, 1003),
        (auxv::AT_SECURE, 0),
        (auxv::AT_HWCAP, 0x178b_fbff),
        (auxv::AT_HWCAP2, 2),
        (auxv::AT_CLKTCK, 100),
        (auxv::AT_MINSIGSTKSZ, 3632),
    ];
    for (t, v) in expect {
        assert_eq!(map.get(&t), Some(&v), "AT {t}");
    }
    assert_eq!(cstr(&s, map[&auxv::AT_EXECFN]), b"/bin/ls");
    assert_eq!(cstr(&s, map[&auxv::AT_PLATFORM]), b"x86_64");
    let r = (map[&auxv::AT_RANDOM] - s.sp) as usize;
    assert_eq!(&s.bytes[r..r + 16], b"0123456789abcdef");
    // The table ends below the random bytes.
    let table_end = s.sp + 8 * (1 + 4 + 3 + 2 * p.auxv.len() as u64);
    assert!(table_end <= map[&auxv::AT_RANDOM]);
    assert_eq!(s.auxv.len(), p.auxv.len());

    let at = |r: &Range<u64>| s.bytes[(r.start - s.sp) as usize..(r.end - s.sp) as usize].to_vec();
    assert_eq!(at(&s.args), b"ls\0-l\0\0");
    assert_eq!(at(&s.env), b"A=1\0PATH=/bin\0");
}

#[test]
fn aarch64_names_its_platform() {
    let argv = strings(&["a"]);
    let aux = AuxValues::default();
    let mut p = params(&argv, &[], &aux);
    p.arch = Arch::Aarch64;
    let s = build(&p).unwrap();
    let map: HashMap<u64, u64> = parse_back(&s).auxv.into_iter().collect();
    assert_eq!(cstr(&s, map[&auxv::AT_PLATFORM]), b"aarch64");
    assert!(!map.contains_key(&auxv::AT_SYSINFO_EHDR));
    assert!(!map.contains_key(&auxv::AT_MINSIGSTKSZ));
}

#[test]
fn sp_is_aligned_for_any_shape() {
    let aux = AuxValues::default();
    for top_off in 0..16u64 {
        for n in 0..6usize {
            for len in 0..18usize {
                let argv: Vec<Vec<u8>> = (0..n).map(|i| vec![b'a' + i as u8; len]).collect();
                let envp: Vec<Vec<u8>> = (0..len % 4).map(|_| vec![b'e'; n]).collect();
                let mut p = params(&argv, &envp, &aux);
                p.top = TOP - top_off;
                let s = build(&p).unwrap();
                assert_eq!(s.sp % 16, 0);
                let back = parse_back(&s);
                assert_eq!(back.argv.len(), n.max(1));
                assert_eq!(back.envp, envp);
            }
        }
    }
}

#[test]
fn empty_argv_becomes_one_empty_string() {
    let aux = AuxValues::default();
    let s = build(&params(&[], &[], &aux)).unwrap();
    assert_eq!(word(&s, s.sp), 1);
    assert_eq!(parse_back(&s).argv, vec![Vec::<u8>::new()]);
}

#[test]
fn limits_follow_linux() {
    let aux = AuxValues::default();
    let big = vec![b'x'; MAX_ARG_STRLEN - 1];
    assert!(build(&params(std::slice::from_ref(&big), &[], &aux)).is_ok());
    let too_big = vec![b'x'; MAX_ARG_STRLEN];
    assert_eq!(
        build(&params(std::slice::from_ref(&too_big), &[], &aux)),
        Err(Errno::E2BIG)
    );
    assert_eq!(build(&params(&[], &[too_big], &aux)), Err(Errno::E2BIG));

    // 8 MiB stack: 2 MiB of strings. Sixteen 128 KiB strings are over it.
    let many = vec![big.clone(); 16];
    assert_eq!(build(&params(&many, &[], &aux)), Err(Errno::E2BIG));
    let fifteen = vec![big.clone(); 15];
    assert!(build(&params(&fifteen, &[], &aux)).is_ok());
    // An unlimited stack allows 6 MiB, a tiny one still 128 KiB.
    let mut p = params(&many, &[], &aux);
    p.stack_rlimit = u64::MAX;
    assert!(build(&p).is_ok());
    let small = strings(&["x"; 100]);
    let mut p = params(&small, &[], &aux);
    p.stack_rlimit = 4096;
    assert!(build(&p).is_ok());
    // Pointers count too: 16384 empty strings need 128 KiB of pointers alone.
    let empties = vec![Vec::new(); 16384];
    let mut p = params(&empties, &[], &aux);
    p.stack_rlimit = 0;
    assert_eq!(build(&p), Err(Errno::E2BIG));
}

#[test]
fn bad_input_is_refused() {
    let aux = AuxValues::default();
    assert_eq!(
        build(&params(&strings(&["a\0b"]), &[], &aux)),
        Err(Errno::EINVAL)
    );
    let bad = AuxValues {
        extra: vec![AuxEntry::default()],
        ..AuxValues::default()
    };
    assert_eq!(build(&params(&[], &[], &bad)), Err(Errno::EINVAL));
    let mut p = params(&[], &[], &aux);
    p.top = 64;
    assert_eq!(build(&p), Err(Errno::EFAULT));
}
