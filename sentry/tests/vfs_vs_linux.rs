//! The same sequence of path operations run by the host kernel on a real directory and by
//! the VFS (on a tmpfs root, and on the overlay over a copy of that directory); every step
//! must give the same result or errno. Relative paths only, so the native run stays in its
//! directory.

#[path = "vfs_support.rs"]
mod support;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use abi::Errno;
use abi::flags::at::{AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW};
use sentry::vfs::tmpfs::Tmpfs;
use sentry::vfs::{At, FsContext, OpenFlags, RENAME_NOREPLACE, Vfs};

/// One operation, with paths relative to the test directory.
#[derive(Clone, Copy, Debug)]
enum Op {
    Open(&'static str, u32),
    Mkdir(&'static str),
    Rmdir(&'static str),
    Unlink(&'static str),
    Rename(&'static str, &'static str),
    RenameNoReplace(&'static str, &'static str),
    Link(&'static str, &'static str),
    Symlink(&'static str, &'static str),
    Readlink(&'static str),
    Stat(&'static str),
    Lstat(&'static str),
    Truncate(&'static str, i64),
}

/// A result as both sides can report it: success with a small detail, or an errno.
type Outcome = Result<u64, i32>;

fn flags(f: OpenFlags) -> u32 {
    f.bits()
}

/// The tree both runs start from.
const SETUP: &[Op] = &[
    Op::Mkdir("d"),
    Op::Mkdir("d/sub"),
    Op::Mkdir("e"),
    Op::Open("f", 0o101), // O_WRONLY|O_CREAT
    Op::Open("d/inner", 0o101),
    Op::Symlink("f", "lf"),
    Op::Symlink("d", "ld"),
    Op::Symlink("nowhere", "dang"),
    Op::Symlink("loop2", "loop1"),
    Op::Symlink("loop1", "loop2"),
    Op::Symlink("sub", "d/lsub"),
];

fn steps() -> Vec<Op> {
    use OpenFlags as F;
    let long: &'static str = Box::leak(format!("d/{}", "n".repeat(256)).into_boxed_str());
    let exactly255: &'static str = Box::leak("m".repeat(255).into_boxed_str());
    vec![
        // open
        Op::Open("f", flags(F::RDONLY | F::DIRECTORY)),
        Op::Open("f/", flags(F::RDONLY)),
        Op::Open("f/x", flags(F::RDONLY)),
        Op::Open("d", flags(F::WRONLY)),
        Op::Open("d", flags(F::RDWR)),
        Op::Open("d", flags(F::RDONLY | F::TRUNC)),
        Op::Open("d", flags(F::RDONLY | F::CREAT)),
        Op::Open("d/", flags(F::WRONLY | F::CREAT)),
        Op::Open("new/", flags(F::WRONLY | F::CREAT)),
        Op::Open(".", flags(F::RDONLY | F::CREAT)),
        Op::Open("x", flags(F::RDONLY | F::CREAT | F::DIRECTORY)),
        Op::Open("lf", flags(F::RDONLY | F::NOFOLLOW)),
        Op::Open("lf", flags(F::PATH | F::NOFOLLOW)),
        Op::Open("ld", flags(F::RDONLY | F::DIRECTORY | F::NOFOLLOW)),
        Op::Open("ld/", flags(F::RDONLY | F::NOFOLLOW)),
        Op::Open("loop1", flags(F::RDONLY)),
        Op::Open("loop1", flags(F::RDONLY | F::CREAT)),
        Op::Open("dang", flags(F::WRONLY | F::CREAT | F::EXCL)),
        Op::Open("dang", flags(F::WRONLY | F::CREAT | F::NOFOLLOW)),
        Op::Open("dang", flags(F::WRONLY | F::CREAT)),
        Op::Open("nowhere", flags(F::RDONLY)),
        Op::Open("f", flags(F::WRONLY | F::CREAT | F::EXCL)),
        Op::Open("missing/x", flags(F::WRONLY | F::CREAT)),
        Op::Open("", flags(F::RDONLY)),
        Op::Open(long, flags(F::RDONLY)),
        Op::Open(long, flags(F::WRONLY | F::CREAT)),
        Op::Open(exactly255, flags(F::WRONLY | F::CREAT)),
        Op::Open("d/lsub/../inner", flags(F::RDONLY)),
        Op::Open("ld/sub/..", flags(F::RDONLY | F::DIRECTORY)),
        // mkdir
        Op::Mkdir("f"),
        Op::Mkdir("d"),
        Op::Mkdir("lf"),
        Op::Mkdir("dang"),
        Op::Mkdir("missing/x"),
        Op::Mkdir("f/x"),
        Op::Mkdir("d/sub/"),
        Op::Mkdir("newdir/"),
        Op::Mkdir("."),
        Op::Mkdir("d/.."),
        Op::Mkdir(long),
        // rmdir
        Op::Rmdir("f"),
        Op::Rmdir("d"),
        Op::Rmdir("d/sub/."),
        Op::Rmdir("d/sub/.."),
        Op::Rmdir("missing"),
        Op::Rmdir("lf"),
        Op::Rmdir("ld"),
        Op::Rmdir("ld/"),
        Op::Rmdir("newdir/"),
        Op::Rmdir("."),
        // unlink
        Op::Unlink("d"),
        Op::Unlink("d/"),
        Op::Unlink("f/"),
        Op::Unlink("lf/"),
        Op::Unlink("missing"),
        Op::Unlink("."),
        Op::Unlink("d/.."),
        // rename
        Op::Rename("d", "d/sub/x"),
        Op::Rename("d", "d/x"),
        Op::Rename("d/sub", "d"),
        Op::Rename("f", "d"),
        Op::Rename("d", "f"),
        Op::Rename("f/", "g"),
        Op::Rename("f", "g/"),
        Op::Rename(".", "x"),
        Op::Rename("f", "d/.."),
        Op::Rename("missing", "x"),
        Op::Rename("f", "missing/x"),
        Op::Rename("e", "d"),
        Op::RenameNoReplace("f", "lf"),
        Op::RenameNoReplace("f", "d/.."),
        Op::Rename("f", "f"),
        Op::Rename("lf", "f"),
        Op::Lstat("f"),
        Op::Rename("e", "e2/"),
        Op::Rename("e2", "d/sub/e3"),
        Op::Rename("d/sub/e3", "e"),
        // link
        Op::Link("d", "x"),
        Op::Link("f", "d"),
        Op::Link("missing", "x"),
        Op::Link("f", "x/"),
        Op::Link("f", "."),
        Op::Link("dang", "dang2"),
        Op::Lstat("dang2"),
        Op::Link("d/inner", "d/inner2"),
        Op::Stat("d/inner"),
        // symlink
        Op::Symlink("", "x"),
        Op::Symlink("x", "f"),
        Op::Symlink("x", "newlink/"),
        Op::Symlink("x", "d/sub/.."),
        // readlink
        Op::Readlink("d/inner"),
        Op::Readlink("ld"),
        Op::Readlink("missing"),
        Op::Readlink("ld/"),
        // truncate
        Op::Truncate("d", 0),
        Op::Truncate("d/inner", -1),
        Op::Truncate("ld", 0),
        Op::Truncate("dang", 3),
        Op::Stat("nowhere"),
        Op::Truncate("loop1", 0),
        // stat
        Op::Stat("f/"),
        Op::Stat("ld/"),
        Op::Lstat("ld/"),
        Op::Lstat("ld"),
        Op::Stat("dang2"),
        Op::Stat("loop1"),
        Op::Lstat("loop1/"),
        Op::Stat("d/lsub/."),
        Op::Stat("d/./sub/../inner"),
        Op::Stat(""),
    ]
}

/// Runs one operation natively, under `root`.
fn native(root: &Path, op: Op) -> Outcome {
    let p = |rel: &str| -> CString {
        let mut b = if rel.is_empty() {
            Vec::new()
        } else {
            root.as_os_str().as_bytes().to_vec()
        };
        if !rel.is_empty() {
            b.push(b'/');
            b.extend_from_slice(rel.as_bytes());
        }
        CString::new(b).unwrap()
    };
    let last = || Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    let ok = |r: libc::c_int| if r < 0 { last() } else { Ok(0) };
    match op {
        Op::Open(path, f) => {
            let c = p(path);
            // SAFETY: `c` is a NUL-terminated path that outlives the call.
            let fd = unsafe { libc::open(c.as_ptr(), f as libc::c_int, 0o644) };
            if fd < 0 {
                return last();
            }
            // SAFETY: `fd` was just opened by us and is closed once.
            unsafe { libc::close(fd) };
            Ok(0)
        }
        Op::Mkdir(path) => {
            let c = p(path);
            // SAFETY: `c` is a NUL-terminated path that outlives the call.
            ok(unsafe { libc::mkdir(c.as_ptr(), 0o755) })
        }
        Op::Rmdir(path) => {
            let c = p(path);
            // SAFETY: as above.
            ok(unsafe { libc::rmdir(c.as_ptr()) })
        }
        Op::Unlink(path) => {
            let c = p(path);
            // SAFETY: as above.
            ok(unsafe { libc::unlink(c.as_ptr()) })
        }
        Op::Rename(a, b) | Op::RenameNoReplace(a, b) => {
            let (ca, cb) = (p(a), p(b));
            let fl = if matches!(op, Op::RenameNoReplace(..)) {
                libc::RENAME_NOREPLACE
            } else {
                0
            };
            // SAFETY: both paths are NUL-terminated and outlive the call.
            ok(unsafe {
                libc::renameat2(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), fl)
            })
        }
        Op::Link(a, b) => {
            let (ca, cb) = (p(a), p(b));
            // SAFETY: both paths are NUL-terminated and outlive the call.
            ok(
                unsafe {
                    libc::linkat(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), 0)
                },
            )
        }
        Op::Symlink(target, path) => {
            let (ct, cp) = (CString::new(target).unwrap(), p(path));
            // SAFETY: both strings are NUL-terminated and outlive the call.
            ok(unsafe { libc::symlink(ct.as_ptr(), cp.as_ptr()) })
        }
        Op::Readlink(path) => {
            let c = p(path);
            let mut buf = [0u8; 256];
            // SAFETY: `c` is NUL-terminated; `buf` is writable for its length.
            let n = unsafe { libc::readlink(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 { last() } else { Ok(n as u64) }
        }
        Op::Stat(path) | Op::Lstat(path) => {
            let path_buf = PathBuf::from(std::ffi::OsStr::from_bytes(p(path).as_bytes()));
            let m = if matches!(op, Op::Stat(_)) {
                std::fs::metadata(&path_buf)
            } else {
                std::fs::symlink_metadata(&path_buf)
            };
            m.map(|m| u64::from(std::os::unix::fs::MetadataExt::mode(&m) & 0o170000))
                .map_err(|e| e.raw_os_error().unwrap_or(0))
        }
        Op::Truncate(path, len) => {
            let c = p(path);
            // SAFETY: `c` is a NUL-terminated path that outlives the call.
            ok(unsafe { libc::truncate(c.as_ptr(), len) })
        }
    }
}

/// Runs one operation in the VFS, relative to the context's working directory.
fn sandboxed(vfs: &Vfs, ctx: &FsContext, op: Op) -> Outcome {
    let r: Result<u64, Errno> = match op {
        Op::Open(path, f) => vfs
            .open(
                ctx,
                At::Cwd,
                path.as_bytes(),
                OpenFlags::from_bits_retain(f),
                0o644,
            )
            .map(|_| 0),
        Op::Mkdir(path) => vfs.mkdir(ctx, At::Cwd, path.as_bytes(), 0o755).map(|_| 0),
        Op::Rmdir(path) => vfs
            .unlink(ctx, At::Cwd, path.as_bytes(), AT_REMOVEDIR)
            .map(|_| 0),
        Op::Unlink(path) => vfs.unlink(ctx, At::Cwd, path.as_bytes(), 0).map(|_| 0),
        Op::Rename(a, b) => vfs
            .rename(ctx, At::Cwd, a.as_bytes(), At::Cwd, b.as_bytes(), 0)
            .map(|_| 0),
        Op::RenameNoReplace(a, b) => vfs
            .rename(
                ctx,
                At::Cwd,
                a.as_bytes(),
                At::Cwd,
                b.as_bytes(),
                RENAME_NOREPLACE,
            )
            .map(|_| 0),
        Op::Link(a, b) => vfs
            .link(ctx, At::Cwd, a.as_bytes(), At::Cwd, b.as_bytes(), 0)
            .map(|_| 0),
        Op::Symlink(t, path) => vfs
            .symlink(ctx, t.as_bytes(), At::Cwd, path.as_bytes())
            .map(|_| 0),
        Op::Readlink(path) => vfs
            .readlink(ctx, At::Cwd, path.as_bytes())
            .map(|t| t.len() as u64),
        Op::Stat(path) => vfs
            .stat(ctx, At::Cwd, path.as_bytes(), 0)
            .map(|s| u64::from(s.mode & 0o170000)),
        Op::Lstat(path) => vfs
            .stat(ctx, At::Cwd, path.as_bytes(), AT_SYMLINK_NOFOLLOW)
            .map(|s| u64::from(s.mode & 0o170000)),
        Op::Truncate(path, len) => vfs.truncate(ctx, At::Cwd, path.as_bytes(), len).map(|_| 0),
    };
    r.map_err(Errno::raw)
}

fn temp_dir(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("rf-vfs-vs-linux-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// Compares every step; collects all differences before failing, to show them at once.
fn compare(label: &str, vfs: &Vfs, ctx: &FsContext, native_root: &Path) {
    let mut diffs = Vec::new();
    for (i, op) in steps().into_iter().enumerate() {
        let n = native(native_root, op);
        let s = sandboxed(vfs, ctx, op);
        if n != s {
            let name = |r: &Outcome| match r {
                Ok(v) => format!("Ok({v:o})"),
                Err(e) => Errno::new(*e).name().unwrap_or("?").to_string(),
            };
            diffs.push(format!(
                "step {i} {op:?}: linux {} vfs {}",
                name(&n),
                name(&s)
            ));
        }
    }
    assert!(diffs.is_empty(), "{label}:\n{}", diffs.join("\n"));
    // And the trees they end with are the same: names, types, sizes of files, link targets.
    assert_eq!(
        native_tree(native_root),
        sandbox_tree(vfs, ctx),
        "{label}: final trees"
    );
}

/// `(path, type bits, size or link target)` of everything under a native directory.
fn native_tree(root: &Path) -> Vec<(String, u32, String)> {
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(root.join(&rel)).unwrap() {
            let e = e.unwrap();
            let name = format!("{rel}{}", e.file_name().to_string_lossy());
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            let kind = std::os::unix::fs::MetadataExt::mode(&m) & 0o170000;
            let detail = if m.file_type().is_symlink() {
                std::fs::read_link(e.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            } else if m.is_file() {
                m.len().to_string()
            } else {
                String::new()
            };
            if m.is_dir() {
                stack.push(format!("{name}/"));
            }
            out.push((name, kind, detail));
        }
    }
    out.sort();
    out
}

/// The same for the VFS tree under the working directory (skipping the sandbox's mounts).
fn sandbox_tree(vfs: &Vfs, ctx: &FsContext) -> Vec<(String, u32, String)> {
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let dir = if rel.is_empty() {
            ".".to_string()
        } else {
            rel.clone()
        };
        for n in support::list(vfs, ctx, &dir).unwrap() {
            if rel.is_empty() && (n == "tmp" || n == "dev") {
                continue;
            }
            let name = format!("{rel}{n}");
            let st = vfs
                .stat(ctx, At::Cwd, name.as_bytes(), AT_SYMLINK_NOFOLLOW)
                .unwrap();
            let kind = st.mode & 0o170000;
            let detail = match st.file_type() {
                Some(sentry::vfs::FileType::Symlink) => {
                    String::from_utf8_lossy(&vfs.readlink(ctx, At::Cwd, name.as_bytes()).unwrap())
                        .into_owned()
                }
                Some(sentry::vfs::FileType::Regular) => st.size.to_string(),
                _ => String::new(),
            };
            if st.is_dir() {
                stack.push(format!("{name}/"));
            }
            out.push((name, kind, detail));
        }
    }
    out.sort();
    out
}

/// File I/O on descriptors, natively and in the VFS: each step returns a count, an offset
/// or an errno.
#[derive(Clone, Copy, Debug)]
enum Io {
    /// Opens descriptor slot `n` on the file with these flags.
    Open(usize, u32),
    Write(usize, &'static [u8]),
    Pwrite(usize, &'static [u8], i64),
    Read(usize, usize),
    Pread(usize, usize, i64),
    Seek(usize, i64, i32),
    Ftruncate(usize, i64),
    Setfl(usize, u32),
}

fn io_steps() -> Vec<Io> {
    use OpenFlags as F;
    let f = |x: OpenFlags| x.bits();
    vec![
        Io::Open(0, f(F::RDWR | F::CREAT)),
        Io::Write(0, b"hello world"),
        Io::Seek(0, 0, libc::SEEK_CUR),
        Io::Seek(0, -5, libc::SEEK_END),
        Io::Read(0, 100),
        Io::Read(0, 100),
        Io::Pread(0, 5, 0),
        Io::Pread(0, 5, 100),
        Io::Pread(0, 5, -1),
        Io::Seek(0, -100, libc::SEEK_CUR),
        Io::Seek(0, 0, 7),
        Io::Seek(0, 20, libc::SEEK_SET),
        Io::Write(0, b"!"),
        Io::Pread(0, 30, 0),
        Io::Open(1, f(F::WRONLY | F::APPEND)),
        Io::Write(1, b"APP"),
        Io::Pwrite(1, b"P", 0),
        Io::Seek(1, 0, libc::SEEK_CUR),
        Io::Open(2, f(F::RDONLY)),
        Io::Write(2, b"x"),
        Io::Ftruncate(2, 0),
        Io::Read(2, 64),
        Io::Ftruncate(0, 4),
        Io::Read(2, 64),
        Io::Seek(0, 0, libc::SEEK_END),
        Io::Ftruncate(0, -1),
        Io::Ftruncate(0, 10),
        Io::Pread(2, 64, 0),
        Io::Setfl(0, f(F::APPEND)),
        Io::Write(0, b"tail"),
        Io::Seek(0, 0, libc::SEEK_CUR),
        Io::Setfl(0, 0),
        Io::Seek(0, 0, libc::SEEK_SET),
        Io::Write(0, b"HEAD"),
        Io::Pread(2, 64, 0),
        Io::Open(3, f(F::RDWR | F::TRUNC)),
        Io::Pread(2, 64, 0),
        Io::Pwrite(3, b"far", 10000),
        Io::Seek(3, 0, libc::SEEK_DATA),
        Io::Seek(3, 10003, libc::SEEK_HOLE),
        Io::Seek(3, 10003, libc::SEEK_DATA),
        Io::Pread(3, 4, 9998),
        Io::Open(4, f(F::RDONLY | F::DIRECTORY)),
        Io::Open(4, f(F::WRONLY | F::EXCL | F::CREAT)),
    ]
}

/// Runs the I/O steps natively on `path`; each result is a count/offset or an errno.
fn native_io(path: &Path) -> Vec<Outcome> {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut fds = [-1; 5];
    let mut out = Vec::new();
    let res = |r: i64| -> Outcome {
        if r < 0 {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            Ok(r as u64)
        }
    };
    for step in io_steps() {
        let mut buf = vec![0u8; 128];
        // SAFETY: `c` is a NUL-terminated path, the buffers are live and as long as the
        // lengths passed, and the descriptors are ours (or -1, which the kernel rejects with
        // EBADF).
        let r = unsafe {
            match step {
                Io::Open(n, fl) => {
                    let fd = libc::open(c.as_ptr(), fl as libc::c_int, 0o644);
                    if fd >= 0 {
                        fds[n] = fd;
                    }
                    res(i64::from(fd)).map(|_| 0)
                }
                Io::Write(n, d) => res(libc::write(fds[n], d.as_ptr().cast(), d.len()) as i64),
                Io::Pwrite(n, d, off) => {
                    res(libc::pwrite(fds[n], d.as_ptr().cast(), d.len(), off) as i64)
                }
                Io::Read(n, len) => res(libc::read(fds[n], buf.as_mut_ptr().cast(), len) as i64)
                    .map(|k| checksum(&buf[..k as usize])),
                Io::Pread(n, len, off) => {
                    res(libc::pread(fds[n], buf.as_mut_ptr().cast(), len, off) as i64)
                        .map(|k| checksum(&buf[..k as usize]))
                }
                Io::Seek(n, off, wh) => res(libc::lseek(fds[n], off, wh)),
                Io::Ftruncate(n, len) => res(i64::from(libc::ftruncate(fds[n], len))),
                Io::Setfl(n, fl) => res(i64::from(libc::fcntl(
                    fds[n],
                    libc::F_SETFL,
                    fl as libc::c_int,
                ))),
            }
        };
        out.push(r);
    }
    for fd in fds {
        if fd >= 0 {
            // SAFETY: each descriptor was opened above and is closed once.
            unsafe { libc::close(fd) };
        }
    }
    out
}

/// Runs the I/O steps in the VFS on `path`.
fn sandbox_io(vfs: &Vfs, ctx: &FsContext, path: &str) -> Vec<Outcome> {
    let mut files: Vec<Option<std::sync::Arc<sentry::vfs::OpenFile>>> = vec![None; 5];
    let mut out = Vec::new();
    for step in io_steps() {
        let mut buf = [0u8; 128];
        let file = |n: usize| files[n].clone().ok_or(Errno::EBADF);
        let r: Result<u64, Errno> = match step {
            Io::Open(n, fl) => match vfs.open(
                ctx,
                At::Cwd,
                path.as_bytes(),
                OpenFlags::from_bits_retain(fl),
                0o644,
            ) {
                Ok(f) => {
                    files[n] = Some(f);
                    Ok(0)
                }
                Err(e) => Err(e),
            },
            Io::Write(n, d) => file(n).and_then(|f| f.write(d)).map(|k| k as u64),
            Io::Pwrite(n, d, off) => file(n).and_then(|f| f.pwrite(d, off)).map(|k| k as u64),
            Io::Read(n, len) => file(n)
                .and_then(|f| f.read(&mut buf[..len]))
                .map(|k| checksum(&buf[..k])),
            Io::Pread(n, len, off) => file(n)
                .and_then(|f| f.pread(&mut buf[..len], off))
                .map(|k| checksum(&buf[..k])),
            Io::Seek(n, off, wh) => file(n).and_then(|f| f.seek(off, wh)).map(|o| o as u64),
            Io::Ftruncate(n, len) => file(n).and_then(|f| f.truncate(len)).map(|_| 0),
            Io::Setfl(n, fl) => file(n)
                .and_then(|f| f.set_flags(OpenFlags::from_bits_retain(fl)))
                .map(|_| 0),
        };
        out.push(r.map_err(Errno::raw));
    }
    out
}

/// A read's result: its length and contents folded into one number.
fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(data.len() as u64, |h, &b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    })
}

fn compare_io(label: &str, native: Vec<Outcome>, sandbox: Vec<Outcome>) {
    let diffs: Vec<String> = io_steps()
        .iter()
        .zip(native.iter().zip(sandbox.iter()))
        .enumerate()
        .filter(|(_, (_, (n, s)))| n != s)
        .map(|(i, (step, (n, s)))| format!("step {i} {step:?}: linux {n:?} vfs {s:?}"))
        .collect();
    assert!(diffs.is_empty(), "{label}:\n{}", diffs.join("\n"));
}

#[test]
fn file_io_matches_linux() {
    let dir = temp_dir("io");
    let native = native_io(&dir.join("file"));
    let vfs = Vfs::new(Tmpfs::new(0o755));
    let ctx = vfs.new_context();
    compare_io("tmpfs", native.clone(), sandbox_io(&vfs, &ctx, "/file"));
    // On the overlay, over a host file with the same starting contents (none: created).
    let lower = temp_dir("io-lower");
    let vfs = Vfs::new_sandbox(&lower, &[]).unwrap();
    let ctx = vfs.new_context();
    compare_io("overlay", native, sandbox_io(&vfs, &ctx, "/file"));
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&lower).unwrap();
}

#[test]
fn tmpfs_matches_linux() {
    let native_root = temp_dir("tmpfs");
    for &op in SETUP {
        native(&native_root, op).unwrap();
    }
    let vfs = Vfs::new(Tmpfs::new(0o755));
    let ctx = vfs.new_context();
    for &op in SETUP {
        sandboxed(&vfs, &ctx, op).unwrap();
    }
    compare("tmpfs", &vfs, &ctx, &native_root);
    std::fs::remove_dir_all(&native_root).unwrap();
}

#[test]
fn overlay_matches_linux() {
    let native_root = temp_dir("native");
    let lower = temp_dir("lower");
    for &op in SETUP {
        native(&native_root, op).unwrap();
        native(&lower, op).unwrap();
    }
    let before = support::snapshot(&lower);
    {
        let vfs = Vfs::new_sandbox(&lower, &[]).unwrap();
        let ctx = vfs.new_context();
        compare("overlay", &vfs, &ctx, &native_root);
    }
    assert_eq!(before, support::snapshot(&lower));
    std::fs::remove_dir_all(&native_root).unwrap();
    std::fs::remove_dir_all(&lower).unwrap();
}
