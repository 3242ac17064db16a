//! Why an image was refused, and the errno `execve` reports for it.

use abi::Errno;

/// A malformed or unsupported ELF image. The variants carry the program-header index where one
/// is at fault, so a log line points at the culprit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    /// Reading the image failed.
    #[error("reading the image failed: {0}")]
    Read(Errno),
    /// Shorter than an ELF header.
    #[error("file too short for an ELF header")]
    TooShort,
    /// No `\x7fELF` magic.
    #[error("not an ELF file")]
    BadMagic,
    /// Not ELFCLASS64.
    #[error("unsupported ELF class {0} (want 64-bit)")]
    BadClass(u8),
    /// Not little-endian.
    #[error("unsupported ELF data encoding {0} (want little-endian)")]
    BadEndianness(u8),
    /// `e_ident[EI_VERSION]` or `e_version` is not EV_CURRENT.
    #[error("unsupported ELF version {0}")]
    BadVersion(u32),
    /// Built for another architecture.
    #[error("ELF machine {found}, expected {expected}")]
    WrongMachine {
        /// The machine the loader serves.
        expected: u16,
        /// The image's `e_machine`.
        found: u16,
    },
    /// Neither ET_EXEC nor ET_DYN.
    #[error("ELF type {0} is not loadable")]
    BadType(u16),
    /// `e_phentsize` is not the size of an ELF64 program header.
    #[error("program header size {0}, expected 56")]
    BadPhentsize(u16),
    /// No program headers, or more than the 64 KiB table Linux accepts.
    #[error("{0} program headers is out of range")]
    BadPhnum(u16),
    /// The program header table lies (partly) outside the file.
    #[error("program header table outside the file")]
    PhdrsOutOfFile,
    /// Nothing to load.
    #[error("no PT_LOAD segment")]
    NoLoadSegment,
    /// `p_align` is not zero or a power of two.
    #[error("segment {index}: alignment {align:#x} is not a power of two")]
    BadAlign {
        /// Program header index.
        index: usize,
        /// Its `p_align`.
        align: u64,
    },
    /// `p_filesz > p_memsz`.
    #[error("segment {0}: file size exceeds memory size")]
    FileszOverMemsz(usize),
    /// `p_offset` and `p_vaddr` differ modulo the page size, so the file cannot be mapped.
    #[error("segment {0}: offset and address are not congruent modulo the page size")]
    Misaligned(usize),
    /// `p_vaddr + p_memsz` wraps around the address space.
    #[error("segment {0}: address range wraps")]
    SegmentWraps(usize),
    /// `p_offset + p_filesz` lies beyond the end of the file.
    #[error("segment {0}: file range outside the file")]
    SegmentOutOfFile(usize),
    /// PT_LOAD segments are not in ascending address order.
    #[error("segment {0}: PT_LOAD segments out of order")]
    Unordered(usize),
    /// Two PT_LOAD segments share addresses.
    #[error("segment {0}: overlaps the previous PT_LOAD")]
    Overlap(usize),
    /// More than one PT_INTERP.
    #[error("more than one PT_INTERP")]
    MultipleInterp,
    /// The PT_INTERP path is empty or longer than PATH_MAX.
    #[error("interpreter path of {0} bytes is out of range")]
    InterpSize(u64),
    /// The PT_INTERP path lies outside the file.
    #[error("interpreter path outside the file")]
    InterpOutOfFile,
    /// The PT_INTERP path is not NUL-terminated, has a NUL inside, or is not UTF-8.
    #[error("interpreter path is not a NUL-terminated UTF-8 string")]
    InterpBadPath,
}

impl ElfError {
    /// The errno `execve` returns when the executable itself is at fault, as Linux reports it:
    /// header problems are `ENOEXEC`, bad segment geometry `EINVAL`, a short interpreter read
    /// `EIO`.
    pub fn errno(&self) -> Errno {
        use ElfError::*;
        match self {
            Read(e) => *e,
            InterpOutOfFile => Errno::EIO,
            TooShort
            | BadMagic
            | BadClass(_)
            | BadEndianness(_)
            | BadVersion(_)
            | WrongMachine { .. }
            | BadType(_)
            | BadPhentsize(_)
            | BadPhnum(_)
            | PhdrsOutOfFile
            | MultipleInterp
            | InterpSize(_)
            | InterpBadPath => Errno::ENOEXEC,
            NoLoadSegment
            | BadAlign { .. }
            | FileszOverMemsz(_)
            | Misaligned(_)
            | SegmentWraps(_)
            | SegmentOutOfFile(_)
            | Unordered(_)
            | Overlap(_) => Errno::EINVAL,
        }
    }

    /// The errno `execve` returns when the *interpreter* is at fault: a file that is not ELF
    /// at all is `ELIBBAD`, any other defect `EINVAL` (Linux's `load_elf_interp`).
    pub fn interp_errno(&self) -> Errno {
        match self {
            ElfError::Read(e) => *e,
            ElfError::TooShort | ElfError::BadMagic => Errno::ELIBBAD,
            _ => Errno::EINVAL,
        }
    }
}
