//! The ELF loader against real programs: binaries compiled with the system gcc at test time,
//! the host's own /bin/ls and dynamic linker, and mangled copies of them.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use abi::flags::ProtFlags;
use abi::{Arch, Errno};
use sentry::loader::elf::{self, EM_AARCH64, EM_X86_64};
use sentry::loader::layout::{self, mmap_base, pie_base, task_size};
use sentry::loader::{ElfError, ElfInfo, ElfType, LoadStep, PAGE_SIZE, Placement, page_down};

const PROGRAM: &str = r#"
static char bss[100000];
int data = 5;
int main(int argc, char **argv) { bss[argc] = (char)data; return bss[1] - 5 + (argv == 0); }
"#;

#[cfg(target_arch = "x86_64")]
const HOST_INTERP: &str = "/lib64/ld-linux-x86-64.so.2";
#[cfg(target_arch = "aarch64")]
const HOST_INTERP: &str = "/lib/ld-linux-aarch64.so.1";

/// The compiled variants, built once per test binary.
struct Built {
    _dir: TempDir,
    binaries: Vec<(&'static str, PathBuf)>,
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "ringfence-loader-{}-{}-{}",
            std::process::id(),
            nanos,
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const VARIANTS: &[(&str, &[&str])] = &[
    ("static", &["-static"]),
    ("static-pie", &["-static-pie"]),
    ("pie", &["-pie"]),
    ("no-pie", &["-no-pie"]),
    ("execstack", &["-no-pie", "-z", "execstack"]),
];

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = TempDir::new();
        let src = dir.0.join("prog.c");
        std::fs::write(&src, PROGRAM).unwrap();
        let mut binaries = Vec::new();
        for (name, flags) in VARIANTS {
            let out = dir.0.join(name);
            let status = Command::new("gcc")
                .args(*flags)
                .arg("-O1")
                .arg("-o")
                .arg(&out)
                .arg(&src)
                .status()
                .expect("the system gcc is needed to build test programs");
            assert!(status.success(), "gcc {flags:?} failed");
            binaries.push((*name, out));
        }
        Built {
            _dir: dir,
            binaries,
        }
    })
}

fn binary(name: &str) -> &'static Path {
    &built().binaries.iter().find(|(n, _)| *n == name).unwrap().1
}

fn parse_path(path: &Path) -> Result<ElfInfo, ElfError> {
    elf::parse(&File::open(path).unwrap(), Arch::HOST)
}

/// What `readelf -lW` says about a file.
#[derive(Debug, Default)]
struct Readelf {
    kind: String,
    entry: u64,
    phnum: u16,
    phoff: u64,
    /// (offset, vaddr, filesz, memsz, flags, align)
    loads: Vec<(u64, u64, u64, u64, String, u64)>,
    interp: Option<String>,
    stack_flags: Option<String>,
    phdr: Option<u64>,
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

fn readelf(path: &Path) -> Readelf {
    let out = Command::new("readelf")
        .arg("-lW")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut r = Readelf::default();
    for line in text.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        match t.as_slice() {
            ["Elf", "file", "type", "is", kind, ..] => r.kind = kind.to_string(),
            ["Entry", "point", e] => r.entry = hex(e),
            [
                "There",
                "are",
                n,
                "program",
                "headers,",
                "starting",
                "at",
                "offset",
                off,
            ] => {
                r.phnum = n.parse().unwrap();
                r.phoff = off.parse().unwrap();
            }
            ["LOAD", off, va, _pa, fsz, msz, rest @ ..] => {
                let (align, flags) = rest.split_last().unwrap();
                r.loads.push((
                    hex(off),
                    hex(va),
                    hex(fsz),
                    hex(msz),
                    flags.concat(),
                    hex(align),
                ));
            }
            ["PHDR", _off, va, ..] => r.phdr = Some(hex(va)),
            ["GNU_STACK", _, _, _, _, _, rest @ ..] => {
                r.stack_flags = Some(rest[..rest.len() - 1].concat());
            }
            ["[Requesting", "program", "interpreter:", path] => {
                r.interp = Some(path.trim_end_matches(']').to_string());
            }
            _ => {}
        }
    }
    r
}

fn flags_of(prot: ProtFlags) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (ProtFlags::READ, 'R'),
        (ProtFlags::WRITE, 'W'),
        (ProtFlags::EXEC, 'E'),
    ] {
        if prot.contains(bit) {
            s.push(c);
        }
    }
    s
}

/// Everything `readelf` knows agrees with what we parsed.
fn check_against_readelf(path: &Path) -> ElfInfo {
    let info = parse_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let r = readelf(path);
    let kind = match info.kind {
        ElfType::Exec => "EXEC",
        ElfType::Dyn => "DYN",
    };
    assert_eq!(kind, r.kind, "{}", path.display());
    assert_eq!(info.entry, r.entry);
    assert_eq!(info.phnum, r.phnum);
    assert_eq!(info.phoff, r.phoff);
    assert_eq!(info.phent, 56);
    assert_eq!(info.interp, r.interp);
    assert_eq!(
        info.exec_stack,
        r.stack_flags.is_some_and(|f| f.contains('E'))
    );
    if let Some(phdr) = r.phdr {
        assert_eq!(info.phdr_vaddr, Some(phdr));
    }
    let ours: Vec<_> = info
        .segments
        .iter()
        .map(|s| {
            (
                s.offset,
                s.vaddr,
                s.filesz,
                s.memsz,
                flags_of(s.prot),
                s.align,
            )
        })
        .collect();
    assert_eq!(ours, r.loads);
    assert_eq!(info.span.start, r.loads[0].1);
    let last = r.loads.last().unwrap();
    assert_eq!(info.span.end, last.1 + last.3);
    info
}

/// A plan makes sense for the image: steps page-aligned (but zeroing) inside the extent, file
/// pages where the segments' bytes are, brk at the extent's end.
fn check_plan(info: &ElfInfo, placement: Placement) -> layout::LoadPlan {
    let user = 0x10000..task_size(Arch::HOST);
    let plan = layout::plan(info, placement, user).unwrap();
    assert_eq!(plan.entry, plan.bias + info.entry);
    assert_eq!(plan.brk, plan.extent.end);
    assert_eq!(plan.brk % PAGE_SIZE, 0);
    for step in &plan.steps {
        let (addr, len) = match *step {
            LoadStep::MapFile {
                addr,
                len,
                file_offset,
                ..
            } => {
                let seg = info
                    .segments
                    .iter()
                    .find(|s| page_down(plan.bias + s.vaddr) == addr)
                    .unwrap();
                assert_eq!(file_offset, page_down(seg.offset));
                (addr, len)
            }
            LoadStep::Zero { addr, len } => {
                assert!(len < PAGE_SIZE);
                assert_eq!((addr + len) % PAGE_SIZE, 0);
                (addr, len)
            }
            LoadStep::MapAnon { addr, len, .. } => (addr, len),
        };
        if !matches!(step, LoadStep::Zero { .. }) {
            assert_eq!(addr % PAGE_SIZE, 0);
            assert_eq!(len % PAGE_SIZE, 0);
        }
        assert!(
            addr >= plan.extent.start && addr + len <= plan.extent.end,
            "{step:?}"
        );
    }
    // The program's bss is there: writable memory beyond the file.
    assert!(
        plan.steps.iter().any(
            |s| matches!(s, LoadStep::MapAnon { prot, .. } if prot.contains(ProtFlags::WRITE))
        )
    );
    // The entry lies in an executable segment.
    assert!(
        info.segments
            .iter()
            .any(|s| s.prot.contains(ProtFlags::EXEC) && (s.vaddr..s.end()).contains(&info.entry))
    );
    plan
}

#[test]
fn static_binary() {
    let info = check_against_readelf(binary("static"));
    assert_eq!(info.kind, ElfType::Exec);
    assert_eq!(info.interp, None);
    let plan = check_plan(&info, Placement::At(pie_base(Arch::HOST)));
    assert_eq!(plan.bias, 0);
    // The data segment's last file page is shared with bss: it must be zeroed.
    assert!(
        plan.steps
            .iter()
            .any(|s| matches!(s, LoadStep::Zero { .. }))
    );
}

#[test]
fn static_pie_binary() {
    let info = check_against_readelf(binary("static-pie"));
    assert_eq!(info.kind, ElfType::Dyn);
    assert_eq!(info.interp, None);
    let plan = check_plan(&info, Placement::At(pie_base(Arch::HOST)));
    assert_eq!(plan.bias % PAGE_SIZE, 0);
    assert!(plan.bias <= pie_base(Arch::HOST) && plan.bias + 0x20_0000 > pie_base(Arch::HOST));
}

#[test]
fn dynamic_pie_binary() {
    let info = check_against_readelf(binary("pie"));
    assert_eq!(info.kind, ElfType::Dyn);
    assert_eq!(info.interp.as_deref(), Some(HOST_INTERP));
    let plan = check_plan(&info, Placement::At(pie_base(Arch::HOST)));
    assert_eq!(plan.phdr, info.phdr_vaddr.map(|p| p + plan.bias));
}

#[test]
fn dynamic_no_pie_binary() {
    let info = check_against_readelf(binary("no-pie"));
    assert_eq!(info.kind, ElfType::Exec);
    assert_eq!(info.interp.as_deref(), Some(HOST_INTERP));
    assert!(!info.exec_stack);
    check_plan(&info, Placement::At(0));
}

#[test]
fn execstack_binary() {
    let info = check_against_readelf(binary("execstack"));
    assert!(info.exec_stack);
}

#[test]
fn host_binaries() {
    for path in ["/bin/ls", "/bin/true", HOST_INTERP] {
        let path = Path::new(path);
        if !path.exists() {
            eprintln!("{} not present, skipped", path.display());
            continue;
        }
        let info = check_against_readelf(path);
        if path == Path::new(HOST_INTERP) {
            // The dynamic linker is ET_DYN with no interpreter of its own, placed like Linux
            // places it: top-down below the mmap base.
            assert_eq!(info.kind, ElfType::Dyn);
            assert_eq!(info.interp, None);
            let top = mmap_base(task_size(Arch::HOST), 8 << 20);
            let user = 0x10000..task_size(Arch::HOST);
            let plan = layout::plan(&info, Placement::Below(top), user).unwrap();
            assert!(plan.extent.end <= top && plan.extent.end + 0x20_0000 > top);
        }
    }
}

#[test]
fn wrong_machine_is_enoexec() {
    let other = match Arch::HOST {
        Arch::X86_64 => Arch::Aarch64,
        Arch::Aarch64 => Arch::X86_64,
    };
    let err = elf::parse(&File::open(binary("static")).unwrap(), other).unwrap_err();
    assert!(matches!(err, ElfError::WrongMachine { .. }), "{err}");
    assert_eq!(err.errno(), Errno::ENOEXEC);
    assert_eq!(err.interp_errno(), Errno::EINVAL);
}

/// A minimal aarch64 executable: one R+X PT_LOAD of the first page, entry inside it.
fn tiny_aarch64() -> Vec<u8> {
    let mut b = vec![0u8; 0x1000];
    b[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
    b[16..18].copy_from_slice(&2u16.to_le_bytes());
    b[18..20].copy_from_slice(&EM_AARCH64.to_le_bytes());
    b[20..24].copy_from_slice(&1u32.to_le_bytes());
    b[24..32].copy_from_slice(&0x400078u64.to_le_bytes());
    b[32..40].copy_from_slice(&64u64.to_le_bytes());
    b[52..54].copy_from_slice(&64u16.to_le_bytes());
    b[54..56].copy_from_slice(&56u16.to_le_bytes());
    b[56..58].copy_from_slice(&1u16.to_le_bytes());
    let ph = &mut b[64..120];
    ph[0..4].copy_from_slice(&1u32.to_le_bytes());
    ph[4..8].copy_from_slice(&5u32.to_le_bytes());
    ph[16..24].copy_from_slice(&0x400000u64.to_le_bytes());
    ph[24..32].copy_from_slice(&0x400000u64.to_le_bytes());
    ph[32..40].copy_from_slice(&0x1000u64.to_le_bytes());
    ph[40..48].copy_from_slice(&0x1000u64.to_le_bytes());
    ph[48..56].copy_from_slice(&0x10000u64.to_le_bytes());
    // `ret`, so the entry holds an instruction.
    b[0x78..0x7c].copy_from_slice(&0xd65f03c0u32.to_le_bytes());
    b
}

#[test]
fn hand_built_aarch64_executable() {
    let image = tiny_aarch64();
    let info = elf::parse(&image, Arch::Aarch64).unwrap();
    assert_eq!(info.machine, EM_AARCH64);
    assert_eq!(info.kind, ElfType::Exec);
    assert_eq!(info.phdr_vaddr, Some(0x400040));
    assert_eq!(info.segments[0].prot, ProtFlags::READ | ProtFlags::EXEC);
    let user = 0x10000..task_size(Arch::Aarch64);
    let plan = layout::plan(&info, Placement::At(0), user.clone()).unwrap();
    assert_eq!(plan.entry, 0x400078);
    assert_eq!(
        plan.steps,
        vec![LoadStep::MapFile {
            addr: 0x400000,
            len: 0x1000,
            file_offset: 0,
            prot: ProtFlags::READ | ProtFlags::EXEC
        }]
    );
    let err = elf::parse(&image, Arch::X86_64).unwrap_err();
    assert_eq!(
        err,
        ElfError::WrongMachine {
            expected: EM_X86_64,
            found: EM_AARCH64
        }
    );

    // As a PIE at the aarch64 base, the 64 KiB alignment rounds the bias down like Linux.
    let mut pie = image.clone();
    pie[16] = 3;
    pie[24..32].copy_from_slice(&0x78u64.to_le_bytes());
    pie[64 + 16..64 + 32].fill(0);
    let info = elf::parse(&pie, Arch::Aarch64).unwrap();
    let plan = layout::plan(&info, Placement::At(pie_base(Arch::Aarch64)), user).unwrap();
    assert_eq!(plan.bias, 0xaaaa_aaaa_0000);
}

/// Parses, and lays out when parsing succeeds; neither may panic. True if it parsed.
fn survive(bytes: &[u8]) -> bool {
    match elf::parse(bytes, Arch::HOST) {
        Ok(info) => {
            let user = 0x10000..task_size(Arch::HOST);
            for placement in [
                Placement::At(pie_base(Arch::HOST)),
                Placement::Below(mmap_base(task_size(Arch::HOST), 8 << 20)),
                Placement::At(u64::MAX),
                Placement::Below(0),
            ] {
                let _ = layout::plan(&info, placement, user.clone());
            }
            true
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            let _ = (e.errno(), e.interp_errno());
            false
        }
    }
}

#[test]
fn truncations_never_panic() {
    for name in ["static", "pie"] {
        let bytes = std::fs::read(binary(name)).unwrap();
        for len in 0..=2048.min(bytes.len()) {
            survive(&bytes[..len]);
        }
        // A file cut inside any segment's bytes is refused.
        let info = elf::parse(&bytes[..], Arch::HOST).unwrap();
        for s in info.segments.iter().filter(|s| s.filesz > 0) {
            let end = s.offset + s.filesz;
            for cut in [s.offset.max(2048), (s.offset + end) / 2, end - 1] {
                if cut < end && cut >= 2048 {
                    assert!(!survive(&bytes[..cut as usize]), "{name} cut at {cut:#x}");
                }
            }
        }
        assert!(survive(&bytes));
    }
}

#[test]
fn byte_flips_never_panic() {
    for name in ["static", "pie", "no-pie"] {
        let bytes = std::fs::read(binary(name)).unwrap();
        let info = elf::parse(&bytes[..], Arch::HOST).unwrap();
        let end = info.phoff as usize + usize::from(info.phnum) * 56;
        let mut accepted = 0;
        for at in 0..end {
            for v in [0x00, 0x01, 0x10, 0x7f, 0x80, 0xfe, 0xff] {
                let mut b = bytes.clone();
                b[at] = v;
                accepted += usize::from(survive(&b));
                b[at] = bytes[at] ^ 0x40;
                accepted += usize::from(survive(&b));
            }
        }
        // Plenty of bytes do not matter (p_paddr, notes); the point is no panic.
        assert!(accepted > 0);
    }
}
