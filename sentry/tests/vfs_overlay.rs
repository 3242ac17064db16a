//! The sandbox tree over a host directory: lookups and links stay inside the root, host data
//! reads through, every change stays in the sandbox, and the host tree is left as it was.

#[path = "vfs_support.rs"]
mod support;

use std::os::unix::fs::MetadataExt;

use abi::Errno;
use abi::flags::at::{AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW};
use sentry::vfs::{At, FileType, OpenFlags, RENAME_NOREPLACE, SandboxError, Vfs};
use support::*;

fn sandbox(t: &TempTree) -> Vfs {
    Vfs::new_sandbox(&t.root, &[]).unwrap()
}

#[test]
fn reads_host_files() {
    let t = TempTree::new("read");
    let vfs = sandbox(&t);
    let ctx = vfs.new_context();
    assert_eq!(
        read_file(&vfs, &ctx, "/data/file.txt").unwrap(),
        b"hello world\n"
    );
    let big = read_file(&vfs, &ctx, "/data/big.bin").unwrap();
    assert_eq!(big, std::fs::read(t.host("data/big.bin")).unwrap());
    // pread and lseek on a lower file.
    let f = open(&vfs, &ctx, "/data/file.txt", rd()).unwrap();
    let mut buf = [0u8; 5];
    assert_eq!(f.pread(&mut buf, 6).unwrap(), 5);
    assert_eq!(&buf, b"world");
    assert_eq!(f.seek(-6, sentry::vfs::SEEK_END).unwrap(), 6);
    assert_eq!(f.read(&mut buf).unwrap(), 5);
    assert_eq!(&buf, b"world");
    let st = f.stat().unwrap();
    let host = std::fs::metadata(t.host("data/file.txt")).unwrap();
    assert_eq!(st.size, 12);
    assert_eq!(st.mode, host.mode());
    assert_eq!(st.ino, host.ino());
    assert_eq!(st.mtime.tv_sec, host.mtime());
    assert_eq!(st.nlink, 2);
}

#[test]
fn symlinks_resolve_inside_the_root() {
    let t = TempTree::new("links");
    let vfs = sandbox(&t);
    let ctx = vfs.new_context();
    let os_release = std::fs::read(t.host("etc/os-release")).unwrap();
    // An absolute link resolves against the sandbox root, not the host's.
    assert_eq!(read_file(&vfs, &ctx, "/etc/x").unwrap(), os_release);
    assert_eq!(
        read_file(&vfs, &ctx, "/links/rel").unwrap(),
        b"hello world\n"
    );
    assert_eq!(
        read_file(&vfs, &ctx, "/links/abs").unwrap(),
        b"hello world\n"
    );
    assert_eq!(
        read_file(&vfs, &ctx, "/links/chain").unwrap(),
        b"hello world\n"
    );
    assert_eq!(
        read_file(&vfs, &ctx, "/links/dir/sub/deep/nested.txt").unwrap(),
        b"nested\n"
    );
    assert_eq!(
        read_file(&vfs, &ctx, "/links/absdir/deep/nested.txt").unwrap(),
        b"nested\n"
    );
    // `..` stops at the root, through links or not.
    assert_eq!(read_file(&vfs, &ctx, "/links/up_etc").unwrap(), os_release);
    assert_eq!(
        read_file(&vfs, &ctx, "/links/up/etc/os-release").unwrap(),
        os_release
    );
    assert_eq!(
        read_file(&vfs, &ctx, "/../../../etc/os-release").unwrap(),
        os_release
    );
    assert_eq!(
        read_file(&vfs, &ctx, "data/../../../../etc/passwd")
            .unwrap()
            .len(),
        30
    );
    let root = vfs.stat(&ctx, At::Cwd, b"/", 0).unwrap();
    let up = vfs.stat(&ctx, At::Cwd, b"/links/up", 0).unwrap();
    assert_eq!((up.dev, up.ino), (root.dev, root.ino));
    assert_eq!(
        vfs.stat(&ctx, At::Cwd, b"/links/to_root/..", 0)
            .unwrap()
            .ino,
        root.ino
    );
    // Nothing outside the root is reachable.
    assert_eq!(
        read_file(&vfs, &ctx, "/links/escape").err(),
        Some(Errno::ENOENT)
    );
    assert_eq!(
        read_file(&vfs, &ctx, "/links/escape_abs").err(),
        Some(Errno::ENOENT)
    );
    assert_eq!(
        read_file(&vfs, &ctx, "/../outside/secret.txt").err(),
        Some(Errno::ENOENT)
    );
    // Loops and dangling links.
    assert_eq!(
        read_file(&vfs, &ctx, "/links/loop1").err(),
        Some(Errno::ELOOP)
    );
    assert_eq!(
        read_file(&vfs, &ctx, "/links/self").err(),
        Some(Errno::ELOOP)
    );
    assert_eq!(
        read_file(&vfs, &ctx, "/links/dangling").err(),
        Some(Errno::ENOENT)
    );
    // lstat sees the link itself; readlink gives the stored target.
    let l = vfs
        .stat(&ctx, At::Cwd, b"/links/escape", AT_SYMLINK_NOFOLLOW)
        .unwrap();
    assert_eq!(l.file_type(), Some(FileType::Symlink));
    assert_eq!(
        vfs.readlink(&ctx, At::Cwd, b"/links/escape").unwrap(),
        b"../../outside/secret.txt"
    );
}

#[test]
fn changes_stay_in_the_sandbox() {
    let t = TempTree::new("changes");
    let before = snapshot(&t.base);
    {
        let vfs = sandbox(&t);
        let ctx = vfs.new_context();
        // Overwrite, append, create, truncate.
        write_file(&vfs, &ctx, "/data/file.txt", b"sandbox data\n").unwrap();
        assert_eq!(
            read_file(&vfs, &ctx, "/data/file.txt").unwrap(),
            b"sandbox data\n"
        );
        let f = open(
            &vfs,
            &ctx,
            "/etc/passwd",
            OpenFlags::WRONLY | OpenFlags::APPEND,
        )
        .unwrap();
        f.write(b"user:x:1000:1000::/home/user:/bin/sh\n").unwrap();
        assert_eq!(read_file(&vfs, &ctx, "/etc/passwd").unwrap().len(), 30 + 37);
        write_file(&vfs, &ctx, "/data/new.txt", b"new").unwrap();
        vfs.truncate(&ctx, At::Cwd, b"/data/big.bin", 10).unwrap();
        assert_eq!(
            read_file(&vfs, &ctx, "/data/big.bin").unwrap(),
            (0..10).collect::<Vec<u8>>()
        );
        // Directories, links, renames, removals, metadata.
        vfs.mkdir(&ctx, At::Cwd, b"/data/sub/newdir", 0o755)
            .unwrap();
        write_file(&vfs, &ctx, "/data/sub/newdir/f", b"f").unwrap();
        vfs.symlink(&ctx, b"/data/new.txt", At::Cwd, b"/links/new")
            .unwrap();
        vfs.link(&ctx, At::Cwd, b"/bin/tool", At::Cwd, b"/bin/tool2", 0)
            .unwrap();
        vfs.rename(
            &ctx,
            At::Cwd,
            b"/etc/os-release",
            At::Cwd,
            b"/etc/os-release.old",
            0,
        )
        .unwrap();
        vfs.rename(&ctx, At::Cwd, b"/data/sub/newdir", At::Cwd, b"/newdir", 0)
            .unwrap();
        vfs.unlink(&ctx, At::Cwd, b"/data/hardlink.txt", 0).unwrap();
        vfs.unlink(&ctx, At::Cwd, b"/links/loop1", 0).unwrap();
        vfs.unlink(&ctx, At::Cwd, b"/data/empty", AT_REMOVEDIR)
            .unwrap();
        vfs.unlink(&ctx, At::Cwd, b"/data/sub/deep/nested.txt", 0)
            .unwrap();
        vfs.unlink(&ctx, At::Cwd, b"/data/sub/deep", AT_REMOVEDIR)
            .unwrap();
        vfs.chmod(&ctx, At::Cwd, b"/bin/tool", 0o700, 0).unwrap();
        vfs.chown(&ctx, At::Cwd, b"/etc/passwd", Some(42), Some(43), 0)
            .unwrap();
        vfs.utimens(&ctx, At::Cwd, b"/data/sparse.bin", None, 0)
            .unwrap();
        write_file(&vfs, &ctx, "/tmp/in-tmpfs", b"x").unwrap();
        let dev_null = open(&vfs, &ctx, "/dev/null", wr()).unwrap();
        dev_null.write(b"discarded").unwrap();

        // The sandbox sees all of it.
        assert_eq!(
            read_file(&vfs, &ctx, "/etc/os-release.old").unwrap().len(),
            32
        );
        assert_eq!(
            read_file(&vfs, &ctx, "/etc/os-release").err(),
            Some(Errno::ENOENT)
        );
        assert_eq!(read_file(&vfs, &ctx, "/newdir/f").unwrap(), b"f");
        assert_eq!(read_file(&vfs, &ctx, "/links/new").unwrap(), b"new");
        assert_eq!(list(&vfs, &ctx, "/data/sub").unwrap(), Vec::<String>::new());
        assert!(
            !list(&vfs, &ctx, "/data")
                .unwrap()
                .contains(&"empty".to_string())
        );
        let tool = vfs.stat(&ctx, At::Cwd, b"/bin/tool", 0).unwrap();
        assert_eq!((tool.mode & 0o7777, tool.nlink), (0o700, 2));
        let passwd = vfs.stat(&ctx, At::Cwd, b"/etc/passwd", 0).unwrap();
        assert_eq!((passwd.uid, passwd.gid), (42, 43));
        // The etc/x link now dangles in the sandbox: its target was renamed.
        assert_eq!(read_file(&vfs, &ctx, "/etc/x").err(), Some(Errno::ENOENT));
    }
    // The host tree is byte-for-byte what it was, times included.
    assert_eq!(before, snapshot(&t.base));
}

#[test]
fn copy_up_keeps_content_and_metadata() {
    let t = TempTree::new("copyup");
    let vfs = sandbox(&t);
    let ctx = vfs.new_context();
    let before = vfs.stat(&ctx, At::Cwd, b"/data/big.bin", 0).unwrap();
    // Opening for writing copies up; one byte changed in the middle.
    let f = open(&vfs, &ctx, "/data/big.bin", rw()).unwrap();
    f.pwrite(b"Z", 1000).unwrap();
    let after = vfs.stat(&ctx, At::Cwd, b"/data/big.bin", 0).unwrap();
    assert_eq!(
        (after.ino, after.mode, after.uid, after.gid, after.size),
        (before.ino, before.mode, before.uid, before.gid, before.size)
    );
    assert_eq!(after.atime, before.atime);
    assert!(after.mtime >= before.mtime);
    let mut expect: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    expect[1000] = b'Z';
    assert_eq!(read_file(&vfs, &ctx, "/data/big.bin").unwrap(), expect);
    // chmod alone copies up metadata and keeps the data.
    vfs.chmod(&ctx, At::Cwd, b"/data/sub/deep/nested.txt", 0o444, 0)
        .unwrap();
    let n = vfs
        .stat(&ctx, At::Cwd, b"/data/sub/deep/nested.txt", 0)
        .unwrap();
    assert_eq!(n.mode & 0o777, 0o444);
    assert_eq!(
        read_file(&vfs, &ctx, "/data/sub/deep/nested.txt").unwrap(),
        b"nested\n"
    );
    // A sparse host file copies up as holes and still reads as zeros.
    let s = open(&vfs, &ctx, "/data/sparse.bin", rw()).unwrap();
    assert_eq!(s.stat().unwrap().blocks, 0);
    assert_eq!(
        read_file(&vfs, &ctx, "/data/sparse.bin").unwrap(),
        vec![0u8; 100_000]
    );
    // A description opened before the copy-up sees the new data too.
    let early = open(&vfs, &ctx, "/etc/passwd", rd()).unwrap();
    write_file(&vfs, &ctx, "/etc/passwd", b"rewritten\n").unwrap();
    assert_eq!(read_all(&early).unwrap(), b"rewritten\n");
}

#[test]
fn whiteouts_hide_lower_entries() {
    let t = TempTree::new("whiteout");
    let vfs = sandbox(&t);
    let ctx = vfs.new_context();
    assert_eq!(
        list(&vfs, &ctx, "/data").unwrap(),
        [
            "big.bin",
            "empty",
            "file.txt",
            "hardlink.txt",
            "sparse.bin",
            "sub"
        ]
    );
    vfs.unlink(&ctx, At::Cwd, b"/data/file.txt", 0).unwrap();
    vfs.unlink(&ctx, At::Cwd, b"/data/empty", AT_REMOVEDIR)
        .unwrap();
    write_file(&vfs, &ctx, "/data/zzz", b"").unwrap();
    assert_eq!(
        list(&vfs, &ctx, "/data").unwrap(),
        ["big.bin", "hardlink.txt", "sparse.bin", "sub", "zzz"]
    );
    assert_eq!(
        open(&vfs, &ctx, "/data/file.txt", rd()).err(),
        Some(Errno::ENOENT)
    );
    // The other hard link still reads the lower data.
    assert_eq!(
        read_file(&vfs, &ctx, "/data/hardlink.txt").unwrap(),
        b"hello world\n"
    );
    // Recreating a removed name gives a new file; a new directory there is opaque.
    write_file(&vfs, &ctx, "/data/file.txt", b"again").unwrap();
    assert_eq!(read_file(&vfs, &ctx, "/data/file.txt").unwrap(), b"again");
    vfs.unlink(&ctx, At::Cwd, b"/data/sub/deep/nested.txt", 0)
        .unwrap();
    vfs.unlink(&ctx, At::Cwd, b"/data/sub/deep", AT_REMOVEDIR)
        .unwrap();
    vfs.unlink(&ctx, At::Cwd, b"/data/sub", AT_REMOVEDIR)
        .unwrap();
    vfs.mkdir(&ctx, At::Cwd, b"/data/sub", 0o700).unwrap();
    assert_eq!(list(&vfs, &ctx, "/data/sub").unwrap(), Vec::<String>::new());
    assert_eq!(
        vfs.stat(&ctx, At::Cwd, b"/data/sub/deep", 0).err(),
        Some(Errno::ENOENT)
    );
    // A merged directory with lower entries is not empty; once they are gone it is.
    assert_eq!(
        vfs.unlink(&ctx, At::Cwd, b"/etc", AT_REMOVEDIR).err(),
        Some(Errno::ENOTEMPTY)
    );
    for name in ["/etc/os-release", "/etc/passwd", "/etc/x"] {
        vfs.unlink(&ctx, At::Cwd, name.as_bytes(), 0).unwrap();
    }
    vfs.unlink(&ctx, At::Cwd, b"/etc", AT_REMOVEDIR).unwrap();
    assert!(!list(&vfs, &ctx, "/").unwrap().contains(&"etc".to_string()));
}

#[test]
fn renames_in_the_overlay() {
    let t = TempTree::new("rename");
    let vfs = sandbox(&t);
    let ctx = vfs.new_context();
    // A lower file moves, leaving a whiteout; it keeps its inode number.
    let ino = vfs.stat(&ctx, At::Cwd, b"/data/file.txt", 0).unwrap().ino;
    vfs.rename(&ctx, At::Cwd, b"/data/file.txt", At::Cwd, b"/moved.txt", 0)
        .unwrap();
    assert_eq!(vfs.stat(&ctx, At::Cwd, b"/moved.txt", 0).unwrap().ino, ino);
    assert_eq!(
        read_file(&vfs, &ctx, "/moved.txt").unwrap(),
        b"hello world\n"
    );
    assert!(
        !list(&vfs, &ctx, "/data")
            .unwrap()
            .contains(&"file.txt".to_string())
    );
    // Replacing a lower file, and NOREPLACE.
    vfs.rename(&ctx, At::Cwd, b"/moved.txt", At::Cwd, b"/etc/passwd", 0)
        .unwrap();
    assert_eq!(
        read_file(&vfs, &ctx, "/etc/passwd").unwrap(),
        b"hello world\n"
    );
    assert_eq!(
        vfs.rename(
            &ctx,
            At::Cwd,
            b"/bin/tool",
            At::Cwd,
            b"/etc/passwd",
            RENAME_NOREPLACE
        )
        .err(),
        Some(Errno::EEXIST)
    );
    // A directory made in the sandbox can, with its contents.
    vfs.mkdir(&ctx, At::Cwd, b"/data/mine", 0o755).unwrap();
    write_file(&vfs, &ctx, "/data/mine/a", b"a").unwrap();
    vfs.rename(&ctx, At::Cwd, b"/data/mine", At::Cwd, b"/mine", 0)
        .unwrap();
    assert_eq!(read_file(&vfs, &ctx, "/mine/a").unwrap(), b"a");
    // Over an empty lower directory: the result does not merge the old one.
    vfs.rename(&ctx, At::Cwd, b"/mine", At::Cwd, b"/data/empty", 0)
        .unwrap();
    assert_eq!(list(&vfs, &ctx, "/data/empty").unwrap(), ["a"]);
    // Over a non-empty one: refused.
    vfs.mkdir(&ctx, At::Cwd, b"/x", 0o755).unwrap();
    assert_eq!(
        vfs.rename(&ctx, At::Cwd, b"/x", At::Cwd, b"/etc", 0).err(),
        Some(Errno::ENOTEMPTY)
    );
}

#[test]
fn hard_links_and_new_files() {
    let t = TempTree::new("hardlinks");
    let vfs = sandbox(&t);
    let ctx = vfs.new_context();
    vfs.link(&ctx, At::Cwd, b"/bin/tool", At::Cwd, b"/bin/tool-link", 0)
        .unwrap();
    let a = vfs.stat(&ctx, At::Cwd, b"/bin/tool", 0).unwrap();
    let b = vfs.stat(&ctx, At::Cwd, b"/bin/tool-link", 0).unwrap();
    assert_eq!((a.ino, a.nlink), (b.ino, 2));
    let f = open(
        &vfs,
        &ctx,
        "/bin/tool-link",
        OpenFlags::WRONLY | OpenFlags::APPEND,
    )
    .unwrap();
    f.write(b"# more\n").unwrap();
    assert_eq!(
        read_file(&vfs, &ctx, "/bin/tool").unwrap(),
        b"#!/bin/sh\necho tool\n# more\n"
    );
    // Linking into another mount fails.
    assert_eq!(
        vfs.link(&ctx, At::Cwd, b"/bin/tool", At::Cwd, b"/tmp/tool", 0)
            .err(),
        Some(Errno::EXDEV)
    );
    // New files get fresh inode numbers and the caller's umask.
    let mut ctx = ctx;
    ctx.umask = 0o077;
    vfs.open(&ctx, At::Cwd, b"/data/n1", creat(), 0o666)
        .unwrap();
    vfs.open(&ctx, At::Cwd, b"/data/n2", creat(), 0o666)
        .unwrap();
    let n1 = vfs.stat(&ctx, At::Cwd, b"/data/n1", 0).unwrap();
    let n2 = vfs.stat(&ctx, At::Cwd, b"/data/n2", 0).unwrap();
    assert_ne!(n1.ino, n2.ino);
    assert_eq!(n1.mode & 0o777, 0o600);
}

#[test]
fn root_must_be_a_directory() {
    let t = TempTree::new("notdir");
    match Vfs::new_sandbox(&t.host("data/file.txt"), &[]) {
        Err(SandboxError::NotADirectory(p)) => assert!(p.ends_with("file.txt")),
        other => panic!("unexpected: {:?}", other.err()),
    }
    assert!(matches!(
        Vfs::new_sandbox(&t.host("missing"), &[]),
        Err(SandboxError::Root {
            errno: Errno::ENOENT,
            ..
        })
    ));
}

#[test]
fn many_lookups_stay_within_the_dentry_cache_limit() {
    let t = TempTree::new("dcache");
    for i in 0..300 {
        std::fs::write(t.host(&format!("data/f{i}")), b"x").unwrap();
    }
    let vfs = sandbox(&t);
    vfs.set_dentry_cache_limit(64);
    let ctx = vfs.new_context();
    let held = open(&vfs, &ctx, "/data/f7", rd()).unwrap();
    for i in 0..300 {
        assert_eq!(read_file(&vfs, &ctx, &format!("/data/f{i}")).unwrap(), b"x");
    }
    assert!(vfs.cached_dentries() <= 200, "{}", vfs.cached_dentries());
    // What is in use survives a sweep.
    assert_eq!(read_all(&held).unwrap(), b"x");
    assert_eq!(vfs.path_of(&ctx, held.location().unwrap()), b"/data/f7");
}

#[test]
fn snapshot_sees_changes() {
    let t = TempTree::new("support");
    let before = snapshot(&t.base);
    assert!(before.contains_key(std::path::Path::new("root/links/loop1")));
    std::fs::write(t.host("data/file.txt"), b"changed").unwrap();
    assert_ne!(before, snapshot(&t.base));
}

#[test]
fn lower_directories_move_with_their_contents() {
    let t = TempTree::new("dirmove");
    let before = snapshot(&t.base);
    {
        let vfs = sandbox(&t);
        let ctx = vfs.new_context();
        let ino = vfs.stat(&ctx, At::Cwd, b"/data/sub", 0).unwrap().ino;
        vfs.rename(&ctx, At::Cwd, b"/data/sub", At::Cwd, b"/moved", 0)
            .unwrap();
        assert_eq!(vfs.stat(&ctx, At::Cwd, b"/moved", 0).unwrap().ino, ino);
        assert_eq!(list(&vfs, &ctx, "/moved").unwrap(), ["deep"]);
        assert_eq!(
            read_file(&vfs, &ctx, "/moved/deep/nested.txt").unwrap(),
            b"nested\n"
        );
        assert_eq!(
            vfs.stat(&ctx, At::Cwd, b"/data/sub", 0).err(),
            Some(Errno::ENOENT)
        );
        assert!(
            !list(&vfs, &ctx, "/data")
                .unwrap()
                .contains(&"sub".to_string())
        );
        // Changes inside the moved tree land in it.
        write_file(&vfs, &ctx, "/moved/deep/nested.txt", b"edited").unwrap();
        write_file(&vfs, &ctx, "/moved/added", b"added").unwrap();
        vfs.unlink(&ctx, At::Cwd, b"/moved/deep/nested.txt", 0)
            .unwrap();
        assert_eq!(
            list(&vfs, &ctx, "/moved/deep").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(list(&vfs, &ctx, "/moved").unwrap(), ["added", "deep"]);
        // Moving it again, and back under the old name, still shows the same contents.
        vfs.rename(&ctx, At::Cwd, b"/moved", At::Cwd, b"/etc/again", 0)
            .unwrap();
        vfs.rename(&ctx, At::Cwd, b"/etc/again", At::Cwd, b"/data/sub", 0)
            .unwrap();
        assert_eq!(list(&vfs, &ctx, "/data/sub").unwrap(), ["added", "deep"]);
        // Dropping cached dentries changes nothing.
        vfs.set_dentry_cache_limit(16);
        for i in 0..64 {
            let _ = vfs.stat(&ctx, At::Cwd, format!("/nothing{i}").as_bytes(), 0);
        }
        assert_eq!(read_file(&vfs, &ctx, "/data/sub/added").unwrap(), b"added");
        assert_eq!(
            list(&vfs, &ctx, "/data/sub/deep").unwrap(),
            Vec::<String>::new()
        );
        // A whole lower tree of links moves too; relative links now point elsewhere.
        vfs.rename(&ctx, At::Cwd, b"/links", At::Cwd, b"/data/links", 0)
            .unwrap();
        assert_eq!(
            read_file(&vfs, &ctx, "/data/links/rel").err(),
            Some(Errno::ENOENT)
        );
        assert_eq!(
            read_file(&vfs, &ctx, "/data/links/abs").unwrap(),
            b"hello world\n"
        );
    }
    assert_eq!(before, snapshot(&t.base));
}
