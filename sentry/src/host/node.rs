//! Host objects reached one name at a time from the sandbox root.

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use abi::{Errno, Timespec};

use super::file::HostFile;
use super::last_errno;

/// Metadata of a host object, as `fstatat(fd, "", AT_EMPTY_PATH)` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostStat {
    pub dev: u64,
    pub ino: u64,
    /// File type and permission bits (`st_mode`).
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u32,
    pub blocks: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

impl HostStat {
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }
}

/// One entry of a host directory listing (`.` and `..` are left out).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostDirEntry {
    pub name: Vec<u8>,
    pub ino: u64,
    /// `DT_*` value from the host (may be `DT_UNKNOWN`).
    pub d_type: u8,
}

/// A host object opened with `O_PATH|O_NOFOLLOW`: a handle that grants nothing by itself, from
/// which its metadata, link target, directory entries or (for regular files) data are read.
#[derive(Debug)]
pub struct HostNode {
    pub(super) fd: OwnedFd,
    stat: HostStat,
    /// On a kernel pseudo file system: shown as empty, never read (see the module docs).
    sealed: bool,
}

/// `f_type` values of host file systems that are never shown to the sandbox: they describe the
/// host or the sentry process rather than holding files (from `linux/magic.h`).
const SEALED_FS_TYPES: &[i64] = &[
    0x9fa0,      // proc
    0x6265_6572, // sysfs
    0x6462_6720, // debugfs
    0x7472_6163, // tracefs
    0x7363_6673, // securityfs
    0x0027_e0eb, // cgroup
    0x6367_7270, // cgroup2
    0xcafe_4a11, // bpf
    0x1cd1,      // devpts
    0x6265_6570, // configfs
    0xde5e_81e4, // efivarfs
    0x6165_676c, // pstore
    0x6573_5543, // fusectl
    0x4249_4e4d, // binfmt_misc
    0xf97c_ff8c, // selinuxfs
    0x4341_5d53, // smackfs
    0x6e73_6673, // nsfs
];

impl HostNode {
    /// Opens the sandbox root. Symbolic links in `path` itself are followed: they are the
    /// caller's choice, not the sandbox's. Fails with `ENOTDIR` if it is not a directory.
    pub fn open_root(path: &Path) -> Result<HostNode, Errno> {
        let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
        // SAFETY: `c` is a NUL-terminated string that outlives the call.
        let raw = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(last_errno());
        }
        // SAFETY: `raw` is a descriptor we just opened and nothing else owns.
        HostNode::from_fd(unsafe { OwnedFd::from_raw_fd(raw) }, None)
    }

    /// A node for the `O_PATH` descriptor `fd`, found in a directory on device `parent_dev`
    /// (`None` for a root: its file system type is always checked).
    pub(super) fn from_fd(fd: OwnedFd, parent_dev: Option<u64>) -> Result<HostNode, Errno> {
        let stat = fstat(&fd)?;
        // Only a mount crossing can change the file system type, so skip the check otherwise.
        let sealed = parent_dev != Some(stat.dev) && is_sealed_fs(&fd);
        Ok(HostNode { fd, stat, sealed })
    }

    /// The metadata read when the node was opened. The host tree is the read-only lower layer
    /// of an overlay, assumed not to change while the sandbox runs (as with Linux overlayfs).
    pub fn stat(&self) -> &HostStat {
        &self.stat
    }

    /// Reads the metadata again from the host.
    pub fn restat(&self) -> Result<HostStat, Errno> {
        fstat(&self.fd)
    }

    /// Whether the node is on a sealed pseudo file system (shown empty, data unreadable).
    pub fn is_sealed(&self) -> bool {
        self.sealed
    }

    /// Looks up one name in this directory without following a final symbolic link.
    /// `name` must be a single component: not empty, not `.` or `..`, without `/` or NUL.
    pub fn lookup(&self, name: &[u8]) -> Result<HostNode, Errno> {
        let c = component(name)?;
        if !self.stat.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if self.sealed {
            return Err(Errno::ENOENT);
        }
        // SAFETY: `self.fd` is an open directory descriptor and `c` a NUL-terminated string
        // that outlives the call.
        let raw = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(last_errno());
        }
        // SAFETY: `raw` is a descriptor we just opened and nothing else owns.
        HostNode::from_fd(unsafe { OwnedFd::from_raw_fd(raw) }, Some(self.stat.dev))
    }

    /// The target of this symbolic link (`EINVAL` if it is not one).
    pub fn readlink(&self) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; 256];
        loop {
            // SAFETY: the empty path is NUL-terminated and static; `buf` is a live, writable
            // buffer of `buf.len()` bytes; `self.fd` is open.
            let n = unsafe {
                libc::readlinkat(
                    self.fd.as_raw_fd(),
                    c"".as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            };
            if n < 0 {
                let e = last_errno();
                // readlinkat on a non-link with an empty path reports ENOENT.
                return Err(if e == Errno::ENOENT { Errno::EINVAL } else { e });
            }
            let n = n.unsigned_abs();
            if n < buf.len() {
                buf.truncate(n);
                return Ok(buf);
            }
            if buf.len() > 1 << 16 {
                return Err(Errno::ENAMETOOLONG);
            }
            buf.resize(buf.len() * 2, 0);
        }
    }

    /// Opens this regular file for reading its data. Devices, FIFOs and sockets of the host
    /// are never opened (`EACCES`): the sandbox has its own.
    pub fn open_file(&self) -> Result<HostFile, Errno> {
        self.open_data(false)
    }

    /// Lists this directory (without `.` and `..`), in host order.
    pub fn read_dir(&self) -> Result<Vec<HostDirEntry>, Errno> {
        if !self.stat.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if self.sealed {
            return Ok(Vec::new());
        }
        let dir = self.reopen(libc::O_DIRECTORY)?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            // SAFETY: `buf` is a live, writable buffer of `buf.len()` bytes and `dir` an open
            // directory descriptor, both for the whole call.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    dir.as_raw_fd(),
                    buf.as_mut_ptr(),
                    buf.len(),
                )
            };
            if n < 0 {
                let e = last_errno();
                if e == Errno::EINTR {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                return Ok(out);
            }
            let len = usize::try_from(n).map_err(|_| Errno::EIO)?;
            parse_dirents(buf.get(..len).ok_or(Errno::EIO)?, &mut out)?;
        }
    }

    /// Opens the object itself again (read-only unless `extra` says otherwise) through `/proc/self/fd`: unlike a second
    /// `openat` by name this cannot land on a different file if the name was replaced.
    pub(super) fn reopen(&self, extra: libc::c_int) -> Result<OwnedFd, Errno> {
        let path = CString::new(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
            .map_err(|_| Errno::EINVAL)?;
        // `extra` may hold O_RDWR or O_WRONLY (O_RDONLY is 0).
        let base = libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK | extra;
        // O_NOATIME keeps the host's access times as they were; it needs ownership (or
        // CAP_FOWNER), so retry without it.
        let mut flags = base | libc::O_NOATIME;
        let fd = loop {
            // SAFETY: `path` is a NUL-terminated string that outlives the call.
            let raw = unsafe { libc::open(path.as_ptr(), flags) };
            if raw >= 0 {
                // SAFETY: `raw` is a descriptor we just opened and nothing else owns.
                break unsafe { OwnedFd::from_raw_fd(raw) };
            }
            let e = last_errno();
            if e == Errno::EPERM && flags != base {
                flags = base;
            } else if e != Errno::EINTR {
                return Err(e);
            }
        };
        let st = fstat(&fd)?;
        if st.dev != self.stat.dev || st.ino != self.stat.ino {
            return Err(Errno::ESTALE);
        }
        Ok(fd)
    }
}

/// `name` as a C string if it is a single path component: not empty, not `.` or `..`, without
/// `/` or NUL (`EINVAL` otherwise).
pub(super) fn component(name: &[u8]) -> Result<CString, Errno> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
        return Err(Errno::EINVAL);
    }
    CString::new(name).map_err(|_| Errno::EINVAL)
}

/// `fstatat(fd, "", AT_EMPTY_PATH)`, which works on `O_PATH` descriptors.
// `st_nlink` is u64 on x86_64 but u32 on aarch64, so the conversion is needed on one only.
#[allow(clippy::useless_conversion)]
pub(super) fn fstat(fd: &OwnedFd) -> Result<HostStat, Errno> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: the empty path is NUL-terminated and static; `st` is writable and large enough
    // for a `struct stat`; `fd` is open.
    let r = unsafe {
        libc::fstatat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            st.as_mut_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r != 0 {
        return Err(last_errno());
    }
    // SAFETY: fstatat returned 0, so it filled in the whole struct.
    let st = unsafe { st.assume_init() };
    Ok(HostStat {
        dev: st.st_dev,
        ino: st.st_ino,
        mode: st.st_mode,
        nlink: u64::from(st.st_nlink),
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev,
        size: u64::try_from(st.st_size).unwrap_or(0),
        blksize: u32::try_from(st.st_blksize).unwrap_or(4096),
        blocks: u64::try_from(st.st_blocks).unwrap_or(0),
        atime: Timespec::new(st.st_atime, st.st_atime_nsec),
        mtime: Timespec::new(st.st_mtime, st.st_mtime_nsec),
        ctime: Timespec::new(st.st_ctime, st.st_ctime_nsec),
    })
}

/// Whether the object behind `fd` lives on a file system in [`SEALED_FS_TYPES`]. If the type
/// cannot be read, the node is sealed: hiding a directory is the safe mistake.
fn is_sealed_fs(fd: &OwnedFd) -> bool {
    let mut st = MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `st` is writable and large enough for a `struct statfs`; `fd` is open.
    let r = unsafe { libc::fstatfs(fd.as_raw_fd(), st.as_mut_ptr()) };
    if r != 0 {
        return true;
    }
    // SAFETY: fstatfs returned 0, so it filled in the whole struct.
    let st = unsafe { st.assume_init() };
    SEALED_FS_TYPES.contains(&st.f_type)
}

/// Appends the entries of a `getdents64` buffer, skipping `.` and `..`.
fn parse_dirents(mut buf: &[u8], out: &mut Vec<HostDirEntry>) -> Result<(), Errno> {
    // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name NUL-terminated.
    const HEADER: usize = 19;
    while !buf.is_empty() {
        let header = buf.get(..HEADER).ok_or(Errno::EIO)?;
        let ino = u64::from_ne_bytes(header[0..8].try_into().map_err(|_| Errno::EIO)?);
        let reclen = usize::from(u16::from_ne_bytes(
            header[16..18].try_into().map_err(|_| Errno::EIO)?,
        ));
        let d_type = header[18];
        let rec = buf.get(..reclen).ok_or(Errno::EIO)?;
        if reclen <= HEADER {
            return Err(Errno::EIO);
        }
        let name_area = &rec[HEADER..];
        let name_len = name_area
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(name_area.len());
        let name = &name_area[..name_len];
        if name != b"." && name != b".." {
            out.push(HostDirEntry {
                name: name.to_vec(),
                ino,
                d_type,
            });
        }
        buf = &buf[reclen..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn temp_tree(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("rf-host-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("sub/file"), b"hello host").unwrap();
        symlink("../escape", dir.join("sub/link")).unwrap();
        dir
    }

    #[test]
    fn lookup_read_list_readlink() {
        let dir = temp_tree("basic");
        let root = HostNode::open_root(&dir).unwrap();
        assert!(root.stat().is_dir());
        let sub = root.lookup(b"sub").unwrap();
        let file = sub.lookup(b"file").unwrap();
        assert_eq!(file.stat().size, 10);
        let f = file.open_file().unwrap();
        let mut buf = [0u8; 32];
        assert_eq!(f.read_full_at(&mut buf, 6).unwrap(), 4);
        assert_eq!(&buf[..4], b"host");
        let link = sub.lookup(b"link").unwrap();
        assert_eq!(link.readlink().unwrap(), b"../escape");
        assert_eq!(file.readlink(), Err(Errno::EINVAL));
        // A symlink node is never opened for data, even though O_PATH reached it.
        assert_eq!(link.open_file().err(), Some(Errno::EACCES));
        let mut names: Vec<_> = sub
            .read_dir()
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        names.sort();
        assert_eq!(names, vec![b"file".to_vec(), b"link".to_vec()]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_multi_component_names() {
        let dir = temp_tree("names");
        let root = HostNode::open_root(&dir).unwrap();
        for bad in [&b""[..], b".", b"..", b"sub/file", b"a\0b"] {
            assert_eq!(root.lookup(bad).err(), Some(Errno::EINVAL), "{bad:?}");
        }
        assert_eq!(root.lookup(b"missing").err(), Some(Errno::ENOENT));
        let file = root.lookup(b"sub").unwrap().lookup(b"file").unwrap();
        assert_eq!(file.lookup(b"x").err(), Some(Errno::ENOTDIR));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn root_must_be_a_directory() {
        let dir = temp_tree("rootfile");
        assert_eq!(
            HostNode::open_root(&dir.join("sub/file")).err(),
            Some(Errno::ENOTDIR)
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn proc_is_sealed() {
        let root = HostNode::open_root(Path::new("/")).unwrap();
        if let Ok(proc_) = root.lookup(b"proc")
            && proc_.stat().dev != root.stat().dev
        {
            assert!(proc_.is_sealed());
            assert_eq!(proc_.read_dir().unwrap(), Vec::new());
            assert_eq!(proc_.lookup(b"self").err(), Some(Errno::ENOENT));
        }
    }
}
