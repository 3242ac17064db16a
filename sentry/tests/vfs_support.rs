//! Helpers shared by the `vfs_*` tests (included with `#[path]`): a host directory tree built
//! for a test, a byte-for-byte snapshot of a host tree, and short forms of VFS calls.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use abi::Errno;
use sentry::vfs::dirent::parse_records;
use sentry::vfs::{At, FsContext, OpenFile, OpenFlags, Vfs};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A directory under the system temp dir, removed on drop:
/// `base/root` is the sandbox root, `base/outside` holds a file links must not reach.
pub struct TempTree {
    pub base: PathBuf,
    pub root: PathBuf,
}

impl TempTree {
    /// The standard tree (see the body for what is in it).
    pub fn new(tag: &str) -> TempTree {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let base = std::env::temp_dir().join(format!(
            "rf-vfs-{tag}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let root = base.join("root");
        let t = TempTree { base, root };
        let r = &t.root;
        mkdir(&t.base.join("outside"), 0o755);
        write(&t.base.join("outside/secret.txt"), b"host secret\n", 0o644);
        for d in [
            "etc",
            "bin",
            "data",
            "data/sub",
            "data/sub/deep",
            "data/empty",
            "links",
            "tmp",
        ] {
            mkdir(&r.join(d), 0o755);
        }
        write(
            &r.join("etc/os-release"),
            b"NAME=\"ringfence test\"\nID=rftest\n",
            0o644,
        );
        write(
            &r.join("etc/passwd"),
            b"root:x:0:0:root:/root:/bin/sh\n",
            0o644,
        );
        symlink("/etc/os-release", r.join("etc/x")).unwrap();
        write(&r.join("bin/tool"), b"#!/bin/sh\necho tool\n", 0o755);
        write(&r.join("data/file.txt"), b"hello world\n", 0o640);
        write(&r.join("data/sub/deep/nested.txt"), b"nested\n", 0o600);
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        write(&r.join("data/big.bin"), &big, 0o644);
        write(&r.join("data/sparse.bin"), &[0u8; 100_000], 0o644);
        fs::hard_link(r.join("data/file.txt"), r.join("data/hardlink.txt")).unwrap();
        for (name, target) in [
            ("rel", "../data/file.txt"),
            ("abs", "/data/file.txt"),
            ("dir", "../data"),
            ("absdir", "/data/sub"),
            ("up", "../../../../../.."),
            ("up_etc", "../../../../../etc/os-release"),
            ("escape", "../../outside/secret.txt"),
            ("escape_abs", "/../outside/secret.txt"),
            ("loop1", "loop2"),
            ("loop2", "loop1"),
            ("self", "self"),
            ("dangling", "nowhere"),
            ("chain", "rel"),
            ("to_root", "/"),
        ] {
            symlink(target, r.join("links").join(name)).unwrap();
        }
        t
    }

    /// A host path inside the sandbox root.
    pub fn host(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
    }
}

fn mkdir(p: &Path, mode: u32) {
    fs::create_dir_all(p).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

fn write(p: &Path, data: &[u8], mode: u32) {
    fs::write(p, data).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// What a snapshot records of one host object (everything but the access time).
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
    pub link: Option<PathBuf>,
    pub data: Option<Vec<u8>>,
}

/// Every object under `base`, by relative path.
pub fn snapshot(base: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![base.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = fs::symlink_metadata(&p).unwrap();
        let ft = m.file_type();
        let rel = p.strip_prefix(base).unwrap().to_path_buf();
        out.insert(
            rel,
            Entry {
                mode: m.mode(),
                uid: m.uid(),
                gid: m.gid(),
                nlink: m.nlink(),
                ino: m.ino(),
                size: m.size(),
                mtime: (m.mtime(), m.mtime_nsec()),
                ctime: (m.ctime(), m.ctime_nsec()),
                link: ft.is_symlink().then(|| fs::read_link(&p).unwrap()),
                data: ft.is_file().then(|| fs::read(&p).unwrap()),
            },
        );
        if ft.is_dir() {
            for e in fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    out
}

pub fn rd() -> OpenFlags {
    OpenFlags::RDONLY
}

pub fn wr() -> OpenFlags {
    OpenFlags::WRONLY
}

pub fn rw() -> OpenFlags {
    OpenFlags::RDWR
}

pub fn creat() -> OpenFlags {
    OpenFlags::WRONLY | OpenFlags::CREAT | OpenFlags::TRUNC
}

/// `open` relative to the working directory.
pub fn open(
    vfs: &Vfs,
    ctx: &FsContext,
    path: &str,
    flags: OpenFlags,
) -> Result<std::sync::Arc<OpenFile>, Errno> {
    vfs.open(ctx, At::Cwd, path.as_bytes(), flags, 0o644)
}

/// Reads a file to its end through a fresh description.
pub fn read_file(vfs: &Vfs, ctx: &FsContext, path: &str) -> Result<Vec<u8>, Errno> {
    let f = open(vfs, ctx, path, rd())?;
    read_all(&f)
}

/// Reads an open file from its offset to the end.
pub fn read_all(f: &OpenFile) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut buf = [0u8; 7000];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Creates or truncates a file and writes `data`.
pub fn write_file(vfs: &Vfs, ctx: &FsContext, path: &str, data: &[u8]) -> Result<(), Errno> {
    let f = open(vfs, ctx, path, creat())?;
    let n = f.write(data)?;
    assert_eq!(n, data.len());
    Ok(())
}

/// The names in a directory (without `.` and `..`), sorted, via `getdents64`.
pub fn list(vfs: &Vfs, ctx: &FsContext, path: &str) -> Result<Vec<String>, Errno> {
    let mut names: Vec<String> = list_raw(vfs, ctx, path)?
        .into_iter()
        .map(|(n, _, _)| n)
        .filter(|n| n != "." && n != "..")
        .collect();
    names.sort();
    Ok(names)
}

/// Every record of a directory: name, inode number, `d_type`, in listing order.
pub fn list_raw(vfs: &Vfs, ctx: &FsContext, path: &str) -> Result<Vec<(String, u64, u8)>, Errno> {
    let f = vfs.open(ctx, At::Cwd, path.as_bytes(), OpenFlags::DIRECTORY, 0)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 512];
    loop {
        let n = f.getdents64(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        for r in parse_records(&buf[..n])? {
            out.push((
                String::from_utf8_lossy(&r.name).into_owned(),
                r.ino,
                r.d_type,
            ));
        }
    }
}
