//! Changes to host objects, for the host directories and files a container was given with a
//! read-write bind mount. As with lookups, every call names at most one component relative
//! to an open directory descriptor, or works on the node's own descriptor, so nothing outside
//! the bound tree can be reached whatever the sandbox or the host does to its names.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use abi::{Errno, Timespec};

use super::file::HostFile;
use super::last_errno;
use super::node::{HostNode, component};

/// What [`HostNode::create`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostNewNode<'a> {
    File,
    Directory,
    Symlink(&'a [u8]),
}

/// Retries a libc call returning -1 and `errno` while it fails with `EINTR`.
fn retry(mut call: impl FnMut() -> libc::c_long) -> Result<libc::c_long, Errno> {
    loop {
        let r = call();
        if r >= 0 {
            return Ok(r);
        }
        let e = last_errno();
        if e != Errno::EINTR {
            return Err(e);
        }
    }
}

impl HostNode {
    /// Opens the source of a bind mount: a directory or a regular file. Symbolic links in
    /// `path` are followed (the path comes from the container's configuration, not from the
    /// sandbox).
    pub fn open_bind_source(path: &Path) -> Result<HostNode, Errno> {
        let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
        // SAFETY: `c` is a NUL-terminated string that outlives the call.
        let raw = retry(|| unsafe {
            libc::c_long::from(libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC))
        })?;
        let raw = i32::try_from(raw).map_err(|_| Errno::EBADF)?;
        // SAFETY: `raw` is a descriptor we just opened and nothing else owns.
        let node = HostNode::from_fd(unsafe { OwnedFd::from_raw_fd(raw) }, None)?;
        if !node.stat().is_dir() && !node.stat().is_file() {
            return Err(Errno::EINVAL);
        }
        Ok(node)
    }

    /// The magic link naming this node's own object, for calls that take only a path.
    fn proc_path(&self) -> Result<CString, Errno> {
        CString::new(format!("/proc/self/fd/{}", self.fd.as_raw_fd())).map_err(|_| Errno::EINVAL)
    }

    /// Creates `name` in this directory with exactly `mode` (the sentry's umask is not
    /// applied) and, where the host allows it, owned by `uid`:`gid`.
    pub fn create(
        &self,
        name: &[u8],
        kind: HostNewNode<'_>,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<HostNode, Errno> {
        let c = component(name)?;
        let dir = self.fd.as_raw_fd();
        let mode = mode & 0o7777;
        match kind {
            HostNewNode::File => {
                let flags = libc::O_CREAT
                    | libc::O_EXCL
                    | libc::O_WRONLY
                    | libc::O_NOFOLLOW
                    | libc::O_CLOEXEC
                    | libc::O_NONBLOCK;
                // SAFETY: `dir` is an open directory and `c` a NUL-terminated string that
                // outlives the call.
                let raw = retry(|| unsafe {
                    libc::c_long::from(libc::openat(dir, c.as_ptr(), flags, mode))
                })?;
                let raw = i32::try_from(raw).map_err(|_| Errno::EBADF)?;
                // SAFETY: `raw` is a descriptor we just opened; dropping it closes it.
                drop(unsafe { OwnedFd::from_raw_fd(raw) });
            }
            HostNewNode::Directory => {
                // SAFETY: as above.
                retry(|| unsafe { libc::c_long::from(libc::mkdirat(dir, c.as_ptr(), mode)) })?;
            }
            HostNewNode::Symlink(target) => {
                let t = CString::new(target).map_err(|_| Errno::EINVAL)?;
                // SAFETY: `t` and `c` are NUL-terminated strings that outlive the call.
                retry(|| unsafe {
                    libc::c_long::from(libc::symlinkat(t.as_ptr(), dir, c.as_ptr()))
                })?;
            }
        }
        let node = self.lookup(name)?;
        if !matches!(kind, HostNewNode::Symlink(_)) && node.stat().mode & 0o7777 != mode {
            node.set_mode(mode)?;
        }
        let st = node.stat();
        if st.uid != uid || st.gid != gid {
            // An unprivileged sentry cannot give files away; they stay the sentry's own.
            match node.set_owner(Some(uid), Some(gid)) {
                Ok(()) => {}
                Err(e) if e == Errno::EPERM => {}
                Err(e) => return Err(e),
            }
        }
        node.restat_node()
    }

    /// This node with fresh metadata.
    fn restat_node(self) -> Result<HostNode, Errno> {
        HostNode::from_fd(self.fd, None)
    }

    /// Removes `name` from this directory: an empty directory if `dir`, else a non-directory.
    pub fn unlink(&self, name: &[u8], dir: bool) -> Result<(), Errno> {
        let c = component(name)?;
        let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
        // SAFETY: `self.fd` is open and `c` a NUL-terminated string that outlives the call.
        retry(|| unsafe {
            libc::c_long::from(libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), flags))
        })
        .map(drop)
    }

    /// Moves `old` of this directory to `new` in `new_dir`.
    pub fn rename(
        &self,
        old: &[u8],
        new_dir: &HostNode,
        new: &[u8],
        noreplace: bool,
    ) -> Result<(), Errno> {
        let (o, n) = (component(old)?, component(new)?);
        let flags: libc::c_uint = if noreplace { libc::RENAME_NOREPLACE } else { 0 };
        // SAFETY: both descriptors are open; `o` and `n` are NUL-terminated strings that
        // outlive the call.
        retry(|| unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                self.fd.as_raw_fd(),
                o.as_ptr(),
                new_dir.fd.as_raw_fd(),
                n.as_ptr(),
                flags,
            )
        })
        .map(drop)
    }

    /// Adds `name` in this directory as a link to `target`. Goes through `/proc/self/fd` so
    /// that no capability is needed (`AT_EMPTY_PATH` would want `CAP_DAC_READ_SEARCH`).
    pub fn link(&self, name: &[u8], target: &HostNode) -> Result<(), Errno> {
        let c = component(name)?;
        let from = target.proc_path()?;
        // SAFETY: both strings are NUL-terminated and outlive the call; `self.fd` is open.
        retry(|| unsafe {
            libc::c_long::from(libc::linkat(
                libc::AT_FDCWD,
                from.as_ptr(),
                self.fd.as_raw_fd(),
                c.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            ))
        })
        .map(drop)
    }

    /// Sets the permission, set-id and sticky bits (not for symbolic links).
    pub fn set_mode(&self, mode: u32) -> Result<(), Errno> {
        let p = self.proc_path()?;
        // SAFETY: `p` is a NUL-terminated string that outlives the call.
        retry(|| unsafe { libc::c_long::from(libc::chmod(p.as_ptr(), mode & 0o7777)) }).map(drop)
    }

    /// Changes the owner and/or group of the node itself (a symbolic link included).
    pub fn set_owner(&self, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
        let (u, g) = (uid.unwrap_or(u32::MAX), gid.unwrap_or(u32::MAX));
        // SAFETY: the empty path is static and NUL-terminated; `self.fd` is open.
        retry(|| unsafe {
            libc::c_long::from(libc::fchownat(
                self.fd.as_raw_fd(),
                c"".as_ptr(),
                u,
                g,
                libc::AT_EMPTY_PATH,
            ))
        })
        .map(drop)
    }

    /// Sets the size of this regular file.
    pub fn set_size(&self, size: u64) -> Result<(), Errno> {
        let len = i64::try_from(size).map_err(|_| Errno::EFBIG)?;
        let p = self.proc_path()?;
        // SAFETY: `p` is a NUL-terminated string that outlives the call.
        retry(|| unsafe { libc::c_long::from(libc::truncate(p.as_ptr(), len)) }).map(drop)
    }

    /// Sets the access and/or modification time (`None` leaves one unchanged).
    pub fn set_times(&self, atime: Option<Timespec>, mtime: Option<Timespec>) -> Result<(), Errno> {
        let ts = |t: Option<Timespec>| match t {
            Some(t) => libc::timespec {
                tv_sec: t.tv_sec,
                tv_nsec: t.tv_nsec,
            },
            None => libc::timespec {
                tv_sec: 0,
                tv_nsec: libc::UTIME_OMIT,
            },
        };
        let times = [ts(atime), ts(mtime)];
        let p = self.proc_path()?;
        // SAFETY: `p` is NUL-terminated and `times` two timespecs, both live for the call.
        retry(|| unsafe {
            libc::c_long::from(libc::utimensat(
                libc::AT_FDCWD,
                p.as_ptr(),
                times.as_ptr(),
                0,
            ))
        })
        .map(drop)
    }

    /// Opens this regular file for its data, for writing too if `write`.
    pub fn open_data(&self, write: bool) -> Result<HostFile, Errno> {
        if !self.stat().is_file() || self.is_sealed() {
            return Err(Errno::EACCES);
        }
        self.reopen(if write { libc::O_RDWR } else { 0 })
            .map(HostFile::new)
    }
}

impl HostFile {
    /// Writes all of `data` at `offset` (short only if the host file system is full).
    pub fn write_at(&self, data: &[u8], offset: u64) -> Result<usize, Errno> {
        let mut done = 0;
        while done < data.len() {
            let off = i64::try_from(offset + done as u64).map_err(|_| Errno::EFBIG)?;
            let rest = &data[done..];
            // SAFETY: `rest` is a live buffer of `rest.len()` bytes and `self.fd` is open.
            let n = retry(|| unsafe {
                libc::c_long::try_from(libc::pwrite(
                    self.fd().as_raw_fd(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    off,
                ))
                .unwrap_or(-1)
            });
            match n {
                Ok(0) => break,
                Ok(n) => done += usize::try_from(n).map_err(|_| Errno::EIO)?,
                Err(e) if done > 0 && e == Errno::ENOSPC => break,
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}
