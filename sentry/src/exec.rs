//! Loading a program into a fresh address space: the executable and its interpreter mapped
//! as the loader's plan says, the initial stack, and the registers to start with.

use std::sync::Arc;

use abi::flags::ProtFlags;
use abi::{Arch, Errno};

use crate::loader::{self, AuxValues, LoadStep, Placement, ReadAt, StackParams};
use crate::mm::{Backing, FileSource, MemoryManager, Vma};
use crate::platform::{Platform, Regs};
use crate::vfs::{At, FileType, FsContext, MAY_EXEC, OpenFile, OpenFlags, Vfs, check_access};

/// Size of the stack reservation (RLIMIT_STACK's default).
const STACK_SIZE: u64 = 8 << 20;

/// An executable's contents, readable at offsets, shareable by its mappings.
pub trait Image: ReadAt + FileSource {}
impl<T: ReadAt + FileSource> Image for T {}

/// An image held in memory.
pub struct Bytes(pub Vec<u8>);

impl ReadAt for Bytes {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.0.as_slice().read_at(offset, buf)
    }

    fn size(&self) -> Result<u64, Errno> {
        Ok(self.0.len() as u64)
    }
}

impl FileSource for Bytes {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        ReadAt::read_at(self, offset, buf)
    }
}

/// An open file as an executable image: mappings read it at offsets.
pub struct FileImage(pub Arc<OpenFile>);

impl ReadAt for FileImage {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.0
            .pread(buf, i64::try_from(offset).map_err(|_| Errno::EINVAL)?)
    }

    fn size(&self) -> Result<u64, Errno> {
        Ok(self.0.stat()?.size)
    }
}

impl FileSource for FileImage {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        ReadAt::read_at(self, offset, buf)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        self.0
            .pwrite(data, i64::try_from(offset).map_err(|_| Errno::EINVAL)?)
    }

    fn size(&self) -> Option<u64> {
        self.0.stat().ok().map(|st| st.size)
    }
}

/// Open `path` for execution as execve does: only regular files with execute permission
/// (EACCES otherwise).
pub fn open_executable(vfs: &Vfs, ctx: &FsContext, path: &[u8]) -> Result<Arc<dyn Image>, Errno> {
    let file = vfs.open(ctx, At::Cwd, path, OpenFlags::RDONLY, 0)?;
    let st = file.stat()?;
    if st.file_type() != Some(FileType::Regular) {
        return Err(Errno::EACCES);
    }
    check_access(&ctx.creds, &st, MAY_EXEC)?;
    Ok(Arc::new(FileImage(file)))
}

/// The absolute path, symbolic links resolved, of the executable `path` names (what
/// /proc/self/exe shows); `path` itself if it cannot be resolved.
pub fn resolved_path(vfs: &Vfs, ctx: &FsContext, path: &[u8]) -> Vec<u8> {
    vfs.resolve(ctx, At::Cwd, path, true)
        .map(|loc| vfs.path_of(ctx, &loc))
        .unwrap_or_else(|_| path.to_vec())
}

/// Opens an interpreter by path.
pub type OpenInterp<'a> = dyn Fn(&str) -> Result<Arc<dyn Image>, Errno> + 'a;

/// What exec needs besides the executable.
pub struct ExecArgs<'a> {
    pub argv: &'a [Vec<u8>],
    pub envp: &'a [Vec<u8>],
    /// The path the program was started by (AT_EXECFN).
    pub execfn: &'a [u8],
    /// Opens the interpreter named by PT_INTERP.
    pub open_interp: &'a OpenInterp<'a>,
}

const fn host_arch() -> Arch {
    if cfg!(target_arch = "aarch64") {
        Arch::Aarch64
    } else {
        Arch::X86_64
    }
}

/// Map one image by its plan.
fn apply<P: Platform>(
    mm: &mut MemoryManager<P>,
    image: &Arc<dyn Image>,
    plan: &loader::LoadPlan,
    name: &Arc<str>,
) -> Result<(), Errno> {
    for step in &plan.steps {
        match *step {
            LoadStep::MapFile {
                addr,
                len,
                file_offset,
                prot,
            } => {
                let source: Arc<dyn FileSource> = image.clone();
                let vma = Vma {
                    end: 0,
                    prot,
                    shared: false,
                    backing: Backing::File {
                        source,
                        offset: file_offset,
                    },
                    name: name.clone(),
                };
                mm.map_fixed(addr, len, vma)?;
            }
            LoadStep::Zero { addr, len } => mm.poke(addr, &vec![0u8; len as usize])?,
            LoadStep::MapAnon { addr, len, prot } => {
                let vma = Vma {
                    end: 0,
                    prot,
                    shared: false,
                    backing: Backing::Anonymous,
                    name: name.clone(),
                };
                mm.map_fixed(addr, len, vma)?;
            }
        }
    }
    Ok(())
}

/// Load `image` into `mm` (which must be empty) and return the registers to start it with.
pub fn load<P: Platform>(
    mm: &mut MemoryManager<P>,
    image: Arc<dyn Image>,
    args: &ExecArgs<'_>,
) -> Result<Regs, Errno> {
    let arch = host_arch();
    let (user_min, user_max) = mm.user_range();
    let info = loader::elf::parse(&*image, arch).map_err(|e| {
        tracing::debug!("exec: {e}");
        e.errno()
    })?;
    let name: Arc<str> = Arc::from(String::from_utf8_lossy(args.execfn).as_ref());
    let stack_top = loader::layout::task_size(arch).min(user_max) - crate::mm::PAGE;
    let mmap_top = loader::layout::mmap_base(stack_top, STACK_SIZE);
    // A PIE goes where Linux puts it; a static PIE (no interpreter) is placed like an mmap.
    let placement = if info.interp.is_some() {
        Placement::At(loader::layout::pie_base(arch))
    } else {
        Placement::Below(mmap_top)
    };
    let plan = loader::layout::plan(&info, placement, user_min..mmap_top).map_err(|e| e.errno())?;
    apply(mm, &image, &plan, &name)?;

    let mut entry = plan.entry;
    let mut base = 0;
    // Hint-less mappings go top-down below the interpreter, or below the mmap base.
    let mut mapping_top = if info.kind == loader::ElfType::Dyn && info.interp.is_none() {
        plan.extent.start
    } else {
        mmap_top
    };
    if let Some(path) = &info.interp {
        let interp = (args.open_interp)(path)?;
        let interp_info = loader::elf::parse(&*interp, arch).map_err(|e| e.errno())?;
        let interp_plan =
            loader::layout::plan(&interp_info, Placement::Below(mmap_top), user_min..mmap_top)
                .map_err(|e| e.errno())?;
        apply(mm, &interp, &interp_plan, &Arc::from(path.as_str()))?;
        entry = interp_plan.entry;
        base = interp_plan.bias;
        mapping_top = interp_plan.extent.start;
    }
    mm.set_brk_base(plan.brk);
    mm.set_mmap_top(mapping_top);

    let stack_vma = Vma {
        end: 0,
        prot: ProtFlags::READ | ProtFlags::WRITE,
        shared: false,
        backing: Backing::Anonymous,
        name: Arc::from("[stack]"),
    };
    mm.map_fixed(stack_top - STACK_SIZE, STACK_SIZE, stack_vma)?;
    if cfg!(target_arch = "aarch64") {
        map_sigreturn_page(mm)?;
    }
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|_| Errno::EIO)?;
    let aux = AuxValues {
        phdr: plan.phdr.unwrap_or(0),
        phnum: u64::from(info.phnum),
        base,
        entry: plan.entry,
        hwcap: hwcap(),
        ..AuxValues::default()
    };
    let stack = loader::stack::build(&StackParams {
        arch,
        top: stack_top,
        argv: args.argv,
        envp: args.envp,
        execfn: args.execfn,
        random,
        aux: &aux,
        stack_rlimit: STACK_SIZE,
    })?;
    mm.copy_out(stack.sp, &stack.bytes)?;
    Ok(initial_regs(entry, stack.sp))
}

/// Where the sigreturn page is: the page above the stack, at the top of the address space.
pub fn sigreturn_page(user_max: u64) -> u64 {
    loader::layout::task_size(host_arch()).min(user_max) - crate::mm::PAGE
}

/// The aarch64 sigreturn trampoline (`mov x8, #139; svc #0`: rt_sigreturn), which handlers
/// return into when the program gave no restorer, as Linux's vDSO provides it.
const SIGRETURN_CODE: [u32; 2] = [0xd280_1168, 0xd400_0001];

fn map_sigreturn_page<P: Platform>(mm: &mut MemoryManager<P>) -> Result<(), Errno> {
    let page = sigreturn_page(mm.user_range().1);
    let vma = Vma {
        end: 0,
        prot: ProtFlags::READ | ProtFlags::EXEC,
        shared: false,
        backing: Backing::Anonymous,
        name: Arc::from("[sigpage]"),
    };
    mm.map_fixed(page, crate::mm::PAGE, vma)?;
    let code: Vec<u8> = SIGRETURN_CODE
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    mm.poke(page, &code)
}

/// The application's stack pointer.
#[cfg(target_arch = "x86_64")]
pub fn stack_pointer(regs: &Regs) -> u64 {
    regs.rsp
}

#[cfg(target_arch = "aarch64")]
pub fn stack_pointer(regs: &Regs) -> u64 {
    regs.sp
}

#[cfg(target_arch = "x86_64")]
fn hwcap() -> u64 {
    u64::from(core::arch::x86_64::__cpuid(1).edx)
}

/// The host's AT_HWCAP without what the sandbox does not give applications: SVE (their SVE
/// state is not kept across traps, so SVE is trapped at EL0), CPUID (Linux emulates EL0 reads
/// of ID registers; the sentry does not), pointer authentication (keys are off, see
/// platform-kvm's guest mode), and the PSTATE bits DIT and SSBS (only NZCV survive a trap).
#[cfg(target_arch = "aarch64")]
fn hwcap() -> u64 {
    const CPUID: u64 = 1 << 11;
    const SVE: u64 = 1 << 22;
    const DIT: u64 = 1 << 24;
    const SSBS: u64 = 1 << 28;
    const PACA: u64 = 1 << 30;
    const PACG: u64 = 1 << 31;
    static HOST: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let host = *HOST.get_or_init(|| {
        // The host's own auxiliary vector: (type, value) pairs of native-endian words.
        let auxv = std::fs::read("/proc/self/auxv").unwrap_or_default();
        auxv.chunks_exact(16)
            .map(|p| {
                let word = |b: &[u8]| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
                (word(&p[..8]), word(&p[8..]))
            })
            .find(|&(kind, _)| kind == abi::auxv::AT_HWCAP)
            .map_or(0, |(_, value)| value)
    });
    host & !(CPUID | SVE | DIT | SSBS | PACA | PACG)
}

#[cfg(target_arch = "x86_64")]
fn initial_regs(entry: u64, sp: u64) -> Regs {
    Regs {
        rip: entry,
        rsp: sp,
        eflags: 0x202,
        cs: 0x33,
        ss: 0x2b,
        ..Regs::default()
    }
}

#[cfg(target_arch = "aarch64")]
fn initial_regs(entry: u64, sp: u64) -> Regs {
    Regs {
        user: abi::aarch64::UserRegs {
            pc: entry,
            sp,
            ..Default::default()
        },
        tpidr_el0: 0,
        fp: Default::default(),
    }
}
