use abi::Errno;
use abi::flags::ProtFlags;

use super::*;
use crate::loader::testelf::{PT_GNU_STACK, PT_INTERP, PT_LOAD, Ph, R, TestElf, W, X};

fn parse_x86(e: &TestElf) -> Result<ElfInfo, ElfError> {
    parse(&e.bytes(), Arch::X86_64)
}

fn err_of(e: &TestElf) -> ElfError {
    parse_x86(e).expect_err("image should be refused")
}

#[test]
fn parses_a_static_exec() {
    let info = parse_x86(&TestElf::exec()).unwrap();
    assert_eq!(info.kind, ElfType::Exec);
    assert_eq!(info.machine, EM_X86_64);
    assert_eq!(info.entry, 0x401000);
    assert_eq!(info.phdr_vaddr, Some(0x400040));
    assert_eq!((info.phent, info.phnum), (56, 4));
    assert_eq!(info.interp, None);
    assert!(!info.exec_stack);
    assert_eq!(info.span, 0x400000..0x404e10);
    assert_eq!(info.segments.len(), 2);
    let data = info.segments[1];
    assert_eq!(
        (data.vaddr, data.memsz, data.offset, data.filesz),
        (0x402e10, 0x2000, 0x1e10, 0x100)
    );
    assert_eq!(data.prot, ProtFlags::READ | ProtFlags::WRITE);
    assert_eq!(info.segments[0].prot, ProtFlags::READ | ProtFlags::EXEC);
}

#[test]
fn pie_without_pt_phdr_finds_the_table_through_its_segment() {
    let info = parse_x86(&TestElf::pie()).unwrap();
    assert_eq!(info.kind, ElfType::Dyn);
    assert_eq!(info.phdr_vaddr, Some(0x40));
}

#[test]
fn phdr_is_none_when_no_segment_maps_the_table() {
    let mut e = TestElf::pie();
    let i = e.load_index(0);
    e.phs[i].offset = 0x1000;
    e.phs[i].vaddr = 0x1000;
    e.phs[i].filesz = 0x800;
    e.phs[i].memsz = 0x800;
    assert_eq!(parse_x86(&e).unwrap().phdr_vaddr, None);
}

#[test]
fn reads_the_interpreter_and_stack_flags() {
    let mut e = TestElf::exec().with_interp(b"/lib/ld-musl-x86_64.so.1\0");
    let stack = e.phs.iter().position(|p| p.p_type == PT_GNU_STACK).unwrap();
    e.phs[stack].flags = R | W | X;
    let info = parse_x86(&e).unwrap();
    assert_eq!(info.interp.as_deref(), Some("/lib/ld-musl-x86_64.so.1"));
    assert!(info.exec_stack);
}

#[test]
fn machine_must_match_the_requested_arch() {
    let mut e = TestElf::exec();
    e.machine = EM_AARCH64;
    assert_eq!(parse(&e.bytes(), Arch::Aarch64).unwrap().machine, 183);
    assert_eq!(
        err_of(&e),
        ElfError::WrongMachine {
            expected: 62,
            found: 183
        }
    );
}

#[test]
fn header_defects_are_enoexec() {
    let cases: Vec<(usize, &[u8], ElfError)> = vec![
        (0, b"\x7fELG", ElfError::BadMagic),
        (4, &[1], ElfError::BadClass(1)),
        (5, &[2], ElfError::BadEndianness(2)),
        (6, &[0], ElfError::BadVersion(0)),
        (20, &[2, 0, 0, 0], ElfError::BadVersion(2)),
        (16, &[1, 0], ElfError::BadType(1)),
        (16, &[4, 0], ElfError::BadType(4)),
        (54, &[32, 0], ElfError::BadPhentsize(32)),
        (56, &[0, 0], ElfError::BadPhnum(0)),
        (56, &[0xff, 0xff], ElfError::BadPhnum(0xffff)),
        (56, &[0x93, 0x04], ElfError::BadPhnum(1171)),
        (56, &[0x92, 0x00], ElfError::PhdrsOutOfFile),
        (32, &[0xf0; 8], ElfError::PhdrsOutOfFile),
        (32, &[0xff; 8], ElfError::PhdrsOutOfFile),
    ];
    for (at, patch, want) in cases {
        let mut b = TestElf::exec().bytes();
        b[at..at + patch.len()].copy_from_slice(patch);
        let got = parse(&b, Arch::X86_64).unwrap_err();
        assert_eq!(got, want, "patch at {at}");
        assert_eq!(got.errno(), Errno::ENOEXEC, "{got}");
    }
}

#[test]
fn short_files_are_not_elf() {
    let b = TestElf::exec().bytes();
    assert_eq!(parse(&b[..0], Arch::X86_64), Err(ElfError::BadMagic));
    assert_eq!(parse(&b[..3], Arch::X86_64), Err(ElfError::BadMagic));
    assert_eq!(parse(&b[..20], Arch::X86_64), Err(ElfError::TooShort));
    assert_eq!(parse(&b[..64], Arch::X86_64), Err(ElfError::PhdrsOutOfFile));
    assert_eq!(ElfError::TooShort.errno(), Errno::ENOEXEC);
}

#[test]
fn a_table_of_1170_headers_is_accepted() {
    let mut e = TestElf::exec();
    e.phs.resize(
        MAX_PHNUM,
        Ph {
            p_type: 0x7000_0000,
            ..e.phs[0]
        },
    );
    e.size = 64 + MAX_PHNUM * PHDR_SIZE;
    assert_eq!(parse_x86(&e).unwrap().phnum as usize, MAX_PHNUM);
}

fn bend(n: usize, f: impl FnOnce(&mut Ph)) -> TestElf {
    let mut e = TestElf::exec();
    let i = e.load_index(n);
    f(&mut e.phs[i]);
    e
}

#[test]
fn segment_defects_are_einval() {
    let idx = TestElf::exec().load_index(1);
    let cases = vec![
        (
            bend(1, |p| p.align = 0x1800),
            ElfError::BadAlign {
                index: idx,
                align: 0x1800,
            },
        ),
        (
            bend(1, |p| p.filesz = 0x3000),
            ElfError::FileszOverMemsz(idx),
        ),
        (bend(1, |p| p.offset = 0x1e18), ElfError::Misaligned(idx)),
        (
            bend(1, |p| {
                p.vaddr = u64::MAX - 0x1ef;
                p.offset = 0x1e10;
            }),
            ElfError::SegmentWraps(idx),
        ),
        (
            bend(1, |p| {
                p.vaddr = u64::MAX - 0x1ff0 + 0x10;
                p.memsz = 0x1ff0;
            }),
            ElfError::SegmentWraps(idx),
        ),
        (
            bend(1, |p| p.filesz = 0x1f0 + 1),
            ElfError::SegmentOutOfFile(idx),
        ),
        (
            bend(1, |p| p.offset = u64::MAX - 0x1ef),
            ElfError::SegmentOutOfFile(idx),
        ),
        (bend(1, |p| p.vaddr = 0x3ffe10), ElfError::Unordered(idx)),
        (bend(1, |p| p.vaddr = 0x400e10), ElfError::Overlap(idx)),
    ];
    for (e, want) in cases {
        let got = err_of(&e);
        assert_eq!(got, want);
        assert_eq!(got.errno(), Errno::EINVAL, "{got}");
        assert!(!got.to_string().is_empty());
    }
    let mut e = TestElf::exec();
    e.phs.retain(|p| p.p_type != PT_LOAD);
    assert_eq!(err_of(&e), ElfError::NoLoadSegment);
}

#[test]
fn segments_may_share_a_page_or_be_empty() {
    // Touching ranges and a page shared between segments are fine; Linux maps them in order.
    let info = parse_x86(&bend(1, |p| {
        p.vaddr = 0x401800;
        p.offset = 0x1800;
    }))
    .unwrap();
    assert_eq!(info.span.end, 0x403800);
    assert!(parse_x86(&bend(1, |p| p.memsz = 0x100)).is_ok());
    // No file bytes: the offset is irrelevant.
    assert!(
        parse_x86(&bend(1, |p| {
            p.filesz = 0;
            p.offset = 0xdead_beef;
        }))
        .is_ok()
    );
    assert!(parse_x86(&bend(1, |p| p.align = 0)).is_ok());
}

#[test]
fn interpreter_defects() {
    let cases: Vec<(TestElf, ElfError, Errno)> = vec![
        (
            TestElf::exec().with_interp(b"\0"),
            ElfError::InterpSize(1),
            Errno::ENOEXEC,
        ),
        (
            TestElf::exec().with_interp(b"/lib/ld"),
            ElfError::InterpBadPath,
            Errno::ENOEXEC,
        ),
        (
            TestElf::exec().with_interp(b"/a\0b\0"),
            ElfError::InterpBadPath,
            Errno::ENOEXEC,
        ),
        (
            TestElf::exec().with_interp(b"/\xff\0"),
            ElfError::InterpBadPath,
            Errno::ENOEXEC,
        ),
        (
            TestElf::exec().with_interp(b"/x\0").with_interp(b"/y\0"),
            ElfError::MultipleInterp,
            Errno::ENOEXEC,
        ),
    ];
    for (e, want, errno) in cases {
        let got = err_of(&e);
        assert_eq!(got, want);
        assert_eq!(got.errno(), errno);
    }
    let mut e = TestElf::exec().with_interp(b"/lib/ld.so\0");
    e.phs[0].filesz = 5000;
    assert_eq!(err_of(&e), ElfError::InterpSize(5000));
    e.phs[0].filesz = 11;
    e.phs[0].offset = 0x1ffa;
    assert_eq!(err_of(&e), ElfError::InterpOutOfFile);
    assert_eq!(ElfError::InterpOutOfFile.errno(), Errno::EIO);
    e.phs[0].offset = u64::MAX - 3;
    assert_eq!(err_of(&e), ElfError::InterpOutOfFile);
    // PT_INTERP's own p_type is what matters, not its position.
    assert_eq!(e.phs[0].p_type, PT_INTERP);
}

#[test]
fn interpreter_errnos_follow_load_elf_interp() {
    assert_eq!(ElfError::BadMagic.interp_errno(), Errno::ELIBBAD);
    assert_eq!(ElfError::TooShort.interp_errno(), Errno::ELIBBAD);
    assert_eq!(ElfError::BadType(1).interp_errno(), Errno::EINVAL);
    assert_eq!(ElfError::Overlap(2).interp_errno(), Errno::EINVAL);
    assert_eq!(ElfError::Read(Errno::EIO).interp_errno(), Errno::EIO);
}

struct Failing;
impl ReadAt for Failing {
    fn read_at(&self, _: u64, _: &mut [u8]) -> Result<usize, abi::Errno> {
        Err(Errno::EACCES)
    }
    fn size(&self) -> Result<u64, abi::Errno> {
        Ok(4096)
    }
}

/// Claims to read more than asked for: must not make the parser index out of bounds.
struct Liar(Vec<u8>);
impl ReadAt for Liar {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, abi::Errno> {
        let n = self.0.read_at(off, buf)?;
        Ok(if n == 0 { 0 } else { n + 100 })
    }
    fn size(&self) -> Result<u64, abi::Errno> {
        Ok(self.0.len() as u64)
    }
}

#[test]
fn reader_errors_pass_through_and_liars_do_not_panic() {
    let got = parse(&Failing, Arch::X86_64).unwrap_err();
    assert_eq!(got, ElfError::Read(Errno::EACCES));
    assert_eq!(got.errno(), Errno::EACCES);
    assert!(parse(&Liar(TestElf::exec().bytes()), Arch::X86_64).is_ok());
}

#[test]
fn every_truncation_and_byte_flip_is_handled() {
    let full = TestElf::exec().with_interp(b"/lib/ld.so\0").bytes();
    for len in 0..=full.len() {
        let _ = parse(&full[..len], Arch::X86_64);
    }
    for at in 0..(64 + 5 * PHDR_SIZE) {
        for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            let mut b = full.clone();
            b[at] = v;
            let _ = parse(&b, Arch::X86_64);
            b[at] ^= 0x55;
            let _ = parse(&b, Arch::X86_64);
        }
    }
}
