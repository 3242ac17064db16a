//! Linux's errno for each error case of the path and file operations. Every check runs twice:
//! on a tmpfs root and on the sandbox overlay (files made by the test, and host files).

#[path = "vfs_support.rs"]
mod support;

use std::sync::Arc;

use abi::flags::at::{AT_EMPTY_PATH, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW};
use abi::{Errno, Timespec};
use sentry::vfs::tmpfs::Tmpfs;
use sentry::vfs::{
    At, Creds, FileStat, FileType, FsContext, OpenFlags, R_OK, RENAME_EXCHANGE, RENAME_NOREPLACE,
    SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET, Vfs, W_OK, X_OK,
};
use support::*;

/// Runs `check` on a tmpfs-rooted tree and on a sandbox over a host tree, each with `/w` as
/// a scratch directory.
fn on_both(check: impl Fn(&Vfs, &FsContext)) {
    let vfs = Vfs::new(Tmpfs::new(0o755));
    let ctx = vfs.new_context();
    vfs.mkdir(&ctx, At::Cwd, b"/w", 0o755).unwrap();
    check(&vfs, &ctx);

    let t = TempTree::new("errno");
    let before = snapshot(&t.base);
    {
        let vfs = Vfs::new_sandbox(&t.root, &[]).unwrap();
        let ctx = vfs.new_context();
        vfs.mkdir(&ctx, At::Cwd, b"/w", 0o755).unwrap();
        check(&vfs, &ctx);
    }
    assert_eq!(before, snapshot(&t.base));
}

fn e<T: std::fmt::Debug>(r: Result<T, Errno>) -> Errno {
    r.expect_err("expected an error")
}

fn stat(vfs: &Vfs, ctx: &FsContext, path: &str) -> Result<FileStat, Errno> {
    vfs.stat(ctx, At::Cwd, path.as_bytes(), 0)
}

fn lstat(vfs: &Vfs, ctx: &FsContext, path: &str) -> Result<FileStat, Errno> {
    vfs.stat(ctx, At::Cwd, path.as_bytes(), AT_SYMLINK_NOFOLLOW)
}

fn mkdir(vfs: &Vfs, ctx: &FsContext, path: &str) -> Result<(), Errno> {
    vfs.mkdir(ctx, At::Cwd, path.as_bytes(), 0o755)
}

fn symlink(vfs: &Vfs, ctx: &FsContext, target: &str, path: &str) -> Result<(), Errno> {
    vfs.symlink(ctx, target.as_bytes(), At::Cwd, path.as_bytes())
}

fn unlink(vfs: &Vfs, ctx: &FsContext, path: &str) -> Result<(), Errno> {
    vfs.unlink(ctx, At::Cwd, path.as_bytes(), 0)
}

fn rmdir(vfs: &Vfs, ctx: &FsContext, path: &str) -> Result<(), Errno> {
    vfs.unlink(ctx, At::Cwd, path.as_bytes(), AT_REMOVEDIR)
}

fn rename(vfs: &Vfs, ctx: &FsContext, a: &str, b: &str) -> Result<(), Errno> {
    vfs.rename(ctx, At::Cwd, a.as_bytes(), At::Cwd, b.as_bytes(), 0)
}

#[test]
fn lookup_errors() {
    on_both(|vfs, ctx| {
        write_file(vfs, ctx, "/w/file", b"data").unwrap();
        // Empty paths.
        assert_eq!(e(stat(vfs, ctx, "")), Errno::ENOENT);
        assert_eq!(e(open(vfs, ctx, "", rd())), Errno::ENOENT);
        let here = vfs.stat(ctx, At::Cwd, b"", AT_EMPTY_PATH).unwrap();
        assert_eq!(here.ino, stat(vfs, ctx, "/").unwrap().ino);
        // Missing components and files used as directories.
        assert_eq!(e(stat(vfs, ctx, "/w/missing")), Errno::ENOENT);
        assert_eq!(e(stat(vfs, ctx, "/w/missing/x")), Errno::ENOENT);
        assert_eq!(e(stat(vfs, ctx, "/w/file/x")), Errno::ENOTDIR);
        assert_eq!(e(stat(vfs, ctx, "/w/file/")), Errno::ENOTDIR);
        assert_eq!(e(stat(vfs, ctx, "/w/file/.")), Errno::ENOTDIR);
        assert_eq!(
            e(open(vfs, ctx, "/w/file", OpenFlags::DIRECTORY)),
            Errno::ENOTDIR
        );
        assert!(stat(vfs, ctx, "/w/").unwrap().is_dir());
        assert!(stat(vfs, ctx, "//w//./").unwrap().is_dir());
        // Name and path lengths: 255 bytes per name, 4095 per path (plus the NUL).
        let long = "n".repeat(256);
        assert_eq!(
            e(stat(vfs, ctx, &format!("/w/{long}"))),
            Errno::ENAMETOOLONG
        );
        assert_eq!(
            e(write_file(vfs, ctx, &format!("/w/{long}"), b"")),
            Errno::ENAMETOOLONG
        );
        write_file(vfs, ctx, &format!("/w/{}", "n".repeat(255)), b"").unwrap();
        let deep = "./".repeat(2047) + "w";
        assert_eq!(deep.len(), 4095);
        assert!(stat(vfs, ctx, &deep).unwrap().is_dir());
        assert_eq!(e(stat(vfs, ctx, &format!(".{deep}"))), Errno::ENAMETOOLONG);
        // A relative path from a file descriptor that is not a directory.
        let f = open(vfs, ctx, "/w/file", rd()).unwrap();
        assert_eq!(e(vfs.stat(ctx, At::File(&f), b"x", 0)), Errno::ENOTDIR);
        assert_eq!(
            vfs.stat(ctx, At::File(&f), b"", AT_EMPTY_PATH)
                .unwrap()
                .size,
            4
        );
        // An absolute path ignores the starting point.
        assert!(vfs.stat(ctx, At::File(&f), b"/w", 0).is_ok());
    });
}

#[test]
fn symlink_errors() {
    on_both(|vfs, ctx| {
        write_file(vfs, ctx, "/w/target", b"t").unwrap();
        symlink(vfs, ctx, "target", "/w/link").unwrap();
        symlink(vfs, ctx, "loop-b", "/w/loop-a").unwrap();
        symlink(vfs, ctx, "loop-a", "/w/loop-b").unwrap();
        // O_NOFOLLOW on a final link; O_PATH|O_NOFOLLOW opens the link itself.
        assert_eq!(
            e(open(vfs, ctx, "/w/link", rd() | OpenFlags::NOFOLLOW)),
            Errno::ELOOP
        );
        let p = open(vfs, ctx, "/w/link", OpenFlags::PATH | OpenFlags::NOFOLLOW).unwrap();
        assert_eq!(p.stat().unwrap().file_type(), Some(FileType::Symlink));
        assert_eq!(vfs.readlink(ctx, At::File(&p), b"").unwrap(), b"target");
        // Loops, and the 40-link limit: 40 links in a row resolve, 41 do not.
        assert_eq!(e(stat(vfs, ctx, "/w/loop-a")), Errno::ELOOP);
        assert_eq!(
            lstat(vfs, ctx, "/w/loop-a").unwrap().file_type(),
            Some(FileType::Symlink)
        );
        mkdir(vfs, ctx, "/w/chain").unwrap();
        write_file(vfs, ctx, "/w/chain/l0", b"end").unwrap();
        for i in 1..=41 {
            symlink(vfs, ctx, &format!("l{}", i - 1), &format!("/w/chain/l{i}")).unwrap();
        }
        assert_eq!(read_file(vfs, ctx, "/w/chain/l40").unwrap(), b"end");
        assert_eq!(e(read_file(vfs, ctx, "/w/chain/l41")), Errno::ELOOP);
        // A trailing slash follows the link and needs a directory.
        assert_eq!(e(stat(vfs, ctx, "/w/link/")), Errno::ENOTDIR);
        mkdir(vfs, ctx, "/w/d").unwrap();
        symlink(vfs, ctx, "d", "/w/dlink").unwrap();
        assert!(lstat(vfs, ctx, "/w/dlink/").unwrap().is_dir());
        // readlink of a non-link; empty targets; existing names.
        assert_eq!(e(vfs.readlink(ctx, At::Cwd, b"/w/target")), Errno::EINVAL);
        let f = open(vfs, ctx, "/w/target", rd()).unwrap();
        assert_eq!(e(vfs.readlink(ctx, At::File(&f), b"")), Errno::ENOENT);
        assert_eq!(e(symlink(vfs, ctx, "", "/w/empty")), Errno::ENOENT);
        assert_eq!(e(symlink(vfs, ctx, "x", "/w/link")), Errno::EEXIST);
        assert_eq!(e(symlink(vfs, ctx, "x", "/w/new/")), Errno::ENOENT);
        // A dangling link: O_CREAT creates its target, O_EXCL refuses.
        symlink(vfs, ctx, "created-through-link", "/w/dangling").unwrap();
        assert_eq!(
            e(open(vfs, ctx, "/w/dangling", creat() | OpenFlags::EXCL)),
            Errno::EEXIST
        );
        open(vfs, ctx, "/w/dangling", creat()).unwrap();
        assert!(stat(vfs, ctx, "/w/created-through-link").is_ok());
    });
}

#[test]
fn open_flag_errors() {
    on_both(|vfs, ctx| {
        write_file(vfs, ctx, "/w/f", b"0123456789").unwrap();
        // O_CREAT|O_EXCL, O_CREAT on directories and with O_DIRECTORY.
        assert_eq!(
            e(open(vfs, ctx, "/w/f", creat() | OpenFlags::EXCL)),
            Errno::EEXIST
        );
        assert_eq!(e(open(vfs, ctx, "/w", creat())), Errno::EISDIR);
        assert_eq!(e(open(vfs, ctx, "/w/new/", creat())), Errno::EISDIR);
        assert_eq!(e(open(vfs, ctx, "/w/.", creat())), Errno::EISDIR);
        assert_eq!(
            e(open(
                vfs,
                ctx,
                "/w/x",
                OpenFlags::CREAT | OpenFlags::DIRECTORY
            )),
            Errno::EINVAL
        );
        assert_eq!(e(open(vfs, ctx, "/w/nodir/x", creat())), Errno::ENOENT);
        // Directories cannot be opened for writing.
        assert_eq!(e(open(vfs, ctx, "/w", wr())), Errno::EISDIR);
        assert_eq!(e(open(vfs, ctx, "/w", rw())), Errno::EISDIR);
        // Access modes.
        let r = open(vfs, ctx, "/w/f", rd()).unwrap();
        assert_eq!(e(r.write(b"x")), Errno::EBADF);
        assert_eq!(e(r.pwrite(b"x", 0)), Errno::EBADF);
        assert_eq!(e(r.truncate(0)), Errno::EINVAL);
        let w = open(vfs, ctx, "/w/f", wr()).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(e(w.read(&mut buf)), Errno::EBADF);
        assert_eq!(e(w.pread(&mut buf, 0)), Errno::EBADF);
        assert_eq!(e(w.pread(&mut buf, -1)), Errno::EINVAL);
        assert_eq!(e(r.pread(&mut buf, -1)), Errno::EINVAL);
        assert_eq!(e(w.truncate(-1)), Errno::EINVAL);
        // O_PATH: no I/O, but fstat.
        let p = open(vfs, ctx, "/w/f", OpenFlags::PATH | OpenFlags::RDWR).unwrap();
        assert_eq!(e(p.read(&mut buf)), Errno::EBADF);
        assert_eq!(e(p.write(b"x")), Errno::EBADF);
        assert_eq!(e(p.seek(0, SEEK_SET)), Errno::EBADF);
        assert_eq!(e(p.getdents64(&mut [0u8; 64])), Errno::EBADF);
        assert_eq!(p.stat().unwrap().size, 10);
        assert_eq!(p.flags(), OpenFlags::PATH);
        // Reading a directory.
        let d = open(vfs, ctx, "/w", rd()).unwrap();
        assert_eq!(e(d.read(&mut buf)), Errno::EISDIR);
        assert_eq!(e(r.getdents64(&mut [0u8; 64])), Errno::ENOTDIR);
        // O_TRUNC, O_APPEND.
        let a = open(vfs, ctx, "/w/f", wr() | OpenFlags::APPEND).unwrap();
        a.write(b"AB").unwrap();
        a.pwrite(b"CD", 0).unwrap();
        assert_eq!(read_file(vfs, ctx, "/w/f").unwrap(), b"0123456789ABCD");
        assert_eq!(a.offset(), 12);
        open(vfs, ctx, "/w/f", wr() | OpenFlags::TRUNC).unwrap();
        assert_eq!(stat(vfs, ctx, "/w/f").unwrap().size, 0);
        assert_eq!(
            e(open(vfs, ctx, "/w/x", OpenFlags::TMPFILE | OpenFlags::RDWR)),
            Errno::EOPNOTSUPP
        );
    });
}

#[test]
fn seek_errors() {
    on_both(|vfs, ctx| {
        let f = open(vfs, ctx, "/w/f", OpenFlags::RDWR | OpenFlags::CREAT).unwrap();
        f.write(b"0123456789").unwrap();
        assert_eq!(f.seek(2, SEEK_SET).unwrap(), 2);
        assert_eq!(f.seek(3, SEEK_CUR).unwrap(), 5);
        assert_eq!(f.seek(-1, SEEK_END).unwrap(), 9);
        assert_eq!(e(f.seek(-100, SEEK_CUR)), Errno::EINVAL);
        assert_eq!(e(f.seek(0, 99)), Errno::EINVAL);
        assert_eq!(f.offset(), 9);
        // Seeking past the end and writing leaves a hole of zeros.
        assert_eq!(f.seek(8192 + 10, SEEK_SET).unwrap(), 8202);
        f.write(b"x").unwrap();
        assert_eq!(f.seek(0, SEEK_DATA).unwrap(), 0);
        assert_eq!(f.seek(0, SEEK_HOLE).unwrap(), 4096);
        assert_eq!(f.seek(5000, SEEK_DATA).unwrap(), 8192);
        assert_eq!(e(f.seek(8203, SEEK_DATA)), Errno::ENXIO);
        let all = read_file(vfs, ctx, "/w/f").unwrap();
        assert_eq!(all.len(), 8203);
        assert!(all[10..8202].iter().all(|&b| b == 0));
        // Directories seek with SEEK_SET and SEEK_CUR only.
        let d = open(vfs, ctx, "/w", rd()).unwrap();
        assert_eq!(e(d.seek(0, SEEK_END)), Errno::EINVAL);
        assert_eq!(d.seek(0, SEEK_SET).unwrap(), 0);
    });
}

#[test]
fn mkdir_and_unlink_errors() {
    on_both(|vfs, ctx| {
        write_file(vfs, ctx, "/w/f", b"").unwrap();
        mkdir(vfs, ctx, "/w/d").unwrap();
        write_file(vfs, ctx, "/w/d/inner", b"").unwrap();
        mkdir(vfs, ctx, "/w/empty").unwrap();
        assert_eq!(e(mkdir(vfs, ctx, "/w/d")), Errno::EEXIST);
        assert_eq!(e(mkdir(vfs, ctx, "/w/f")), Errno::EEXIST);
        assert_eq!(e(mkdir(vfs, ctx, "/w/.")), Errno::EEXIST);
        assert_eq!(e(mkdir(vfs, ctx, "/w/..")), Errno::EEXIST);
        assert_eq!(e(mkdir(vfs, ctx, "/")), Errno::EEXIST);
        assert_eq!(e(mkdir(vfs, ctx, "/w/no/x")), Errno::ENOENT);
        assert_eq!(e(mkdir(vfs, ctx, "/w/f/x")), Errno::ENOTDIR);
        mkdir(vfs, ctx, "/w/trailing/").unwrap();
        // unlink: directories and trailing slashes.
        assert_eq!(e(unlink(vfs, ctx, "/w/d")), Errno::EISDIR);
        assert_eq!(e(unlink(vfs, ctx, "/w/f/")), Errno::ENOTDIR);
        assert_eq!(e(unlink(vfs, ctx, "/w/missing")), Errno::ENOENT);
        assert_eq!(e(unlink(vfs, ctx, "/w/.")), Errno::EISDIR);
        assert_eq!(e(vfs.unlink(ctx, At::Cwd, b"/w/f", 0x1)), Errno::EINVAL);
        // rmdir: non-directories, non-empty, `.`, `..`, `/`, mount points.
        assert_eq!(e(rmdir(vfs, ctx, "/w/f")), Errno::ENOTDIR);
        assert_eq!(e(rmdir(vfs, ctx, "/w/d")), Errno::ENOTEMPTY);
        assert_eq!(e(rmdir(vfs, ctx, "/w/d/.")), Errno::EINVAL);
        assert_eq!(e(rmdir(vfs, ctx, "/w/d/..")), Errno::ENOTEMPTY);
        assert_eq!(e(rmdir(vfs, ctx, "/")), Errno::EBUSY);
        rmdir(vfs, ctx, "/w/empty/").unwrap();
        assert_eq!(e(stat(vfs, ctx, "/w/empty")), Errno::ENOENT);
        unlink(vfs, ctx, "/w/d/inner").unwrap();
        rmdir(vfs, ctx, "/w/d").unwrap();
        unlink(vfs, ctx, "/w/f").unwrap();
        assert_eq!(e(unlink(vfs, ctx, "/w/f")), Errno::ENOENT);
    });
}

#[test]
fn removed_directories() {
    on_both(|vfs, ctx| {
        mkdir(vfs, ctx, "/w/gone").unwrap();
        let mut inside = ctx.clone();
        vfs.chdir(&mut inside, At::Cwd, b"/w/gone").unwrap();
        let d = open(vfs, ctx, "/w/gone", rd()).unwrap();
        rmdir(vfs, ctx, "/w/gone").unwrap();
        // Nothing can be created in it; it lists as empty; getcwd fails.
        assert_eq!(e(write_file(vfs, &inside, "new", b"")), Errno::ENOENT);
        assert_eq!(e(mkdir(vfs, &inside, "sub")), Errno::ENOENT);
        assert_eq!(d.getdents64(&mut [0u8; 256]).unwrap(), 0);
        assert_eq!(e(vfs.getcwd(&inside)), Errno::ENOENT);
        assert_eq!(
            vfs.path_of(ctx, d.location().unwrap()),
            b"/w/gone (deleted)"
        );
        // The same name can be made again.
        mkdir(vfs, ctx, "/w/gone").unwrap();
    });
}

#[test]
fn rename_errors() {
    on_both(|vfs, ctx| {
        write_file(vfs, ctx, "/w/f", b"f").unwrap();
        write_file(vfs, ctx, "/w/g", b"g").unwrap();
        mkdir(vfs, ctx, "/w/d").unwrap();
        mkdir(vfs, ctx, "/w/d/sub").unwrap();
        mkdir(vfs, ctx, "/w/full").unwrap();
        write_file(vfs, ctx, "/w/full/x", b"").unwrap();
        mkdir(vfs, ctx, "/w/empty").unwrap();
        assert_eq!(e(rename(vfs, ctx, "/w/missing", "/w/x")), Errno::ENOENT);
        assert_eq!(e(rename(vfs, ctx, "/w/d", "/w/d/sub/x")), Errno::EINVAL);
        assert_eq!(e(rename(vfs, ctx, "/w/d", "/w/d/x")), Errno::EINVAL);
        assert_eq!(e(rename(vfs, ctx, "/w/d/sub", "/w/d")), Errno::ENOTEMPTY);
        assert_eq!(e(rename(vfs, ctx, "/w/d", "/w/full")), Errno::ENOTEMPTY);
        assert_eq!(e(rename(vfs, ctx, "/w/f", "/w/d")), Errno::EISDIR);
        assert_eq!(e(rename(vfs, ctx, "/w/d", "/w/f")), Errno::ENOTDIR);
        assert_eq!(e(rename(vfs, ctx, "/w/f/", "/w/h")), Errno::ENOTDIR);
        assert_eq!(e(rename(vfs, ctx, "/w/f", "/w/h/")), Errno::ENOTDIR);
        assert_eq!(e(rename(vfs, ctx, "/w/.", "/w/h")), Errno::EBUSY);
        assert_eq!(e(rename(vfs, ctx, "/w/f", "/w/d/..")), Errno::EBUSY);
        let nr = |a: &str, b: &str, flags| {
            vfs.rename(ctx, At::Cwd, a.as_bytes(), At::Cwd, b.as_bytes(), flags)
        };
        assert_eq!(e(nr("/w/f", "/w/g", RENAME_NOREPLACE)), Errno::EEXIST);
        assert_eq!(e(nr("/w/f", "/w/g", RENAME_EXCHANGE)), Errno::EINVAL);
        assert_eq!(e(nr("/w/f", "/w/g", 0x100)), Errno::EINVAL);
        assert_eq!(
            e(rename(vfs, ctx, "/w/f", "/tmp-mount-missing/x")),
            Errno::ENOENT
        );
        // Same file: nothing happens.
        vfs.link(ctx, At::Cwd, b"/w/f", At::Cwd, b"/w/f2", 0)
            .unwrap();
        rename(vfs, ctx, "/w/f", "/w/f2").unwrap();
        assert!(stat(vfs, ctx, "/w/f").is_ok());
        rename(vfs, ctx, "/w/f", "/w/f").unwrap();
        // Replacing: a file over a file, a directory over an empty directory.
        rename(vfs, ctx, "/w/f", "/w/g").unwrap();
        assert_eq!(read_file(vfs, ctx, "/w/g").unwrap(), b"f");
        assert_eq!(e(stat(vfs, ctx, "/w/f")), Errno::ENOENT);
        rename(vfs, ctx, "/w/d", "/w/empty/").unwrap();
        assert!(stat(vfs, ctx, "/w/empty/sub").is_ok());
        // Moving a directory updates `..` and the link counts.
        let w_links = stat(vfs, ctx, "/w").unwrap().nlink;
        rename(vfs, ctx, "/w/empty/sub", "/w/sub").unwrap();
        assert_eq!(
            stat(vfs, ctx, "/w/sub/..").unwrap().ino,
            stat(vfs, ctx, "/w").unwrap().ino
        );
        let after = stat(vfs, ctx, "/w").unwrap().nlink;
        assert!(after == w_links + 1 || after == 1, "{w_links} -> {after}");
    });
}

#[test]
fn link_errors() {
    on_both(|vfs, ctx| {
        write_file(vfs, ctx, "/w/f", b"f").unwrap();
        mkdir(vfs, ctx, "/w/d").unwrap();
        symlink(vfs, ctx, "f", "/w/l").unwrap();
        let link = |a: &str, b: &str, flags| {
            vfs.link(ctx, At::Cwd, a.as_bytes(), At::Cwd, b.as_bytes(), flags)
        };
        assert_eq!(e(link("/w/d", "/w/d2", 0)), Errno::EPERM);
        assert_eq!(e(link("/w/f", "/w/d", 0)), Errno::EEXIST);
        assert_eq!(e(link("/w/missing", "/w/x", 0)), Errno::ENOENT);
        assert_eq!(e(link("/w/f", "/w/x/", 0)), Errno::ENOENT);
        assert_eq!(e(link("/w/f", "/w/.", 0)), Errno::EEXIST);
        assert_eq!(e(link("/w/f", "/w/x", 0x8)), Errno::EINVAL);
        // Without AT_SYMLINK_FOLLOW the link itself is linked.
        link("/w/l", "/w/l2", 0).unwrap();
        assert_eq!(
            lstat(vfs, ctx, "/w/l2").unwrap().file_type(),
            Some(FileType::Symlink)
        );
        link("/w/l", "/w/f3", AT_SYMLINK_FOLLOW).unwrap();
        assert_eq!(
            lstat(vfs, ctx, "/w/f3").unwrap().file_type(),
            Some(FileType::Regular)
        );
        assert_eq!(stat(vfs, ctx, "/w/f").unwrap().nlink, 2);
        // AT_EMPTY_PATH links an open file.
        let f = open(vfs, ctx, "/w/f", rd()).unwrap();
        vfs.link(ctx, At::File(&f), b"", At::Cwd, b"/w/f4", AT_EMPTY_PATH)
            .unwrap();
        assert_eq!(stat(vfs, ctx, "/w/f4").unwrap().nlink, 3);
        assert_eq!(
            e(vfs.link(ctx, At::File(&f), b"", At::Cwd, b"/w/f5", 0)),
            Errno::ENOENT
        );
    });
}

#[test]
fn truncate_and_metadata_errors() {
    on_both(|vfs, ctx| {
        write_file(vfs, ctx, "/w/f", b"0123456789").unwrap();
        symlink(vfs, ctx, "f", "/w/l").unwrap();
        assert_eq!(e(vfs.truncate(ctx, At::Cwd, b"/w", 0)), Errno::EISDIR);
        assert_eq!(e(vfs.truncate(ctx, At::Cwd, b"/w/f", -1)), Errno::EINVAL);
        vfs.truncate(ctx, At::Cwd, b"/w/l", 4).unwrap();
        assert_eq!(read_file(vfs, ctx, "/w/f").unwrap(), b"0123");
        vfs.truncate(ctx, At::Cwd, b"/w/f", 6).unwrap();
        assert_eq!(read_file(vfs, ctx, "/w/f").unwrap(), b"0123\0\0");
        // chmod: a symlink with NOFOLLOW; bad flags.
        assert_eq!(
            e(vfs.chmod(ctx, At::Cwd, b"/w/l", 0o600, AT_SYMLINK_NOFOLLOW)),
            Errno::EOPNOTSUPP
        );
        assert_eq!(
            e(vfs.chmod(ctx, At::Cwd, b"/w/f", 0o600, 0x4)),
            Errno::EINVAL
        );
        vfs.chmod(ctx, At::Cwd, b"/w/l", 0o4751, 0).unwrap();
        assert_eq!(stat(vfs, ctx, "/w/f").unwrap().mode & 0o7777, 0o4751);
        // access: modes and flags.
        assert_eq!(e(vfs.access(ctx, At::Cwd, b"/w/f", 8, 0)), Errno::EINVAL);
        assert_eq!(
            e(vfs.access(ctx, At::Cwd, b"/w/f", R_OK, 0x1)),
            Errno::EINVAL
        );
        assert_eq!(
            e(vfs.access(ctx, At::Cwd, b"/w/missing", 0, 0)),
            Errno::ENOENT
        );
        vfs.access(ctx, At::Cwd, b"/w/f", R_OK | W_OK | X_OK, 0)
            .unwrap();
        vfs.chmod(ctx, At::Cwd, b"/w/f", 0o644, 0).unwrap();
        // Root may read and write anything, but execute only what has an x bit.
        assert_eq!(e(vfs.access(ctx, At::Cwd, b"/w/f", X_OK, 0)), Errno::EACCES);
        // utimensat: explicit times, UTIME_OMIT, bad nanoseconds.
        let t = [
            Timespec::new(1000, 5),
            Timespec::new(2000, abi::time::UTIME_OMIT),
        ];
        let before = stat(vfs, ctx, "/w/f").unwrap();
        vfs.utimens(ctx, At::Cwd, b"/w/f", Some(t), 0).unwrap();
        let after = stat(vfs, ctx, "/w/f").unwrap();
        assert_eq!(after.atime, Timespec::new(1000, 5));
        assert_eq!(after.mtime, before.mtime);
        let bad = [Timespec::new(0, 2_000_000_000), Timespec::new(0, 0)];
        assert_eq!(
            e(vfs.utimens(ctx, At::Cwd, b"/w/f", Some(bad), 0)),
            Errno::EINVAL
        );
    });
}

#[test]
fn permissions_for_an_unprivileged_user() {
    on_both(|vfs, ctx| {
        mkdir(vfs, ctx, "/w/private").unwrap();
        write_file(vfs, ctx, "/w/private/f", b"secret").unwrap();
        vfs.chmod(ctx, At::Cwd, b"/w/private", 0o700, 0).unwrap();
        write_file(vfs, ctx, "/w/ro", b"ro").unwrap();
        vfs.chmod(ctx, At::Cwd, b"/w/ro", 0o444, 0).unwrap();
        let mut user = ctx.clone();
        user.creds = Creds::user(1000, 1000, vec![]);
        assert_eq!(e(read_file(vfs, &user, "/w/private/f")), Errno::EACCES);
        assert_eq!(
            e(vfs.chdir(&mut user.clone(), At::Cwd, b"/w/private")),
            Errno::EACCES
        );
        assert_eq!(e(open(vfs, &user, "/w/ro", wr())), Errno::EACCES);
        assert_eq!(read_file(vfs, &user, "/w/ro").unwrap(), b"ro");
        vfs.access(ctx, At::Cwd, b"/w/ro", W_OK, 0).unwrap();
        assert_eq!(
            e(vfs.access(&user, At::Cwd, b"/w/ro", W_OK, 0)),
            Errno::EACCES
        );
        assert_eq!(
            e(vfs.chmod(&user, At::Cwd, b"/w/ro", 0o666, 0)),
            Errno::EPERM
        );
        assert_eq!(
            e(vfs.chown(&user, At::Cwd, b"/w/ro", Some(1000), None, 0)),
            Errno::EPERM
        );
        // The directory /w belongs to root with mode 755: no creating or removing in it.
        assert_eq!(e(write_file(vfs, &user, "/w/mine", b"")), Errno::EACCES);
        assert_eq!(e(unlink(vfs, &user, "/w/ro")), Errno::EACCES);
        // A sticky, world-writable directory: files of others cannot be removed.
        mkdir(vfs, ctx, "/w/sticky").unwrap();
        vfs.chmod(ctx, At::Cwd, b"/w/sticky", 0o1777, 0).unwrap();
        write_file(vfs, ctx, "/w/sticky/roots", b"").unwrap();
        write_file(vfs, &user, "/w/sticky/users", b"").unwrap();
        assert_eq!(stat(vfs, ctx, "/w/sticky/users").unwrap().uid, 1000);
        assert_eq!(e(unlink(vfs, &user, "/w/sticky/roots")), Errno::EPERM);
        unlink(vfs, &user, "/w/sticky/users").unwrap();
    });
}

#[test]
fn cwd_and_relative_paths() {
    on_both(|vfs, ctx| {
        mkdir(vfs, ctx, "/w/a").unwrap();
        mkdir(vfs, ctx, "/w/a/b").unwrap();
        write_file(vfs, ctx, "/w/a/b/f", b"f").unwrap();
        let mut c = ctx.clone();
        assert_eq!(e(vfs.chdir(&mut c, At::Cwd, b"/w/a/b/f")), Errno::ENOTDIR);
        assert_eq!(e(vfs.chdir(&mut c, At::Cwd, b"/w/nope")), Errno::ENOENT);
        vfs.chdir(&mut c, At::Cwd, b"/w/a/b").unwrap();
        assert_eq!(vfs.getcwd(&c).unwrap(), b"/w/a/b");
        assert_eq!(read_file(vfs, &c, "f").unwrap(), b"f");
        assert_eq!(read_file(vfs, &c, "../b/./f").unwrap(), b"f");
        vfs.chdir(&mut c, At::Cwd, b"../../../../..").unwrap();
        assert_eq!(vfs.getcwd(&c).unwrap(), b"/");
        // A directory descriptor as the start, and fchdir.
        let dir = vfs
            .open(
                ctx,
                At::Cwd,
                b"/w/a",
                OpenFlags::PATH | OpenFlags::DIRECTORY,
                0,
            )
            .unwrap();
        assert_eq!(vfs.stat(ctx, At::File(&dir), b"b/f", 0).unwrap().size, 1);
        vfs.fchdir(&mut c, &dir).unwrap();
        assert_eq!(vfs.getcwd(&c).unwrap(), b"/w/a");
        let file = open(vfs, ctx, "/w/a/b/f", rd()).unwrap();
        assert_eq!(e(vfs.fchdir(&mut c, &file)), Errno::ENOTDIR);
        // Renaming a directory moves the working directory with it.
        vfs.chdir(&mut c, At::Cwd, b"/w/a/b").unwrap();
        rename(vfs, ctx, "/w/a", "/w/renamed").unwrap();
        assert_eq!(vfs.getcwd(&c).unwrap(), b"/w/renamed/b");
        // chroot: `..` and absolute paths stop at the new root.
        let mut jail = ctx.clone();
        vfs.chroot(&mut jail, At::Cwd, b"/w/renamed").unwrap();
        vfs.chdir(&mut jail, At::Cwd, b"/b").unwrap();
        assert_eq!(vfs.getcwd(&jail).unwrap(), b"/b");
        assert_eq!(read_file(vfs, &jail, "/../../b/f").unwrap(), b"f");
        assert_eq!(e(stat(vfs, &jail, "/w")), Errno::ENOENT);
    });
}

#[test]
fn files_outside_the_tree() {
    // A file description with only `stat` (like a pipe) gets Linux's defaults.
    struct Anon;
    impl sentry::vfs::FileOps for Anon {
        fn stat(&self) -> Result<FileStat, Errno> {
            Err(Errno::ENOSYS)
        }
    }
    let vfs = Vfs::new(Tmpfs::new(0o755));
    let ctx = vfs.new_context();
    let f = Arc::new(sentry::vfs::OpenFile::new(
        None,
        OpenFlags::RDWR,
        Box::new(Anon),
    ));
    let mut buf = [0u8; 4];
    assert_eq!(e(f.read(&mut buf)), Errno::EINVAL);
    assert_eq!(e(f.pread(&mut buf, 0)), Errno::ESPIPE);
    assert_eq!(e(f.pwrite(&buf, 0)), Errno::ESPIPE);
    assert_eq!(e(f.seek(0, SEEK_SET)), Errno::ESPIPE);
    assert_eq!(e(f.ioctl(0x5401, 0)), Errno::ENOTTY);
    assert_eq!(e(f.getdents64(&mut [0u8; 64])), Errno::ENOTDIR);
    assert_eq!(e(f.truncate(0)), Errno::EINVAL);
    assert_eq!(e(vfs.stat(&ctx, At::File(&f), b"x", 0)), Errno::ENOTDIR);
    assert_eq!(
        e(vfs.stat(&ctx, At::File(&f), b"", AT_EMPTY_PATH)),
        Errno::ENOSYS
    );
}
