//! Descriptor tables: allocation, dup family, fcntl, close-on-exec, fork, limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use abi::Errno;
use abi::flags::fcntl::{
    F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_GETLK, F_SETFD, F_SETFL, FD_CLOEXEC,
};
use sentry::vfs::tmpfs::Tmpfs;
use sentry::vfs::{At, FdTable, FileOps, FileStat, OpenFile, OpenFlags, Vfs};

/// A file that counts flushes (one per close) and releases (one per description).
struct Counted {
    flushes: Arc<AtomicUsize>,
    releases: Arc<AtomicUsize>,
}

impl FileOps for Counted {
    fn stat(&self) -> Result<FileStat, Errno> {
        Err(Errno::ENOSYS)
    }

    fn flush(&self) -> Result<(), Errno> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn release(&self) {
        self.releases.fetch_add(1, Ordering::SeqCst);
    }
}

fn counted() -> (Arc<OpenFile>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let flushes = Arc::new(AtomicUsize::new(0));
    let releases = Arc::new(AtomicUsize::new(0));
    let ops = Counted {
        flushes: flushes.clone(),
        releases: releases.clone(),
    };
    let f = Arc::new(OpenFile::new(None, OpenFlags::RDWR, Box::new(ops)));
    (f, flushes, releases)
}

fn plain() -> Arc<OpenFile> {
    counted().0
}

#[test]
fn lowest_free_descriptor() {
    let t = FdTable::new();
    assert_eq!(t.insert(plain(), false), Ok(0));
    assert_eq!(t.insert(plain(), false), Ok(1));
    assert_eq!(t.insert(plain(), false), Ok(2));
    t.close(1).unwrap();
    assert_eq!(t.insert(plain(), false), Ok(1));
    assert_eq!(t.insert(plain(), false), Ok(3));
    assert_eq!(t.fds(), vec![0, 1, 2, 3]);
    assert_eq!(t.close(7), Err(Errno::EBADF));
    assert_eq!(t.close(-1), Err(Errno::EBADF));
    assert_eq!(t.get(9).err(), Some(Errno::EBADF));
}

#[test]
fn close_flushes_and_the_last_reference_releases() {
    let t = FdTable::new();
    let (f, flushes, releases) = counted();
    let fd = t.insert(f, false).unwrap();
    let fd2 = t.dup(fd).unwrap();
    t.close(fd).unwrap();
    assert_eq!(
        (
            flushes.load(Ordering::SeqCst),
            releases.load(Ordering::SeqCst)
        ),
        (1, 0)
    );
    t.close(fd2).unwrap();
    assert_eq!(
        (
            flushes.load(Ordering::SeqCst),
            releases.load(Ordering::SeqCst)
        ),
        (2, 1)
    );
}

#[test]
fn dup2_over_an_open_descriptor() {
    let t = FdTable::new();
    let (a, _, _) = counted();
    let (b, b_flushes, b_releases) = counted();
    t.insert(a.clone(), false).unwrap();
    t.insert(b, true).unwrap();
    assert_eq!(t.dup2(0, 1), Ok(1));
    // The old file at 1 was closed silently; 1 now shares 0's description without cloexec.
    assert_eq!(b_flushes.load(Ordering::SeqCst), 1);
    assert_eq!(b_releases.load(Ordering::SeqCst), 1);
    let (f1, cloexec) = t.get_with_flags(1).unwrap();
    assert!(Arc::ptr_eq(&f1, &a) && !cloexec);
    // Same descriptor: a no-op if open, EBADF if not.
    assert_eq!(t.dup2(1, 1), Ok(1));
    assert_eq!(t.dup2(5, 5), Err(Errno::EBADF));
    assert_eq!(t.dup2(5, 1), Err(Errno::EBADF));
    // dup2 to a far descriptor grows the table; past the limit it is EBADF.
    assert_eq!(t.dup2(0, 100), Ok(100));
    assert_eq!(t.dup2(0, 1024), Err(Errno::EBADF));
    assert_eq!(t.dup2(0, -1), Err(Errno::EBADF));
    // dup3: flags, and EINVAL for equal descriptors.
    assert_eq!(t.dup3(0, 0, 0), Err(Errno::EINVAL));
    assert_eq!(t.dup3(0, 7, OpenFlags::CLOEXEC.bits()), Ok(7));
    assert!(t.get_with_flags(7).unwrap().1);
    assert_eq!(t.dup3(0, 8, OpenFlags::APPEND.bits()), Err(Errno::EINVAL));
}

#[test]
fn fcntl_commands() {
    let t = FdTable::new();
    let vfs = Vfs::new(Tmpfs::new(0o755));
    let ctx = vfs.new_context();
    let f = vfs
        .open(
            &ctx,
            At::Cwd,
            b"/f",
            OpenFlags::RDWR | OpenFlags::CREAT | OpenFlags::CLOEXEC,
            0o644,
        )
        .unwrap();
    let fd = t.insert(f, true).unwrap();
    assert_eq!(t.fcntl(fd, F_GETFD, 0), Ok(FD_CLOEXEC as u64));
    t.fcntl(fd, F_SETFD, 0).unwrap();
    assert_eq!(t.fcntl(fd, F_GETFD, 0), Ok(0));
    // F_GETFL: access mode and status flags; O_CLOEXEC and creation flags are not kept, and
    // 64-bit Linux adds O_LARGEFILE.
    let fl = OpenFlags::from_bits_retain(t.fcntl(fd, F_GETFL, 0).unwrap() as u32);
    assert_eq!(fl, OpenFlags::RDWR | OpenFlags::LARGEFILE);
    // F_SETFL changes only O_APPEND, O_NONBLOCK and friends, never the access mode.
    let set = OpenFlags::APPEND | OpenFlags::NONBLOCK | OpenFlags::WRONLY | OpenFlags::TRUNC;
    t.fcntl(fd, F_SETFL, u64::from(set.bits())).unwrap();
    let fl = OpenFlags::from_bits_retain(t.fcntl(fd, F_GETFL, 0).unwrap() as u32);
    assert_eq!(
        fl,
        OpenFlags::RDWR | OpenFlags::LARGEFILE | OpenFlags::APPEND | OpenFlags::NONBLOCK
    );
    // O_APPEND set this way takes effect.
    let file = t.get(fd).unwrap();
    file.write(b"ab").unwrap();
    file.seek(0, sentry::vfs::SEEK_SET).unwrap();
    file.write(b"cd").unwrap();
    assert_eq!(file.stat().unwrap().size, 4);
    // F_DUPFD: lowest free at or above the argument.
    t.insert(plain(), false).unwrap();
    assert_eq!(t.fcntl(fd, F_DUPFD, 0), Ok(2));
    assert_eq!(t.fcntl(fd, F_DUPFD, 10), Ok(10));
    assert_eq!(t.fcntl(fd, F_DUPFD, 10), Ok(11));
    assert_eq!(t.fcntl(fd, F_DUPFD_CLOEXEC, 5), Ok(5));
    assert_eq!(t.fcntl(5, F_GETFD, 0), Ok(FD_CLOEXEC as u64));
    assert_eq!(t.fcntl(fd, F_DUPFD, 1024), Err(Errno::EINVAL));
    assert_eq!(t.fcntl(99, F_GETFD, 0), Err(Errno::EBADF));
    assert_eq!(t.fcntl(fd, F_GETLK, 0), Err(Errno::EINVAL));
    // O_PATH descriptions refuse F_SETFL.
    let p = vfs.open(&ctx, At::Cwd, b"/f", OpenFlags::PATH, 0).unwrap();
    let pfd = t.insert(p, false).unwrap();
    assert_eq!(t.fcntl(pfd, F_SETFL, 0), Err(Errno::EBADF));
    assert_eq!(
        t.fcntl(pfd, F_GETFL, 0),
        Ok(u64::from(OpenFlags::PATH.bits()))
    );
}

#[test]
fn close_on_exec_sweep() {
    let t = FdTable::new();
    for i in 0..6 {
        t.insert(plain(), i % 2 == 1).unwrap();
    }
    t.close_on_exec();
    assert_eq!(t.fds(), vec![0, 2, 4]);
    assert_eq!(t.insert(plain(), false), Ok(1));
}

#[test]
fn limit_gives_emfile() {
    let t = FdTable::new();
    assert_eq!(t.limit(), 1024);
    let f = plain();
    for i in 0..1024 {
        assert_eq!(t.insert(f.clone(), false), Ok(i));
    }
    assert_eq!(t.insert(f.clone(), false), Err(Errno::EMFILE));
    assert_eq!(t.dup(0), Err(Errno::EMFILE));
    assert_eq!(t.fcntl(0, F_DUPFD, 1000), Err(Errno::EMFILE));
    t.close(500).unwrap();
    assert_eq!(t.dup(0), Ok(500));
    // A lower limit leaves open descriptors alone but stops new ones above it.
    let small = FdTable::new();
    small.set_limit(3).unwrap();
    for _ in 0..3 {
        small.insert(f.clone(), false).unwrap();
    }
    assert_eq!(small.insert(f.clone(), false), Err(Errno::EMFILE));
    assert_eq!(small.dup2(0, 3), Err(Errno::EBADF));
    assert_eq!(small.set_limit(sentry::vfs::NR_OPEN + 1), Err(Errno::EPERM));
}

#[test]
fn fork_shares_descriptions() {
    let vfs = Vfs::new(Tmpfs::new(0o755));
    let ctx = vfs.new_context();
    let f = vfs
        .open(
            &ctx,
            At::Cwd,
            b"/f",
            OpenFlags::RDWR | OpenFlags::CREAT,
            0o644,
        )
        .unwrap();
    let parent = FdTable::new();
    parent.insert(f, false).unwrap();
    parent.insert(plain(), true).unwrap();
    let child = parent.fork();
    assert_eq!(child.fds(), vec![0, 1]);
    assert!(child.get_with_flags(1).unwrap().1);
    // The offset is the description's, so both see the other's writes move it.
    child.get(0).unwrap().write(b"hello").unwrap();
    assert_eq!(parent.get(0).unwrap().offset(), 5);
    // The tables themselves are separate.
    child.close(0).unwrap();
    assert!(parent.get(0).is_ok());
    assert_eq!(child.insert(plain(), false), Ok(0));
    child.clear();
    assert!(child.fds().is_empty());
}
