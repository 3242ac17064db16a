//! Structure sizes and field offsets: x86_64 against the `libc` crate, aarch64 against
//! offsets worked out by hand from the kernel's generic definitions.

use core::mem::{align_of, offset_of, size_of};

use abi::{IoVec, PollFd, Rlimit, SigAction, SigInfo, StackT, Timespec, Timeval, UtsName};

/// Asserts that `$ours` and `$theirs` have the same size and that each listed field sits at
/// the same offset in both.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
macro_rules! same_layout {
    ($ours:ty, $theirs:ty $(, $field:ident = $their_field:ident)* $(,)?) => {{
        assert_eq!(
            size_of::<$ours>(),
            size_of::<$theirs>(),
            "size of {}",
            stringify!($ours)
        );
        assert_eq!(
            align_of::<$ours>(),
            align_of::<$theirs>(),
            "alignment of {}",
            stringify!($ours)
        );
        $(
            assert_eq!(
                offset_of!($ours, $field),
                offset_of!($theirs, $their_field),
                "offset of {}.{}",
                stringify!($ours),
                stringify!($field)
            );
        )*
    }};
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod x86_64_libc {
    use super::*;
    use abi::x86_64::{EpollEvent, Stat, UserRegs};

    #[test]
    fn stat() {
        same_layout!(
            Stat,
            libc::stat,
            st_dev = st_dev,
            st_ino = st_ino,
            st_nlink = st_nlink,
            st_mode = st_mode,
            st_uid = st_uid,
            st_gid = st_gid,
            st_rdev = st_rdev,
            st_size = st_size,
            st_blksize = st_blksize,
            st_blocks = st_blocks,
            st_atime = st_atime,
            st_atime_nsec = st_atime_nsec,
            st_mtime = st_mtime,
            st_mtime_nsec = st_mtime_nsec,
            st_ctime = st_ctime,
            st_ctime_nsec = st_ctime_nsec,
        );
        assert_eq!(size_of::<Stat>(), 144);
    }

    #[test]
    fn time() {
        same_layout!(Timespec, libc::timespec, tv_sec = tv_sec, tv_nsec = tv_nsec);
        same_layout!(Timeval, libc::timeval, tv_sec = tv_sec, tv_usec = tv_usec);
        same_layout!(
            abi::time::Itimerspec,
            libc::itimerspec,
            it_interval = it_interval,
            it_value = it_value
        );
    }

    #[test]
    fn small_structs() {
        same_layout!(IoVec, libc::iovec, iov_base = iov_base, iov_len = iov_len);
        same_layout!(
            Rlimit,
            libc::rlimit,
            rlim_cur = rlim_cur,
            rlim_max = rlim_max
        );
        same_layout!(
            StackT,
            libc::stack_t,
            ss_sp = ss_sp,
            ss_flags = ss_flags,
            ss_size = ss_size
        );
        same_layout!(
            PollFd,
            libc::pollfd,
            fd = fd,
            events = events,
            revents = revents
        );
    }

    #[test]
    fn utsname() {
        same_layout!(
            UtsName,
            libc::utsname,
            sysname = sysname,
            nodename = nodename,
            release = release,
            version = version,
            machine = machine,
            domainname = domainname,
        );
        assert_eq!(size_of::<UtsName>(), 6 * 65);
    }

    #[test]
    fn epoll_event_is_packed() {
        same_layout!(EpollEvent, libc::epoll_event, events = events, data = u64);
        assert_eq!(size_of::<EpollEvent>(), 12);
    }

    #[test]
    fn user_regs() {
        same_layout!(
            UserRegs,
            libc::user_regs_struct,
            r15 = r15,
            r14 = r14,
            r13 = r13,
            r12 = r12,
            rbp = rbp,
            rbx = rbx,
            r11 = r11,
            r10 = r10,
            r9 = r9,
            r8 = r8,
            rax = rax,
            rcx = rcx,
            rdx = rdx,
            rsi = rsi,
            rdi = rdi,
            orig_rax = orig_rax,
            rip = rip,
            cs = cs,
            eflags = eflags,
            rsp = rsp,
            ss = ss,
            fs_base = fs_base,
            gs_base = gs_base,
            ds = ds,
            es = es,
            fs = fs,
            gs = gs,
        );
    }

    #[test]
    fn siginfo_header() {
        same_layout!(
            SigInfo,
            libc::siginfo_t,
            si_signo = si_signo,
            si_errno = si_errno,
            si_code = si_code,
        );
        assert_eq!(size_of::<SigInfo>(), 128);
    }

    /// Reads our siginfo through libc's accessors, which know the kernel's union layout.
    fn as_libc(info: &SigInfo) -> libc::siginfo_t {
        // SAFETY: both types are 128-byte plain-old-data structures (checked by
        // `siginfo_header`), and every bit pattern is a valid `libc::siginfo_t`.
        unsafe { core::mem::transmute::<SigInfo, libc::siginfo_t>(*info) }
    }

    #[test]
    fn siginfo_variants_match_libc_accessors() {
        let child = SigInfo::child(abi::signal::CLD_KILLED, 1234, 1000, 9, 11, 22);
        let theirs = as_libc(&child);
        assert_eq!(theirs.si_signo, libc::SIGCHLD);
        assert_eq!(theirs.si_code, libc::CLD_KILLED);
        // SAFETY: the accessors read fields of the child variant, which `child` filled in.
        unsafe {
            assert_eq!(theirs.si_pid(), 1234);
            assert_eq!(theirs.si_uid(), 1000);
            assert_eq!(theirs.si_status(), 9);
            assert_eq!(theirs.si_utime(), 11);
            assert_eq!(theirs.si_stime(), 22);
        }

        let kill = SigInfo::kill(libc::SIGTERM, 77, 5);
        let theirs = as_libc(&kill);
        assert_eq!(theirs.si_code, libc::SI_USER);
        // SAFETY: the kill variant has pid and uid.
        unsafe {
            assert_eq!(theirs.si_pid(), 77);
            assert_eq!(theirs.si_uid(), 5);
        }

        let fault = SigInfo::fault(libc::SIGSEGV, abi::signal::SEGV_ACCERR, 0x7fff_1234_5678);
        let theirs = as_libc(&fault);
        // SAFETY: the fault variant has an address.
        unsafe {
            assert_eq!(theirs.si_addr() as u64, 0x7fff_1234_5678);
        }

        let mut rt = SigInfo::new(libc::SIGRTMIN() + 1, libc::SI_QUEUE);
        rt.set_pid(3);
        rt.set_value(0xabcd);
        let theirs = as_libc(&rt);
        // SAFETY: the rt variant has pid and a sigval.
        unsafe {
            assert_eq!(theirs.si_pid(), 3);
            assert_eq!(theirs.si_value().sival_ptr as u64, 0xabcd);
        }
    }
}

#[test]
fn kernel_sigaction_layout() {
    // The kernel's struct, identical on x86_64 and aarch64: four 8-byte words.
    assert_eq!(size_of::<SigAction>(), 32);
    assert_eq!(offset_of!(SigAction, handler), 0);
    assert_eq!(offset_of!(SigAction, flags), 8);
    assert_eq!(offset_of!(SigAction, restorer), 16);
    assert_eq!(offset_of!(SigAction, mask), 24);
    assert_eq!(size_of::<abi::SigSet>(), 8);
}

#[test]
fn aarch64_stat_layout() {
    use abi::aarch64::Stat;
    // asm-generic/stat.h with 64-bit longs.
    let expected = [
        (offset_of!(Stat, st_dev), 0),
        (offset_of!(Stat, st_ino), 8),
        (offset_of!(Stat, st_mode), 16),
        (offset_of!(Stat, st_nlink), 20),
        (offset_of!(Stat, st_uid), 24),
        (offset_of!(Stat, st_gid), 28),
        (offset_of!(Stat, st_rdev), 32),
        (offset_of!(Stat, _pad1), 40),
        (offset_of!(Stat, st_size), 48),
        (offset_of!(Stat, st_blksize), 56),
        (offset_of!(Stat, _pad2), 60),
        (offset_of!(Stat, st_blocks), 64),
        (offset_of!(Stat, st_atime), 72),
        (offset_of!(Stat, st_atime_nsec), 80),
        (offset_of!(Stat, st_mtime), 88),
        (offset_of!(Stat, st_mtime_nsec), 96),
        (offset_of!(Stat, st_ctime), 104),
        (offset_of!(Stat, st_ctime_nsec), 112),
        (offset_of!(Stat, _unused), 120),
    ];
    for (i, (got, want)) in expected.into_iter().enumerate() {
        assert_eq!(got, want, "field {i}");
    }
    assert_eq!(size_of::<Stat>(), 128);
    assert_eq!(align_of::<Stat>(), 8);
}

#[test]
fn aarch64_epoll_event_is_not_packed() {
    use abi::aarch64::EpollEvent;
    assert_eq!(size_of::<EpollEvent>(), 16);
    assert_eq!(offset_of!(EpollEvent, events), 0);
    assert_eq!(offset_of!(EpollEvent, data), 8);
}

#[test]
fn shared_structs_have_64_bit_layouts() {
    // These hold on both architectures; checked here so an aarch64 host runs them too.
    assert_eq!(size_of::<Timespec>(), 16);
    assert_eq!(size_of::<Timeval>(), 16);
    assert_eq!(size_of::<IoVec>(), 16);
    assert_eq!(size_of::<Rlimit>(), 16);
    assert_eq!((size_of::<StackT>(), offset_of!(StackT, ss_size)), (24, 16));
    assert_eq!(size_of::<PollFd>(), 8);
    assert_eq!(size_of::<UtsName>(), 390);
    assert_eq!((size_of::<SigInfo>(), align_of::<SigInfo>()), (128, 8));
    assert_eq!(offset_of!(SigInfo, fields), 16);
}
