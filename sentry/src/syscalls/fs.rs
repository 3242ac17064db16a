//! Path-based file-system calls, on the VFS.

use abi::Errno;
use abi::flags::at::{AT_EMPTY_PATH, AT_FDCWD};
#[cfg(target_arch = "x86_64")]
use abi::flags::at::{AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW};

use super::int;
use super::stat::{stat_bytes, statx_bytes};
use crate::platform::Platform;
use crate::task::Task;
use crate::vfs::{At, OpenFlags, PATH_MAX, needs_dirfd};

fn path<P: Platform>(task: &Task<P>, addr: u64) -> Result<Vec<u8>, Errno> {
    task.mm().copy_in_cstring(addr, PATH_MAX)
}

/// Run `f` with the `At` that `dirfd` and `path` call for.
fn at<P: Platform, R>(
    task: &Task<P>,
    dirfd: u64,
    path: &[u8],
    f: impl FnOnce(At<'_>) -> Result<R, Errno>,
) -> Result<R, Errno> {
    let fd = int(dirfd);
    if fd == AT_FDCWD || !needs_dirfd(path) {
        f(At::Cwd)
    } else {
        let file = task.fds.get(fd)?;
        f(At::File(&file))
    }
}

/// The descriptor an open of `/dev/std{in,out,err}`, `/dev/fd/N` or `/proc/self/fd/N`
/// names. On Linux these are "magic" links that reopen the descriptor's file rather than a
/// path; here the open duplicates the descriptor (the same file description).
fn magic_fd<P: Platform>(task: &Task<P>, path: &[u8]) -> Option<i32> {
    let path = std::str::from_utf8(path).ok()?;
    let n = match path {
        "/dev/stdin" => return Some(0),
        "/dev/stdout" => return Some(1),
        "/dev/stderr" => return Some(2),
        _ => path
            .strip_prefix("/dev/fd/")
            .or_else(|| path.strip_prefix("/proc/self/fd/"))
            .or_else(|| {
                path.strip_prefix("/proc/")?
                    .strip_prefix(&task.tgid.to_string())?
                    .strip_prefix("/fd/")
            })?,
    };
    n.parse().ok().filter(|&fd: &i32| fd >= 0)
}

fn open_at<P: Platform>(
    task: &Task<P>,
    dirfd: u64,
    p: u64,
    flags: u64,
    mode: u64,
) -> Result<u64, Errno> {
    let path = path(task, p)?;
    let flags = OpenFlags::from_bits_retain(flags as u32);
    if let Some(fd) = magic_fd(task, &path) {
        let file = task.fds.get(fd).map_err(|_| Errno::ENOENT)?;
        return Ok(task.fds.insert(file, flags.contains(OpenFlags::CLOEXEC))? as u64);
    }
    let ctx = task.fs().clone();
    let vfs = task.kernel.vfs.clone();
    let file = at(task, dirfd, &path, |at| {
        vfs.open(&ctx, at, &path, flags, mode as u32 & 0o7777)
    })?;
    Ok(task.fds.insert(file, flags.contains(OpenFlags::CLOEXEC))? as u64)
}

#[cfg(target_arch = "x86_64")]
pub fn open<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    open_at(task, AT_FDCWD as u64, a[0], a[1], a[2])
}

#[cfg(target_arch = "x86_64")]
pub fn creat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = (OpenFlags::CREAT | OpenFlags::WRONLY | OpenFlags::TRUNC).bits();
    open_at(task, AT_FDCWD as u64, a[0], u64::from(flags), a[1])
}

pub fn openat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    open_at(task, a[0], a[1], a[2], a[3])
}

fn stat_at<P: Platform>(
    task: &Task<P>,
    dirfd: u64,
    p: u64,
    buf: u64,
    flags: u32,
) -> Result<u64, Errno> {
    let path = path(task, p)?;
    let ctx = task.fs().clone();
    let vfs = task.kernel.vfs.clone();
    let st = at(task, dirfd, &path, |at| vfs.stat(&ctx, at, &path, flags))?;
    task.copy_out(buf, &stat_bytes(&st))?;
    Ok(0)
}

#[cfg(target_arch = "x86_64")]
pub fn stat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    stat_at(task, AT_FDCWD as u64, a[0], a[1], 0)
}

#[cfg(target_arch = "x86_64")]
pub fn lstat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    stat_at(task, AT_FDCWD as u64, a[0], a[1], AT_SYMLINK_NOFOLLOW)
}

pub fn fstat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let st = task.fds.get(int(a[0]))?.stat()?;
    task.copy_out(a[1], &stat_bytes(&st))?;
    Ok(0)
}

pub fn newfstatat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    stat_at(task, a[0], a[1], a[2], a[3] as u32)
}

/// `statx(dirfd, path, flags, mask, buf)`: the basic stats whatever the mask asks.
pub fn statx<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let path = path(task, a[1])?;
    let ctx = task.fs().clone();
    let vfs = task.kernel.vfs.clone();
    let st = at(task, a[0], &path, |at| {
        vfs.stat(&ctx, at, &path, a[2] as u32)
    })?;
    task.copy_out(a[4], &statx_bytes(&st))?;
    Ok(0)
}

pub fn mkdirat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let path = path(task, a[1])?;
    let ctx = task.fs().clone();
    let vfs = task.kernel.vfs.clone();
    at(task, a[0], &path, |at| {
        vfs.mkdir(&ctx, at, &path, a[2] as u32 & 0o7777)
    })?;
    Ok(0)
}

#[cfg(target_arch = "x86_64")]
pub fn mkdir<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    mkdirat(task, [AT_FDCWD as u64, a[0], a[1], 0, 0, 0])
}

pub fn unlinkat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let path = path(task, a[1])?;
    let ctx = task.fs().clone();
    let vfs = task.kernel.vfs.clone();
    at(task, a[0], &path, |at| {
        vfs.unlink(&ctx, at, &path, a[2] as u32)
    })?;
    Ok(0)
}

#[cfg(target_arch = "x86_64")]
pub fn unlink<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    unlinkat(task, [AT_FDCWD as u64, a[0], 0, 0, 0, 0])
}

#[cfg(target_arch = "x86_64")]
pub fn rmdir<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    unlinkat(
        task,
        [AT_FDCWD as u64, a[0], u64::from(AT_REMOVEDIR), 0, 0, 0],
    )
}

pub fn renameat2<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let old = path(task, a[1])?;
    let new = path(task, a[3])?;
    let ctx = task.fs().clone();
    let vfs = task.kernel.vfs.clone();
    at(task, a[0], &old, |old_at| {
        at(task, a[2], &new, |new_at| {
            vfs.rename(&ctx, old_at, &old, new_at, &new, a[4] as u32)
        })
    })?;
    Ok(0)
}

pub fn renameat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    renameat2(task, [a[0], a[1], a[2], a[3], 0, 0])
}

#[cfg(target_arch = "x86_64")]
pub fn rename<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let cwd = AT_FDCWD as u64;
    renameat2(task, [cwd, a[0], cwd, a[1], 0, 0])
}

pub fn symlinkat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let target = path(task, a[0])?;
    let link = path(task, a[2])?;
    let ctx = task.fs().clone();
    let vfs = task.kernel.vfs.clone();
    at(task, a[1], &link, |at| {
        vfs.symlink(&ctx, &target, at, &link)
    })?;
    Ok(0)
}

#[cfg(target_arch = "x86_64")]
pub fn symlink<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    symlinkat(task, [a[0], AT_FDCWD as u64, a[1], 0, 0, 0])
}

pub fn readlinkat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    if (a[3] as i64) <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = path(task, a[1])?;
    let ctx = task.fs().clone();
    let vfs = task.kernel.vfs.clone();
    let target = at(task, a[0], &path, |at| vfs.readlink(&ctx, at, &path))?;
    let n = target.len().min(a[3] as usize);
    task.copy_out(a[2], &target[..n])?;
    Ok(n as u64)
}

#[cfg(target_arch = "x86_64")]
pub fn readlink<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    readlinkat(task, [AT_FDCWD as u64, a[0], a[1], a[2], 0, 0])
}

pub fn linkat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let old = path(task, a[1])?;
    let new = path(task, a[3])?;
    let ctx = task.fs().clone();
    let vfs = task.kernel.vfs.clone();
    at(task, a[0], &old, |old_at| {
        at(task, a[2], &new, |new_at| {
            vfs.link(&ctx, old_at, &old, new_at, &new, a[4] as u32)
        })
    })?;
    Ok(0)
}

#[cfg(target_arch = "x86_64")]
pub fn link<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let cwd = AT_FDCWD as u64;
    linkat(task, [cwd, a[0], cwd, a[1], 0, 0])
}

pub fn chdir<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let path = path(task, a[0])?;
    let vfs = task.kernel.vfs.clone();
    let mut ctx = task.fs().clone();
    vfs.chdir(&mut ctx, At::Cwd, &path)?;
    *task.fs() = ctx;
    Ok(0)
}

pub fn fchdir<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(int(a[0]))?;
    let vfs = task.kernel.vfs.clone();
    let mut ctx = task.fs().clone();
    vfs.chdir(&mut ctx, At::File(&file), b"")?;
    *task.fs() = ctx;
    Ok(0)
}

pub fn getcwd<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let ctx = task.fs().clone();
    let mut cwd = task.kernel.vfs.getcwd(&ctx)?;
    cwd.push(0);
    if cwd.len() > a[1] as usize {
        return Err(Errno::ERANGE);
    }
    task.copy_out(a[0], &cwd)?;
    Ok(cwd.len() as u64)
}

pub fn truncate<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let path = path(task, a[0])?;
    let ctx = task.fs().clone();
    task.kernel
        .vfs
        .truncate(&ctx, At::Cwd, &path, a[1] as i64)?;
    Ok(0)
}

pub fn faccessat2<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let path = path(task, a[1])?;
    let ctx = task.fs().clone();
    let vfs = task.kernel.vfs.clone();
    at(task, a[0], &path, |at| {
        vfs.access(&ctx, at, &path, a[2] as u32, a[3] as u32)
    })?;
    Ok(0)
}

pub fn faccessat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    faccessat2(task, [a[0], a[1], a[2], 0, 0, 0])
}

#[cfg(target_arch = "x86_64")]
pub fn access<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    faccessat2(task, [AT_FDCWD as u64, a[0], a[1], 0, 0, 0])
}

pub fn umask<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let mut ctx = task.fs();
    let old = ctx.umask;
    ctx.umask = a[0] as u32 & 0o777;
    Ok(u64::from(old))
}

pub fn fchmodat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let path = path(task, a[1])?;
    let ctx = task.fs().clone();
    let vfs = task.kernel.vfs.clone();
    at(task, a[0], &path, |at| {
        vfs.chmod(&ctx, at, &path, a[2] as u32, 0)
    })?;
    Ok(0)
}

#[cfg(target_arch = "x86_64")]
pub fn chmod<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    fchmodat(task, [AT_FDCWD as u64, a[0], a[1], 0, 0, 0])
}

pub fn fchmod<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(int(a[0]))?;
    let ctx = task.fs().clone();
    task.kernel
        .vfs
        .chmod(&ctx, At::File(&file), b"", a[1] as u32, AT_EMPTY_PATH)?;
    Ok(0)
}

fn id(raw: u64) -> Option<u32> {
    let v = raw as u32;
    (v != u32::MAX).then_some(v)
}

pub fn fchownat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let path = path(task, a[1])?;
    let ctx = task.fs().clone();
    let vfs = task.kernel.vfs.clone();
    at(task, a[0], &path, |at| {
        vfs.chown(&ctx, at, &path, id(a[2]), id(a[3]), a[4] as u32)
    })?;
    Ok(0)
}

#[cfg(target_arch = "x86_64")]
pub fn chown<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    fchownat(task, [AT_FDCWD as u64, a[0], a[1], a[2], 0, 0])
}

#[cfg(target_arch = "x86_64")]
pub fn lchown<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    fchownat(
        task,
        [
            AT_FDCWD as u64,
            a[0],
            a[1],
            a[2],
            u64::from(AT_SYMLINK_NOFOLLOW),
            0,
        ],
    )
}

pub fn fchown<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(int(a[0]))?;
    let ctx = task.fs().clone();
    task.kernel.vfs.chown(
        &ctx,
        At::File(&file),
        b"",
        id(a[1]),
        id(a[2]),
        AT_EMPTY_PATH,
    )?;
    Ok(0)
}

/// `utimensat(dirfd, path, times, flags)`; a NULL path means the descriptor itself.
pub fn utimensat<P: Platform>(task: &mut Task<P>, a: [u64; 6]) -> Result<u64, Errno> {
    let times = if a[2] == 0 {
        None
    } else {
        let mut b = [0u8; 32];
        task.copy_in(a[2], &mut b)?;
        let ts = |o: usize| abi::Timespec {
            tv_sec: i64::from_le_bytes(b[o..o + 8].try_into().unwrap_or_default()),
            tv_nsec: i64::from_le_bytes(b[o + 8..o + 16].try_into().unwrap_or_default()),
        };
        Some([ts(0), ts(16)])
    };
    let ctx = task.fs().clone();
    let vfs = task.kernel.vfs.clone();
    if a[1] == 0 {
        let file = task.fds.get(int(a[0]))?;
        vfs.utimens(&ctx, At::File(&file), b"", times, AT_EMPTY_PATH)?;
        return Ok(0);
    }
    let path = path(task, a[1])?;
    at(task, a[0], &path, |at| {
        vfs.utimens(&ctx, at, &path, times, a[3] as u32)
    })?;
    Ok(0)
}
