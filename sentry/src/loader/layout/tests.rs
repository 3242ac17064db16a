use abi::Arch;
use abi::flags::ProtFlags;

use super::*;
use crate::loader::elf::parse;
use crate::loader::testelf::{Ph, R, TestElf, W, X};

const RX: ProtFlags = ProtFlags::READ.union(ProtFlags::EXEC);
const RW: ProtFlags = ProtFlags::READ.union(ProtFlags::WRITE);
const X86_USER: Range<u64> = 0x10000..task_size(Arch::X86_64);

fn info(e: &TestElf) -> ElfInfo {
    parse(&e.bytes(), Arch::X86_64).unwrap()
}

#[test]
fn linux_constants() {
    assert_eq!(pie_base(Arch::X86_64), 0x5555_5555_4000);
    assert_eq!(pie_base(Arch::Aarch64), 0xaaaa_aaaa_a000);
    assert_eq!(task_size(Arch::X86_64), 0x7fff_ffff_f000);
    // Without ASLR and an 8 MiB stack, x86_64 Linux maps ld.so ending at 0x7ffff7fff000.
    assert_eq!(
        mmap_base(task_size(Arch::X86_64), 8 << 20),
        0x7fff_f7ff_f000
    );
    // A huge stack rlimit is clamped to 5/6 of the space, an infinite one too.
    let t = task_size(Arch::X86_64);
    assert_eq!(mmap_base(t, u64::MAX), page_down(t - t / 6 * 5));
}

#[test]
fn exec_loads_at_its_own_addresses() {
    let p = plan(
        &info(&TestElf::exec()),
        Placement::At(0x5555_0000_0000),
        X86_USER,
    )
    .unwrap();
    assert_eq!(p.bias, 0);
    assert_eq!(p.entry, 0x401000);
    assert_eq!(p.phdr, Some(0x400040));
    assert_eq!(p.extent, 0x400000..0x405000);
    assert_eq!(p.brk, 0x405000);
    assert_eq!(
        p.steps,
        vec![
            LoadStep::MapFile {
                addr: 0x400000,
                len: 0x2000,
                file_offset: 0,
                prot: RX
            },
            LoadStep::MapFile {
                addr: 0x402000,
                len: 0x1000,
                file_offset: 0x1000,
                prot: RW
            },
            LoadStep::Zero {
                addr: 0x402f10,
                len: 0xf0
            },
            LoadStep::MapAnon {
                addr: 0x403000,
                len: 0x2000,
                prot: RW
            },
        ]
    );
}

#[test]
fn pie_goes_at_the_base() {
    let base = pie_base(Arch::X86_64);
    let p = plan(&info(&TestElf::pie()), Placement::At(base), X86_USER).unwrap();
    assert_eq!(p.bias, base);
    assert_eq!(p.entry, base + 0x1000);
    assert_eq!(p.phdr, Some(base + 0x40));
    assert_eq!(p.extent, base..base + 0x5000);
    assert_eq!(
        p.steps[0],
        LoadStep::MapFile {
            addr: base,
            len: 0x2000,
            file_offset: 0,
            prot: RX
        }
    );
}

#[test]
fn bias_honours_huge_alignment() {
    let mut e = TestElf::pie();
    let i = e.load_index(0);
    e.phs[i].align = 0x20_0000;
    let p = plan(&info(&e), Placement::At(pie_base(Arch::X86_64)), X86_USER).unwrap();
    assert_eq!(p.bias, 0x5555_5540_0000);
}

#[test]
fn interpreter_goes_below_the_mmap_base() {
    let top = mmap_base(task_size(Arch::X86_64), 8 << 20);
    let p = plan(&info(&TestElf::pie()), Placement::Below(top), X86_USER).unwrap();
    assert_eq!(p.extent, top - 0x5000..top);
    assert_eq!(p.bias, top - 0x5000);
    let err = plan(&info(&TestElf::pie()), Placement::Below(0x14000), X86_USER).unwrap_err();
    assert_eq!(err, LayoutError::NoRoom(0x14000));
    assert_eq!(err.errno(), abi::Errno::ENOMEM);
    assert!(plan(&info(&TestElf::pie()), Placement::Below(0x3000), X86_USER).is_err());
}

#[test]
fn out_of_range_images_are_refused() {
    let err = plan(&info(&TestElf::exec()), Placement::At(0), 0x10000..0x404000).unwrap_err();
    assert_eq!(
        err,
        LayoutError::OutOfRange {
            start: 0x400000,
            end: 0x405000
        }
    );
    assert_eq!(err.errno(), abi::Errno::EINVAL);
    assert!(plan(&info(&TestElf::exec()), Placement::At(0), 0x500000..1 << 47).is_err());
    // A PIE placed so high it passes the end.
    let top = task_size(Arch::X86_64);
    assert!(
        plan(
            &info(&TestElf::pie()),
            Placement::At(top - 0x1000),
            X86_USER
        )
        .is_err()
    );
    assert!(
        plan(
            &info(&TestElf::pie()),
            Placement::At(u64::MAX - 0xfff),
            X86_USER
        )
        .is_err()
    );
    // An ET_EXEC at page 0 is below mmap_min_addr.
    let mut e = TestElf::pie();
    e.etype = 2;
    assert!(plan(&info(&e), Placement::At(0x400000), X86_USER).is_err());
}

#[test]
fn entry_outside_the_space_is_refused() {
    let mut e = TestElf::exec();
    e.entry = 1 << 47;
    let err = plan(&info(&e), Placement::At(0), X86_USER).unwrap_err();
    assert_eq!(err, LayoutError::BadEntry(1 << 47));
    let mut e = TestElf::pie();
    e.entry = u64::MAX;
    let err = plan(&info(&e), Placement::At(pie_base(Arch::X86_64)), X86_USER).unwrap_err();
    assert!(matches!(err, LayoutError::BadEntry(_)));
}

#[test]
fn bss_only_and_aligned_segments() {
    let mut e = TestElf::exec();
    e.phs.push(Ph::load(R | W, 0, 0x410010, 0, 0x1000));
    // File data ending on a page boundary needs no zeroing.
    e.phs.push(Ph::load(R, 0x1000, 0x420000, 0x1000, 0x1800));
    e.phs.push(Ph::load(R | X, 0, 0x430000, 0, 0));
    let p = plan(&info(&e), Placement::At(0), X86_USER).unwrap();
    let tail = &p.steps[4..];
    assert_eq!(
        tail,
        [
            LoadStep::MapAnon {
                addr: 0x410000,
                len: 0x2000,
                prot: RW
            },
            LoadStep::MapFile {
                addr: 0x420000,
                len: 0x1000,
                file_offset: 0x1000,
                prot: ProtFlags::READ
            },
            LoadStep::MapAnon {
                addr: 0x421000,
                len: 0x1000,
                prot: ProtFlags::READ
            },
        ]
    );
    // The empty segment still counts for the span, as in Linux's brk.
    assert_eq!(p.brk, 0x430000);
}
