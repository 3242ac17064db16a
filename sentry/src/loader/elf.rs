//! Parsing and validating ELF64 executables and interpreters.
//!
//! Everything the file says is checked before anyone acts on it: [`parse`] either returns an
//! [`ElfInfo`] whose segments are ordered, non-overlapping, inside the file and mappable, or an
//! [`ElfError`]. It never panics on malformed input.

mod error;
#[cfg(test)]
mod tests;

use std::ops::Range;

use abi::Arch;
use abi::flags::ProtFlags;

pub use error::ElfError;

use super::read::{ReadAt, read_exact_at};
use super::{PAGE_SIZE, page_up};

/// `e_machine` of x86_64.
pub const EM_X86_64: u16 = 62;
/// `e_machine` of aarch64.
pub const EM_AARCH64: u16 = 183;

/// Size of the ELF64 file header.
pub const EHDR_SIZE: usize = 64;
/// Size of one ELF64 program header.
pub const PHDR_SIZE: usize = 56;
/// Linux refuses program header tables over 64 KiB; so do we.
pub const MAX_PHNUM: usize = 65536 / PHDR_SIZE;
/// Longest interpreter path, NUL included (Linux's PATH_MAX).
pub const MAX_INTERP_LEN: u64 = 4096;

const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// The `e_machine` value of an architecture.
pub const fn machine(arch: Arch) -> u16 {
    match arch {
        Arch::X86_64 => EM_X86_64,
        Arch::Aarch64 => EM_AARCH64,
    }
}

/// The kind of image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfType {
    /// ET_EXEC: loaded at the addresses it names.
    Exec,
    /// ET_DYN: position independent (PIE, static-PIE, or an interpreter), loaded at a bias.
    Dyn,
}

/// One PT_LOAD segment, with addresses as the file gives them (unbiased).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_memsz`: bytes of memory, the part past `filesz` zero-filled.
    pub memsz: u64,
    /// `p_offset`.
    pub offset: u64,
    /// `p_filesz`: bytes backed by the file.
    pub filesz: u64,
    /// Access rights from `p_flags` (READ, WRITE, EXEC only).
    pub prot: ProtFlags,
    /// `p_align` (zero or a power of two).
    pub align: u64,
}

impl Segment {
    /// First address past the segment (cannot overflow once validated).
    pub fn end(&self) -> u64 {
        self.vaddr + self.memsz
    }
}

/// What the loader needs to know about a validated image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfInfo {
    /// ET_EXEC or ET_DYN.
    pub kind: ElfType,
    /// `e_machine`.
    pub machine: u16,
    /// `e_entry`, unbiased.
    pub entry: u64,
    /// `e_phoff`.
    pub phoff: u64,
    /// Address of the program header table in memory (unbiased): PT_PHDR's, or else where the
    /// PT_LOAD containing `e_phoff` puts it; `None` if no segment maps it.
    pub phdr_vaddr: Option<u64>,
    /// `e_phentsize` (always 56).
    pub phent: u16,
    /// `e_phnum`.
    pub phnum: u16,
    /// The PT_LOAD segments, ascending and non-overlapping; never empty.
    pub segments: Vec<Segment>,
    /// The PT_INTERP path, without its NUL.
    pub interp: Option<String>,
    /// Whether PT_GNU_STACK asks for an executable stack (absent means no on 64-bit Linux).
    pub exec_stack: bool,
    /// From the lowest segment address to the end of the highest segment, unbiased.
    pub span: Range<u64>,
}

/// Parses and validates the ELF64 image in `file`, which must be built for `arch`.
pub fn parse<R: ReadAt + ?Sized>(file: &R, arch: Arch) -> Result<ElfInfo, ElfError> {
    let size = file.size().map_err(ElfError::Read)?;
    // Like Linux, which reads a short file as a header padded with zeros, judge the magic and
    // ident before complaining that the header is cut short.
    let mut eh = [0u8; EHDR_SIZE];
    let complete = read_exact_at(file, 0, &mut eh).map_err(ElfError::Read)?;
    check_ident(&eh)?;
    if !complete {
        return Err(ElfError::TooShort);
    }

    let kind = match le16(&eh, 16) {
        ET_EXEC => ElfType::Exec,
        ET_DYN => ElfType::Dyn,
        t => return Err(ElfError::BadType(t)),
    };
    let found = le16(&eh, 18);
    let expected = machine(arch);
    if found != expected {
        return Err(ElfError::WrongMachine { expected, found });
    }
    let version = le32(&eh, 20);
    if version != 1 {
        return Err(ElfError::BadVersion(version));
    }
    let entry = le64(&eh, 24);
    let phoff = le64(&eh, 32);
    let phent = le16(&eh, 54);
    let phnum = le16(&eh, 56);
    if usize::from(phent) != PHDR_SIZE {
        return Err(ElfError::BadPhentsize(phent));
    }
    if phnum == 0 || usize::from(phnum) > MAX_PHNUM {
        return Err(ElfError::BadPhnum(phnum));
    }

    let table_len = usize::from(phnum) * PHDR_SIZE;
    match phoff.checked_add(table_len as u64) {
        Some(end) if end <= size => {}
        _ => return Err(ElfError::PhdrsOutOfFile),
    }
    let mut table = vec![0u8; table_len];
    if !read_exact_at(file, phoff, &mut table).map_err(ElfError::Read)? {
        // The file shrank under us, or `size` lied.
        return Err(ElfError::PhdrsOutOfFile);
    }

    let mut segments: Vec<Segment> = Vec::new();
    let mut interp_ph = None;
    let mut pt_phdr = None;
    let mut exec_stack = false;
    for (index, ph) in table.chunks_exact(PHDR_SIZE).enumerate() {
        let p_type = le32(ph, 0);
        let p_flags = le32(ph, 4);
        let offset = le64(ph, 8);
        let vaddr = le64(ph, 16);
        let filesz = le64(ph, 32);
        let memsz = le64(ph, 40);
        let align = le64(ph, 48);
        match p_type {
            PT_LOAD => {
                let seg = Segment {
                    vaddr,
                    memsz,
                    offset,
                    filesz,
                    prot: prot_of(p_flags),
                    align,
                };
                check_segment(&seg, index, size)?;
                if let Some(prev) = segments.last().copied() {
                    if vaddr < prev.vaddr {
                        return Err(ElfError::Unordered(index));
                    }
                    if vaddr < prev.end() {
                        return Err(ElfError::Overlap(index));
                    }
                }
                segments.push(seg);
            }
            PT_INTERP if interp_ph.is_some() => return Err(ElfError::MultipleInterp),
            PT_INTERP => interp_ph = Some((offset, filesz)),
            PT_PHDR => pt_phdr = Some(vaddr),
            PT_GNU_STACK => exec_stack = p_flags & PF_X != 0,
            _ => {}
        }
    }
    let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
        return Err(ElfError::NoLoadSegment);
    };
    let span = first.vaddr..last.end();

    let interp = match interp_ph {
        Some((offset, len)) => Some(read_interp(file, offset, len, size)?),
        None => None,
    };
    let phdr_vaddr = pt_phdr.or_else(|| {
        segments
            .iter()
            .find(|s| s.offset <= phoff && phoff - s.offset < s.filesz)
            .map(|s| s.vaddr + (phoff - s.offset))
    });

    Ok(ElfInfo {
        kind,
        machine: found,
        entry,
        phoff,
        phdr_vaddr,
        phent,
        phnum,
        segments,
        interp,
        exec_stack,
        span,
    })
}

/// Checks `e_ident`: magic, class, data encoding, version.
fn check_ident(eh: &[u8; EHDR_SIZE]) -> Result<(), ElfError> {
    if eh[..4] != *b"\x7fELF" {
        return Err(ElfError::BadMagic);
    }
    if eh[4] != 2 {
        return Err(ElfError::BadClass(eh[4]));
    }
    if eh[5] != 1 {
        return Err(ElfError::BadEndianness(eh[5]));
    }
    if eh[6] != 1 {
        return Err(ElfError::BadVersion(u32::from(eh[6])));
    }
    Ok(())
}

/// Checks one PT_LOAD on its own; ordering against its neighbours is the caller's.
fn check_segment(seg: &Segment, index: usize, file_size: u64) -> Result<(), ElfError> {
    if seg.align != 0 && !seg.align.is_power_of_two() {
        return Err(ElfError::BadAlign {
            index,
            align: seg.align,
        });
    }
    if seg.filesz > seg.memsz {
        return Err(ElfError::FileszOverMemsz(index));
    }
    // The end must also round up to a page without wrapping, so layout can rely on it.
    match seg.vaddr.checked_add(seg.memsz).and_then(page_up) {
        Some(_) => {}
        None => return Err(ElfError::SegmentWraps(index)),
    }
    if seg.filesz > 0 {
        match seg.offset.checked_add(seg.filesz) {
            Some(end) if end <= file_size => {}
            _ => return Err(ElfError::SegmentOutOfFile(index)),
        }
        if seg.offset % PAGE_SIZE != seg.vaddr % PAGE_SIZE {
            return Err(ElfError::Misaligned(index));
        }
    }
    Ok(())
}

/// Reads the PT_INTERP path: 2..=PATH_MAX bytes, NUL-terminated, no NUL inside.
fn read_interp<R: ReadAt + ?Sized>(
    file: &R,
    offset: u64,
    len: u64,
    file_size: u64,
) -> Result<String, ElfError> {
    if !(2..=MAX_INTERP_LEN).contains(&len) {
        return Err(ElfError::InterpSize(len));
    }
    match offset.checked_add(len) {
        Some(end) if end <= file_size => {}
        _ => return Err(ElfError::InterpOutOfFile),
    }
    let mut buf = vec![0u8; len as usize];
    if !read_exact_at(file, offset, &mut buf).map_err(ElfError::Read)? {
        return Err(ElfError::InterpOutOfFile);
    }
    match buf.split_last() {
        Some((0, path)) if !path.contains(&0) => {
            String::from_utf8(path.to_vec()).map_err(|_| ElfError::InterpBadPath)
        }
        _ => Err(ElfError::InterpBadPath),
    }
}

fn prot_of(p_flags: u32) -> ProtFlags {
    let mut prot = ProtFlags::NONE;
    if p_flags & PF_R != 0 {
        prot |= ProtFlags::READ;
    }
    if p_flags & PF_W != 0 {
        prot |= ProtFlags::WRITE;
    }
    if p_flags & PF_X != 0 {
        prot |= ProtFlags::EXEC;
    }
    prot
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}
