//! Where an image goes: the load bias, and the mappings that put its segments there.
//!
//! ET_EXEC images load at their own addresses. ET_DYN images (PIE, static-PIE, interpreters)
//! load at a bias the caller's [`Placement`] chooses: Linux puts a PIE at two thirds of the
//! address space ([`pie_base`]) and maps the interpreter top-down below the mmap base
//! ([`mmap_base`]), which is what `Placement::At` and `Placement::Below` express. Linux
//! places a static-PIE (ET_DYN without PT_INTERP) like an interpreter, i.e. `Below`.

#[cfg(test)]
mod tests;

use std::ops::Range;

use abi::Arch;
use abi::Errno;
use abi::flags::ProtFlags;

use super::elf::{ElfInfo, ElfType, Segment};
use super::{PAGE_SIZE, page_down, page_up};

/// Where an ET_DYN image goes; ET_EXEC images ignore it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Its lowest page at this address (rounded down to the image's alignment): a PIE at
    /// [`pie_base`].
    At(u64),
    /// Its highest page ending at or just below this address, as a top-down `mmap` would put
    /// it: an interpreter below [`mmap_base`].
    Below(u64),
}

/// One thing to do to the address space; do them in order, each replacing what was there
/// (segments may share a page, and Linux resolves that the same way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadStep {
    /// Map `len` bytes of the file from `file_offset` at `addr`, private (copy-on-write).
    /// All three are page-aligned.
    MapFile {
        /// Guest address.
        addr: u64,
        /// Length in bytes.
        len: u64,
        /// Offset in the file.
        file_offset: u64,
        /// Access rights.
        prot: ProtFlags,
    },
    /// Write zeros over `addr..addr + len`: the part of the last file page past `p_filesz`,
    /// which the file mapping filled with whatever follows in the file. The loader writes
    /// these through its own access, even when the segment is read-only.
    Zero {
        /// Guest address.
        addr: u64,
        /// Length in bytes, less than a page.
        len: u64,
    },
    /// Map zero-filled anonymous memory (the rest of the bss). Page-aligned.
    MapAnon {
        /// Guest address.
        addr: u64,
        /// Length in bytes.
        len: u64,
        /// Access rights.
        prot: ProtFlags,
    },
}

/// The result of laying out one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    /// Added to every address of the file: 0 for ET_EXEC. For an interpreter this is AT_BASE.
    pub bias: u64,
    /// The biased entry point (AT_ENTRY for the program; where the interpreter starts).
    pub entry: u64,
    /// The biased address of the program headers (AT_PHDR), if a segment maps them.
    pub phdr: Option<u64>,
    /// Page-aligned range the image occupies.
    pub extent: Range<u64>,
    /// Initial program break: the page-aligned end of the highest segment (meaningful for
    /// the main executable).
    pub brk: u64,
    /// The mappings to make, in order.
    pub steps: Vec<LoadStep>,
}

/// The image does not fit where it must go.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// Its pages fall outside the user address range.
    #[error("image {start:#x}..{end:#x} lies outside the user address range")]
    OutOfRange {
        /// Lowest page, biased.
        start: u64,
        /// End of the highest page, biased (saturated if it overflowed).
        end: u64,
    },
    /// Its entry point lies outside the user address range.
    #[error("entry point {0:#x} lies outside the user address range")]
    BadEntry(u64),
    /// A `Placement::Below` limit leaves no room for it.
    #[error("no room for the image below {0:#x}")]
    NoRoom(u64),
}

impl LayoutError {
    /// The errno `execve` returns: Linux reports addresses beyond TASK_SIZE as `EINVAL` and a
    /// failed interpreter mapping as `ENOMEM`.
    pub fn errno(&self) -> Errno {
        match self {
            LayoutError::OutOfRange { .. } | LayoutError::BadEntry(_) => Errno::EINVAL,
            LayoutError::NoRoom(_) => Errno::ENOMEM,
        }
    }
}

/// The end of the user address space (Linux's TASK_SIZE, which is also STACK_TOP): 47-bit on
/// x86_64 less the guard page, 48-bit on aarch64.
pub const fn task_size(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => (1 << 47) - PAGE_SIZE,
        Arch::Aarch64 => 1 << 48,
    }
}

/// Where Linux puts a PIE without ASLR (ELF_ET_DYN_BASE, two thirds of the way up):
/// 0x555555554000 on x86_64, 0xaaaaaaaaa000 on aarch64.
pub const fn pie_base(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => page_down(task_size(arch) / 3 * 2),
        Arch::Aarch64 => page_down(2 * task_size(arch) / 3),
    }
}

/// The top of the top-down mmap area without ASLR, as Linux computes it: below the stack by
/// its rlimit plus the 1 MiB stack guard gap, the gap clamped to 128 MiB..5/6 of the space.
pub fn mmap_base(task_size: u64, stack_rlimit: u64) -> u64 {
    const MIN_GAP: u64 = 128 << 20;
    const GUARD_GAP: u64 = 256 * PAGE_SIZE;
    let max_gap = task_size / 6 * 5;
    let gap = stack_rlimit
        .saturating_add(GUARD_GAP)
        .clamp(MIN_GAP, max_gap.max(MIN_GAP));
    page_down(task_size.saturating_sub(gap))
}

/// Decides the bias of `info` and the mappings that load it inside `user`.
pub fn plan(
    info: &ElfInfo,
    placement: Placement,
    user: Range<u64>,
) -> Result<LoadPlan, LayoutError> {
    let lo = page_down(info.span.start);
    // Validated by the parser: segment ends round up without overflow.
    let hi = page_round_up(info.span.end);
    let bias = match (info.kind, placement) {
        (ElfType::Exec, _) => 0,
        (ElfType::Dyn, Placement::At(base)) => {
            let b = base.checked_sub(lo).ok_or(LayoutError::OutOfRange {
                start: base,
                end: base,
            })?;
            align_down(b, max_align(&info.segments))
        }
        (ElfType::Dyn, Placement::Below(top)) => {
            let b = top.checked_sub(hi).ok_or(LayoutError::NoRoom(top))?;
            let b = align_down(b, max_align(&info.segments));
            if b + lo < user.start {
                return Err(LayoutError::NoRoom(top));
            }
            b
        }
    };

    let start = bias.checked_add(lo);
    let end = bias.checked_add(hi);
    let (Some(start), Some(end)) = (start, end) else {
        return Err(LayoutError::OutOfRange {
            start: start.unwrap_or(u64::MAX),
            end: u64::MAX,
        });
    };
    if start < user.start || end > user.end {
        return Err(LayoutError::OutOfRange { start, end });
    }
    // Everything below is inside `start..end`, so the additions cannot overflow.
    let entry = bias.wrapping_add(info.entry);
    if entry < bias || entry >= user.end {
        return Err(LayoutError::BadEntry(entry));
    }
    let phdr = info.phdr_vaddr.and_then(|p| bias.checked_add(p));

    let mut steps = Vec::new();
    for seg in &info.segments {
        push_steps(&mut steps, seg, bias);
    }
    Ok(LoadPlan {
        bias,
        entry,
        phdr,
        extent: start..end,
        brk: end,
        steps,
    })
}

/// The steps for one segment: file pages, the zeroed tail of the last one, anonymous bss.
fn push_steps(steps: &mut Vec<LoadStep>, seg: &Segment, bias: u64) {
    if seg.memsz == 0 {
        return;
    }
    let va = bias + seg.vaddr;
    let first_page = page_down(va);
    let file_end = va + seg.filesz;
    let mem_end = page_round_up(va + seg.memsz);
    let mut anon_start = first_page;
    if seg.filesz > 0 {
        let file_pages_end = page_round_up(file_end);
        steps.push(LoadStep::MapFile {
            addr: first_page,
            len: file_pages_end - first_page,
            file_offset: page_down(seg.offset),
            prot: seg.prot,
        });
        if seg.memsz > seg.filesz && file_end != file_pages_end {
            steps.push(LoadStep::Zero {
                addr: file_end,
                len: file_pages_end - file_end,
            });
        }
        anon_start = file_pages_end;
    }
    if mem_end > anon_start {
        steps.push(LoadStep::MapAnon {
            addr: anon_start,
            len: mem_end - anon_start,
            prot: seg.prot,
        });
    }
}

/// `page_up` for addresses already known to round up without overflow.
fn page_round_up(addr: u64) -> u64 {
    page_up(addr).unwrap_or(page_down(u64::MAX))
}

/// The largest power-of-two `p_align` of the PT_LOADs, at least a page: Linux aligns an ET_DYN
/// bias to it so that huge-page-aligned segments stay huge-page aligned.
fn max_align(segments: &[Segment]) -> u64 {
    segments
        .iter()
        .map(|s| s.align)
        .filter(|a| a.is_power_of_two())
        .fold(PAGE_SIZE, u64::max)
}

fn align_down(addr: u64, align: u64) -> u64 {
    addr & !(align - 1)
}
