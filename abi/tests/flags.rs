//! Flag and constant values against the `libc` crate (x86_64 host), plus the aarch64 open
//! flags, which differ and have no libc on this host.

use abi::aarch64::OpenFlags as A64Open;

/// Compares values of possibly different integer types as the bit patterns the kernel sees:
/// both sides are truncated to the narrower width, so libc's signed `c_int` `0x8000_0000`
/// equals our unsigned one.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
macro_rules! same {
    ($($ours:expr => $theirs:expr),* $(,)?) => {$(
        let ours = $ours;
        let theirs = $theirs;
        let bits = 8 * core::mem::size_of_val(&ours).min(core::mem::size_of_val(&theirs)) as u32;
        let mask = if bits >= 128 { u128::MAX } else { (1u128 << bits) - 1 };
        assert_eq!(
            (ours as i128 as u128) & mask,
            (theirs as i128 as u128) & mask,
            "{} != {}",
            stringify!($ours),
            stringify!($theirs),
        );
    )*};
}

#[test]
fn aarch64_open_flags_differ_where_expected() {
    assert_eq!(A64Open::DIRECTORY.bits(), 0o40000);
    assert_eq!(A64Open::NOFOLLOW.bits(), 0o100000);
    assert_eq!(A64Open::DIRECT.bits(), 0o200000);
    assert_eq!(A64Open::LARGEFILE.bits(), 0o400000);
    assert_eq!(A64Open::TMPFILE.bits(), 0o20000000 | 0o40000);
    assert_eq!(A64Open::CLOEXEC.bits(), 0o2000000);
    assert_eq!(A64Open::RDWR.access_mode(), abi::flags::open::O_RDWR);
    assert_eq!(
        (A64Open::CREAT | A64Open::WRONLY).access_mode(),
        abi::flags::open::O_WRONLY
    );
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod x86_64_libc {
    use abi::epoll::{self, EpollFlags as E};
    use abi::flags::{CloneFlags as C, MapFlags as M, ProtFlags as P, at, fcntl, mman};
    use abi::poll::PollEvents as Poll;
    use abi::signal::{self as sig, SaFlags as Sa};
    use abi::x86_64::OpenFlags as O;
    use abi::{auxv, resource as r, time as t};

    #[test]
    fn open_flags() {
        same! {
            abi::flags::open::O_RDONLY => libc::O_RDONLY,
            O::RDONLY.bits() => libc::O_RDONLY,
            O::WRONLY.bits() => libc::O_WRONLY,
            O::RDWR.bits() => libc::O_RDWR,
            O::ACCMODE.bits() => libc::O_ACCMODE,
            O::CREAT.bits() => libc::O_CREAT,
            O::EXCL.bits() => libc::O_EXCL,
            O::NOCTTY.bits() => libc::O_NOCTTY,
            O::TRUNC.bits() => libc::O_TRUNC,
            O::APPEND.bits() => libc::O_APPEND,
            O::NONBLOCK.bits() => libc::O_NONBLOCK,
            O::NDELAY.bits() => libc::O_NDELAY,
            O::DSYNC.bits() => libc::O_DSYNC,
            O::ASYNC.bits() => libc::O_ASYNC,
            O::DIRECT.bits() => libc::O_DIRECT,
            O::DIRECTORY.bits() => libc::O_DIRECTORY,
            O::NOFOLLOW.bits() => libc::O_NOFOLLOW,
            O::NOATIME.bits() => libc::O_NOATIME,
            O::CLOEXEC.bits() => libc::O_CLOEXEC,
            O::SYNC.bits() => libc::O_SYNC,
            O::PATH.bits() => libc::O_PATH,
            O::TMPFILE.bits() => libc::O_TMPFILE,
        }
    }

    #[test]
    fn fcntl_values() {
        same! {
            fcntl::F_DUPFD => libc::F_DUPFD,
            fcntl::F_GETFD => libc::F_GETFD,
            fcntl::F_SETFD => libc::F_SETFD,
            fcntl::F_GETFL => libc::F_GETFL,
            fcntl::F_SETFL => libc::F_SETFL,
            fcntl::F_GETLK => libc::F_GETLK,
            fcntl::F_SETLK => libc::F_SETLK,
            fcntl::F_SETLKW => libc::F_SETLKW,
            fcntl::F_SETOWN => libc::F_SETOWN,
            fcntl::F_GETOWN => libc::F_GETOWN,
            fcntl::F_OFD_GETLK => libc::F_OFD_GETLK,
            fcntl::F_OFD_SETLK => libc::F_OFD_SETLK,
            fcntl::F_OFD_SETLKW => libc::F_OFD_SETLKW,
            fcntl::F_SETLEASE => libc::F_SETLEASE,
            fcntl::F_GETLEASE => libc::F_GETLEASE,
            fcntl::F_NOTIFY => libc::F_NOTIFY,
            fcntl::F_DUPFD_CLOEXEC => libc::F_DUPFD_CLOEXEC,
            fcntl::F_SETPIPE_SZ => libc::F_SETPIPE_SZ,
            fcntl::F_GETPIPE_SZ => libc::F_GETPIPE_SZ,
            fcntl::F_ADD_SEALS => libc::F_ADD_SEALS,
            fcntl::F_GET_SEALS => libc::F_GET_SEALS,
            fcntl::FD_CLOEXEC => libc::FD_CLOEXEC,
        }
    }

    #[test]
    fn mmap_flags() {
        same! {
            P::NONE.bits() => libc::PROT_NONE,
            P::READ.bits() => libc::PROT_READ,
            P::WRITE.bits() => libc::PROT_WRITE,
            P::EXEC.bits() => libc::PROT_EXEC,
            P::GROWSDOWN.bits() => libc::PROT_GROWSDOWN,
            P::GROWSUP.bits() => libc::PROT_GROWSUP,
            M::SHARED.bits() => libc::MAP_SHARED,
            M::PRIVATE.bits() => libc::MAP_PRIVATE,
            M::SHARED_VALIDATE.bits() => libc::MAP_SHARED_VALIDATE,
            M::DROPPABLE.bits() => libc::MAP_DROPPABLE,
            M::TYPE.bits() => libc::MAP_TYPE,
            M::FIXED.bits() => libc::MAP_FIXED,
            M::ANONYMOUS.bits() => libc::MAP_ANONYMOUS,
            M::ANON.bits() => libc::MAP_ANON,
            M::FILE.bits() => libc::MAP_FILE,
            M::BELOW_2G.bits() => libc::MAP_32BIT,
            M::GROWSDOWN.bits() => libc::MAP_GROWSDOWN,
            M::DENYWRITE.bits() => libc::MAP_DENYWRITE,
            M::EXECUTABLE.bits() => libc::MAP_EXECUTABLE,
            M::LOCKED.bits() => libc::MAP_LOCKED,
            M::NORESERVE.bits() => libc::MAP_NORESERVE,
            M::POPULATE.bits() => libc::MAP_POPULATE,
            M::NONBLOCK.bits() => libc::MAP_NONBLOCK,
            M::STACK.bits() => libc::MAP_STACK,
            M::HUGETLB.bits() => libc::MAP_HUGETLB,
            M::SYNC.bits() => libc::MAP_SYNC,
            M::FIXED_NOREPLACE.bits() => libc::MAP_FIXED_NOREPLACE,
            mman::MAP_HUGE_SHIFT => libc::MAP_HUGE_SHIFT,
            mman::MAP_HUGE_MASK => libc::MAP_HUGE_MASK,
            mman::MremapFlags::MAYMOVE.bits() => libc::MREMAP_MAYMOVE,
            mman::MremapFlags::FIXED.bits() => libc::MREMAP_FIXED,
            mman::MremapFlags::DONTUNMAP.bits() => libc::MREMAP_DONTUNMAP,
            mman::MS_ASYNC => libc::MS_ASYNC,
            mman::MS_INVALIDATE => libc::MS_INVALIDATE,
            mman::MS_SYNC => libc::MS_SYNC,
            mman::MADV_NORMAL => libc::MADV_NORMAL,
            mman::MADV_RANDOM => libc::MADV_RANDOM,
            mman::MADV_SEQUENTIAL => libc::MADV_SEQUENTIAL,
            mman::MADV_WILLNEED => libc::MADV_WILLNEED,
            mman::MADV_DONTNEED => libc::MADV_DONTNEED,
            mman::MADV_FREE => libc::MADV_FREE,
            mman::MADV_REMOVE => libc::MADV_REMOVE,
            mman::MADV_DONTFORK => libc::MADV_DONTFORK,
            mman::MADV_DOFORK => libc::MADV_DOFORK,
            mman::MADV_MERGEABLE => libc::MADV_MERGEABLE,
            mman::MADV_UNMERGEABLE => libc::MADV_UNMERGEABLE,
            mman::MADV_HUGEPAGE => libc::MADV_HUGEPAGE,
            mman::MADV_NOHUGEPAGE => libc::MADV_NOHUGEPAGE,
            mman::MADV_DONTDUMP => libc::MADV_DONTDUMP,
            mman::MADV_DODUMP => libc::MADV_DODUMP,
            mman::MADV_WIPEONFORK => libc::MADV_WIPEONFORK,
            mman::MADV_KEEPONFORK => libc::MADV_KEEPONFORK,
            mman::MADV_COLD => libc::MADV_COLD,
            mman::MADV_PAGEOUT => libc::MADV_PAGEOUT,
            mman::MADV_POPULATE_READ => libc::MADV_POPULATE_READ,
            mman::MADV_POPULATE_WRITE => libc::MADV_POPULATE_WRITE,
            mman::MADV_DONTNEED_LOCKED => libc::MADV_DONTNEED_LOCKED,
            mman::MADV_COLLAPSE => libc::MADV_COLLAPSE,
            mman::MADV_HWPOISON => libc::MADV_HWPOISON,
            mman::MADV_SOFT_OFFLINE => libc::MADV_SOFT_OFFLINE,
        }
    }

    #[test]
    // libc deprecates its 32-bit-typed CLONE_CLEAR_SIGHAND/INTO_CGROUP; the values still hold.
    #[allow(deprecated)]
    fn clone_flags() {
        same! {
            abi::flags::clone::CSIGNAL => libc::CSIGNAL,
            C::NEWTIME.bits() => libc::CLONE_NEWTIME,
            C::VM.bits() => libc::CLONE_VM,
            C::FS.bits() => libc::CLONE_FS,
            C::FILES.bits() => libc::CLONE_FILES,
            C::SIGHAND.bits() => libc::CLONE_SIGHAND,
            C::PIDFD.bits() => libc::CLONE_PIDFD,
            C::PTRACE.bits() => libc::CLONE_PTRACE,
            C::VFORK.bits() => libc::CLONE_VFORK,
            C::PARENT.bits() => libc::CLONE_PARENT,
            C::THREAD.bits() => libc::CLONE_THREAD,
            C::NEWNS.bits() => libc::CLONE_NEWNS,
            C::SYSVSEM.bits() => libc::CLONE_SYSVSEM,
            C::SETTLS.bits() => libc::CLONE_SETTLS,
            C::PARENT_SETTID.bits() => libc::CLONE_PARENT_SETTID,
            C::CHILD_CLEARTID.bits() => libc::CLONE_CHILD_CLEARTID,
            C::DETACHED.bits() => libc::CLONE_DETACHED,
            C::UNTRACED.bits() => libc::CLONE_UNTRACED,
            C::CHILD_SETTID.bits() => libc::CLONE_CHILD_SETTID,
            C::NEWCGROUP.bits() => libc::CLONE_NEWCGROUP,
            C::NEWUTS.bits() => libc::CLONE_NEWUTS,
            C::NEWIPC.bits() => libc::CLONE_NEWIPC,
            C::NEWUSER.bits() => libc::CLONE_NEWUSER,
            C::NEWPID.bits() => libc::CLONE_NEWPID,
            C::NEWNET.bits() => libc::CLONE_NEWNET,
            C::IO.bits() => libc::CLONE_IO,
            C::CLEAR_SIGHAND.bits() => libc::CLONE_CLEAR_SIGHAND,
            C::INTO_CGROUP.bits() => libc::CLONE_INTO_CGROUP,
        }
        let raw = (libc::CLONE_VM | libc::CLONE_THREAD | libc::SIGCHLD) as u64;
        assert_eq!(C::split(raw), (C::VM | C::THREAD, libc::SIGCHLD as u32));
    }

    #[test]
    fn signal_numbers() {
        same! {
            sig::SIGHUP => libc::SIGHUP,
            sig::SIGINT => libc::SIGINT,
            sig::SIGQUIT => libc::SIGQUIT,
            sig::SIGILL => libc::SIGILL,
            sig::SIGTRAP => libc::SIGTRAP,
            sig::SIGABRT => libc::SIGABRT,
            sig::SIGIOT => libc::SIGIOT,
            sig::SIGBUS => libc::SIGBUS,
            sig::SIGFPE => libc::SIGFPE,
            sig::SIGKILL => libc::SIGKILL,
            sig::SIGUSR1 => libc::SIGUSR1,
            sig::SIGSEGV => libc::SIGSEGV,
            sig::SIGUSR2 => libc::SIGUSR2,
            sig::SIGPIPE => libc::SIGPIPE,
            sig::SIGALRM => libc::SIGALRM,
            sig::SIGTERM => libc::SIGTERM,
            sig::SIGSTKFLT => libc::SIGSTKFLT,
            sig::SIGCHLD => libc::SIGCHLD,
            sig::SIGCONT => libc::SIGCONT,
            sig::SIGSTOP => libc::SIGSTOP,
            sig::SIGTSTP => libc::SIGTSTP,
            sig::SIGTTIN => libc::SIGTTIN,
            sig::SIGTTOU => libc::SIGTTOU,
            sig::SIGURG => libc::SIGURG,
            sig::SIGXCPU => libc::SIGXCPU,
            sig::SIGXFSZ => libc::SIGXFSZ,
            sig::SIGVTALRM => libc::SIGVTALRM,
            sig::SIGPROF => libc::SIGPROF,
            sig::SIGWINCH => libc::SIGWINCH,
            sig::SIGIO => libc::SIGIO,
            sig::SIGPOLL => libc::SIGPOLL,
            sig::SIGPWR => libc::SIGPWR,
            sig::SIGSYS => libc::SIGSYS,
            sig::SIG_BLOCK => libc::SIG_BLOCK,
            sig::SIG_UNBLOCK => libc::SIG_UNBLOCK,
            sig::SIG_SETMASK => libc::SIG_SETMASK,
            sig::SIG_DFL => libc::SIG_DFL,
            sig::SIG_IGN => libc::SIG_IGN,
            // glibc keeps 32 and 33 for itself, so its SIGRTMIN() is above the kernel's.
            sig::SIGRTMAX => libc::SIGRTMAX(),
        }
        assert!(sig::SIGRTMIN <= libc::SIGRTMIN());
        for n in 1..=31 {
            let name = sig::name(n).unwrap();
            assert!(name.starts_with("SIG"), "{name}");
        }
        assert_eq!(sig::name(sig::SIGSEGV), Some("SIGSEGV"));
        assert_eq!(sig::name(32), None);
    }

    #[test]
    fn sigaction_and_stack_flags() {
        same! {
            Sa::NOCLDSTOP.bits() => libc::SA_NOCLDSTOP,
            Sa::NOCLDWAIT.bits() => libc::SA_NOCLDWAIT,
            Sa::SIGINFO.bits() => libc::SA_SIGINFO,
            Sa::ONSTACK.bits() => libc::SA_ONSTACK,
            Sa::RESTART.bits() => libc::SA_RESTART,
            Sa::NODEFER.bits() => libc::SA_NODEFER,
            Sa::RESETHAND.bits() => libc::SA_RESETHAND,
            sig::SS_ONSTACK => libc::SS_ONSTACK,
            sig::SS_DISABLE => libc::SS_DISABLE,
            abi::x86_64::MINSIGSTKSZ => libc::MINSIGSTKSZ,
            abi::x86_64::SIGSTKSZ => libc::SIGSTKSZ,
        }
        // Not in libc: SA_RESTORER is private to the C library's trampoline.
        assert_eq!(Sa::RESTORER.bits(), 0x0400_0000);
    }

    #[test]
    fn siginfo_codes() {
        same! {
            sig::SI_USER => libc::SI_USER,
            sig::SI_KERNEL => libc::SI_KERNEL,
            sig::SI_QUEUE => libc::SI_QUEUE,
            sig::SI_TIMER => libc::SI_TIMER,
            sig::SI_MESGQ => libc::SI_MESGQ,
            sig::SI_ASYNCIO => libc::SI_ASYNCIO,
            sig::SI_SIGIO => libc::SI_SIGIO,
            sig::SI_TKILL => libc::SI_TKILL,
            sig::BUS_ADRALN => libc::BUS_ADRALN,
            sig::BUS_ADRERR => libc::BUS_ADRERR,
            sig::BUS_OBJERR => libc::BUS_OBJERR,
            sig::BUS_MCEERR_AR => libc::BUS_MCEERR_AR,
            sig::BUS_MCEERR_AO => libc::BUS_MCEERR_AO,
            sig::TRAP_BRKPT => libc::TRAP_BRKPT,
            sig::TRAP_TRACE => libc::TRAP_TRACE,
            sig::TRAP_BRANCH => libc::TRAP_BRANCH,
            sig::TRAP_HWBKPT => libc::TRAP_HWBKPT,
            sig::CLD_EXITED => libc::CLD_EXITED,
            sig::CLD_KILLED => libc::CLD_KILLED,
            sig::CLD_DUMPED => libc::CLD_DUMPED,
            sig::CLD_TRAPPED => libc::CLD_TRAPPED,
            sig::CLD_STOPPED => libc::CLD_STOPPED,
            sig::CLD_CONTINUED => libc::CLD_CONTINUED,
        }
    }

    #[test]
    fn at_values() {
        same! {
            at::AT_FDCWD => libc::AT_FDCWD,
            at::AT_SYMLINK_NOFOLLOW => libc::AT_SYMLINK_NOFOLLOW,
            at::AT_EACCESS => libc::AT_EACCESS,
            at::AT_REMOVEDIR => libc::AT_REMOVEDIR,
            at::AT_SYMLINK_FOLLOW => libc::AT_SYMLINK_FOLLOW,
            at::AT_NO_AUTOMOUNT => libc::AT_NO_AUTOMOUNT,
            at::AT_EMPTY_PATH => libc::AT_EMPTY_PATH,
            at::AT_STATX_SYNC_TYPE => libc::AT_STATX_SYNC_TYPE,
            at::AT_STATX_SYNC_AS_STAT => libc::AT_STATX_SYNC_AS_STAT,
            at::AT_STATX_FORCE_SYNC => libc::AT_STATX_FORCE_SYNC,
            at::AT_STATX_DONT_SYNC => libc::AT_STATX_DONT_SYNC,
            at::AT_RECURSIVE => libc::AT_RECURSIVE,
        }
    }

    #[test]
    fn auxv_types() {
        same! {
            auxv::AT_NULL => libc::AT_NULL,
            auxv::AT_IGNORE => libc::AT_IGNORE,
            auxv::AT_EXECFD => libc::AT_EXECFD,
            auxv::AT_PHDR => libc::AT_PHDR,
            auxv::AT_PHENT => libc::AT_PHENT,
            auxv::AT_PHNUM => libc::AT_PHNUM,
            auxv::AT_PAGESZ => libc::AT_PAGESZ,
            auxv::AT_BASE => libc::AT_BASE,
            auxv::AT_FLAGS => libc::AT_FLAGS,
            auxv::AT_ENTRY => libc::AT_ENTRY,
            auxv::AT_NOTELF => libc::AT_NOTELF,
            auxv::AT_UID => libc::AT_UID,
            auxv::AT_EUID => libc::AT_EUID,
            auxv::AT_GID => libc::AT_GID,
            auxv::AT_EGID => libc::AT_EGID,
            auxv::AT_PLATFORM => libc::AT_PLATFORM,
            auxv::AT_HWCAP => libc::AT_HWCAP,
            auxv::AT_CLKTCK => libc::AT_CLKTCK,
            auxv::AT_SECURE => libc::AT_SECURE,
            auxv::AT_BASE_PLATFORM => libc::AT_BASE_PLATFORM,
            auxv::AT_RANDOM => libc::AT_RANDOM,
            auxv::AT_HWCAP2 => libc::AT_HWCAP2,
            auxv::AT_HWCAP3 => libc::AT_HWCAP3,
            auxv::AT_HWCAP4 => libc::AT_HWCAP4,
            auxv::AT_EXECFN => libc::AT_EXECFN,
            auxv::AT_SYSINFO_EHDR => libc::AT_SYSINFO_EHDR,
            auxv::AT_MINSIGSTKSZ => libc::AT_MINSIGSTKSZ,
        }
    }

    #[test]
    fn poll_and_epoll() {
        same! {
            Poll::POLLIN.bits() => libc::POLLIN,
            Poll::POLLPRI.bits() => libc::POLLPRI,
            Poll::POLLOUT.bits() => libc::POLLOUT,
            Poll::POLLERR.bits() => libc::POLLERR,
            Poll::POLLHUP.bits() => libc::POLLHUP,
            Poll::POLLNVAL.bits() => libc::POLLNVAL,
            Poll::POLLRDNORM.bits() => libc::POLLRDNORM,
            Poll::POLLRDBAND.bits() => libc::POLLRDBAND,
            Poll::POLLWRNORM.bits() => libc::POLLWRNORM,
            Poll::POLLWRBAND.bits() => libc::POLLWRBAND,
            Poll::POLLRDHUP.bits() => libc::POLLRDHUP,
            E::EPOLLIN.bits() => libc::EPOLLIN,
            E::EPOLLPRI.bits() => libc::EPOLLPRI,
            E::EPOLLOUT.bits() => libc::EPOLLOUT,
            E::EPOLLERR.bits() => libc::EPOLLERR,
            E::EPOLLHUP.bits() => libc::EPOLLHUP,
            E::EPOLLRDNORM.bits() => libc::EPOLLRDNORM,
            E::EPOLLRDBAND.bits() => libc::EPOLLRDBAND,
            E::EPOLLWRNORM.bits() => libc::EPOLLWRNORM,
            E::EPOLLWRBAND.bits() => libc::EPOLLWRBAND,
            E::EPOLLMSG.bits() => libc::EPOLLMSG,
            E::EPOLLRDHUP.bits() => libc::EPOLLRDHUP,
            E::EPOLLEXCLUSIVE.bits() => libc::EPOLLEXCLUSIVE,
            E::EPOLLWAKEUP.bits() => libc::EPOLLWAKEUP,
            E::EPOLLONESHOT.bits() => libc::EPOLLONESHOT,
            E::EPOLLET.bits() => libc::EPOLLET,
            epoll::EPOLL_CTL_ADD => libc::EPOLL_CTL_ADD,
            epoll::EPOLL_CTL_DEL => libc::EPOLL_CTL_DEL,
            epoll::EPOLL_CTL_MOD => libc::EPOLL_CTL_MOD,
            epoll::EPOLL_CLOEXEC => libc::EPOLL_CLOEXEC,
        }
    }

    #[test]
    #[allow(deprecated)] // RLIM_NLIMITS: "not stable across OS versions", but 16 on Linux 6.x
    fn resource_and_time() {
        same! {
            r::RLIM_INFINITY => libc::RLIM_INFINITY,
            r::RLIMIT_CPU => libc::RLIMIT_CPU,
            r::RLIMIT_FSIZE => libc::RLIMIT_FSIZE,
            r::RLIMIT_DATA => libc::RLIMIT_DATA,
            r::RLIMIT_STACK => libc::RLIMIT_STACK,
            r::RLIMIT_CORE => libc::RLIMIT_CORE,
            r::RLIMIT_RSS => libc::RLIMIT_RSS,
            r::RLIMIT_NPROC => libc::RLIMIT_NPROC,
            r::RLIMIT_NOFILE => libc::RLIMIT_NOFILE,
            r::RLIMIT_MEMLOCK => libc::RLIMIT_MEMLOCK,
            r::RLIMIT_AS => libc::RLIMIT_AS,
            r::RLIMIT_LOCKS => libc::RLIMIT_LOCKS,
            r::RLIMIT_SIGPENDING => libc::RLIMIT_SIGPENDING,
            r::RLIMIT_MSGQUEUE => libc::RLIMIT_MSGQUEUE,
            r::RLIMIT_NICE => libc::RLIMIT_NICE,
            r::RLIMIT_RTPRIO => libc::RLIMIT_RTPRIO,
            r::RLIMIT_RTTIME => libc::RLIMIT_RTTIME,
            r::RLIM_NLIMITS => libc::RLIM_NLIMITS,
            abi::uio::UIO_MAXIOV => libc::UIO_MAXIOV,
            t::CLOCK_REALTIME => libc::CLOCK_REALTIME,
            t::CLOCK_MONOTONIC => libc::CLOCK_MONOTONIC,
            t::CLOCK_PROCESS_CPUTIME_ID => libc::CLOCK_PROCESS_CPUTIME_ID,
            t::CLOCK_THREAD_CPUTIME_ID => libc::CLOCK_THREAD_CPUTIME_ID,
            t::CLOCK_MONOTONIC_RAW => libc::CLOCK_MONOTONIC_RAW,
            t::CLOCK_REALTIME_COARSE => libc::CLOCK_REALTIME_COARSE,
            t::CLOCK_MONOTONIC_COARSE => libc::CLOCK_MONOTONIC_COARSE,
            t::CLOCK_BOOTTIME => libc::CLOCK_BOOTTIME,
            t::CLOCK_REALTIME_ALARM => libc::CLOCK_REALTIME_ALARM,
            t::CLOCK_BOOTTIME_ALARM => libc::CLOCK_BOOTTIME_ALARM,
            t::CLOCK_TAI => libc::CLOCK_TAI,
            t::TIMER_ABSTIME => libc::TIMER_ABSTIME,
            t::UTIME_NOW => libc::UTIME_NOW,
            t::UTIME_OMIT => libc::UTIME_OMIT,
        }
    }
}

/// `#define NAME <integer>` lines of a kernel header, or `None` (with a note) if the header is
/// not installed. Casts such as `(__poll_t)` in front of the value are skipped.
fn header_defines(path: &str) -> Option<std::collections::HashMap<String, i64>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        println!("skipping: {path} is not installed");
        return None;
    };
    let mut defines = std::collections::HashMap::new();
    for line in text.lines() {
        // Both `#define` and the indented `# define` occur.
        let Some(directive) = line.trim().strip_prefix('#') else {
            continue;
        };
        let mut words = directive.split_whitespace();
        if words.next() != Some("define") {
            continue;
        }
        let (Some(name), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let value = value.rsplit(')').next().unwrap_or(value);
        let parsed = if let Some(hex) = value.strip_prefix("0x") {
            i64::from_str_radix(hex, 16).ok()
        } else if value.len() > 1 && value.starts_with('0') {
            i64::from_str_radix(&value[1..], 8).ok()
        } else {
            value.parse().ok()
        };
        if let Some(v) = parsed {
            defines.insert(name.to_string(), v);
        }
    }
    Some(defines)
}

/// Checks our constants against a header's `#define`s by name.
macro_rules! same_as_header {
    ($path:expr, $($ours:expr => $name:literal),* $(,)?) => {
        if let Some(defines) = header_defines($path) {
            $(
                let theirs = *defines
                    .get($name)
                    .unwrap_or_else(|| panic!("{} has no {}", $path, $name));
                assert_eq!($ours as i64, theirs, "{} != {} in {}", stringify!($ours), $name, $path);
            )*
        }
    };
}

/// Values the `libc` crate does not define, checked against the installed kernel headers.
#[test]
fn values_missing_from_libc_match_kernel_headers() {
    use abi::signal as sig;
    same_as_header! {
        "/usr/include/asm-generic/siginfo.h",
        sig::ILL_ILLOPC => "ILL_ILLOPC",
        sig::ILL_ILLOPN => "ILL_ILLOPN",
        sig::ILL_ILLADR => "ILL_ILLADR",
        sig::ILL_ILLTRP => "ILL_ILLTRP",
        sig::ILL_PRVOPC => "ILL_PRVOPC",
        sig::ILL_PRVREG => "ILL_PRVREG",
        sig::ILL_COPROC => "ILL_COPROC",
        sig::ILL_BADSTK => "ILL_BADSTK",
        sig::FPE_INTDIV => "FPE_INTDIV",
        sig::FPE_INTOVF => "FPE_INTOVF",
        sig::FPE_FLTDIV => "FPE_FLTDIV",
        sig::FPE_FLTOVF => "FPE_FLTOVF",
        sig::FPE_FLTUND => "FPE_FLTUND",
        sig::FPE_FLTRES => "FPE_FLTRES",
        sig::FPE_FLTINV => "FPE_FLTINV",
        sig::FPE_FLTSUB => "FPE_FLTSUB",
        sig::SEGV_MAPERR => "SEGV_MAPERR",
        sig::SEGV_ACCERR => "SEGV_ACCERR",
        sig::SEGV_BNDERR => "SEGV_BNDERR",
        sig::SEGV_PKUERR => "SEGV_PKUERR",
        sig::SEGV_MTEAERR => "SEGV_MTEAERR",
        sig::SEGV_MTESERR => "SEGV_MTESERR",
        sig::POLL_IN => "POLL_IN",
        sig::POLL_OUT => "POLL_OUT",
        sig::POLL_MSG => "POLL_MSG",
        sig::POLL_ERR => "POLL_ERR",
        sig::POLL_PRI => "POLL_PRI",
        sig::POLL_HUP => "POLL_HUP",
        sig::SYS_SECCOMP => "SYS_SECCOMP",
    }
    same_as_header! {
        "/usr/include/asm-generic/mman-common.h",
        abi::flags::MapFlags::UNINITIALIZED.bits() => "MAP_UNINITIALIZED",
        abi::flags::ProtFlags::SEM.bits() => "PROT_SEM",
    }
    same_as_header! {
        "/usr/include/linux/eventpoll.h",
        abi::epoll::EpollFlags::EPOLLNVAL.bits() => "EPOLLNVAL",
        abi::epoll::EpollFlags::EPOLLMSG.bits() => "EPOLLMSG",
    }
    same_as_header! {
        "/usr/include/asm-generic/fcntl.h",
        A64Open::CREAT.bits() => "O_CREAT",
        A64Open::NOATIME.bits() => "O_NOATIME",
        A64Open::PATH.bits() => "O_PATH",
        // glibc defines O_LARGEFILE as 0 on x86_64; the kernel's value is the generic one,
        // and so are x86_64's O_DIRECTORY, O_NOFOLLOW and O_DIRECT.
        abi::x86_64::OpenFlags::LARGEFILE.bits() => "O_LARGEFILE",
        abi::x86_64::OpenFlags::DIRECTORY.bits() => "O_DIRECTORY",
        abi::x86_64::OpenFlags::NOFOLLOW.bits() => "O_NOFOLLOW",
        abi::x86_64::OpenFlags::DIRECT.bits() => "O_DIRECT",
    }
    same_as_header! {
        "/usr/include/asm-generic/signal-defs.h",
        abi::signal::SaFlags::UNSUPPORTED.bits() => "SA_UNSUPPORTED",
        abi::signal::SaFlags::EXPOSE_TAGBITS.bits() => "SA_EXPOSE_TAGBITS",
    }
    same_as_header! {
        "/usr/include/x86_64-linux-gnu/asm/signal.h",
        abi::signal::SaFlags::RESTORER.bits() => "SA_RESTORER",
    }
}
