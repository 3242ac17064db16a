//! Bind mounts and read-only mounts: changes through a read-write bind mount reach the host
//! directory and only it; nothing leaves the bound tree; read-only mounts and a read-only
//! root refuse every change with EROFS and leave the host as it was.

#[path = "vfs_support.rs"]
mod support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use abi::Errno;
use abi::flags::at::AT_REMOVEDIR;
use sentry::vfs::{At, MountKind, MountSpec, SandboxError, Vfs, W_OK};
use support::*;

fn bind(source: PathBuf, destination: &str, readonly: bool) -> MountSpec {
    MountSpec {
        destination: destination.into(),
        kind: MountKind::Bind { source },
        readonly,
    }
}

/// A host directory `shared` beside the sandbox root, with one file in it.
fn shared_dir(t: &TempTree) -> PathBuf {
    let dir = t.base.join("shared");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("hello.txt"), b"from the host\n").unwrap();
    dir
}

#[test]
fn changes_through_a_bind_mount_reach_the_host() {
    let t = TempTree::new("bind-rw");
    let host = shared_dir(&t);
    let vfs = Vfs::new_sandbox(&t.root, &[bind(host.clone(), "/mnt/shared", false)]).unwrap();
    vfs.apply_readonly(false, &[]).unwrap();
    let ctx = vfs.new_context();
    let cwd = At::Cwd;

    // The mount point was made in the sandbox only.
    assert!(!t.root.join("mnt").exists());
    assert_eq!(
        read_file(&vfs, &ctx, "/mnt/shared/hello.txt").unwrap(),
        b"from the host\n"
    );
    write_file(&vfs, &ctx, "/mnt/shared/new.txt", b"from the sandbox\n").unwrap();
    assert_eq!(
        fs::read(host.join("new.txt")).unwrap(),
        b"from the sandbox\n"
    );
    // The umask applies, the sentry's own does not.
    assert_eq!(
        fs::metadata(host.join("new.txt")).unwrap().mode() & 0o777,
        0o644
    );
    vfs.mkdir(&ctx, cwd, b"/mnt/shared/dir", 0o750).unwrap();
    assert_eq!(
        fs::metadata(host.join("dir")).unwrap().mode() & 0o7777,
        0o750
    );
    vfs.rename(
        &ctx,
        cwd,
        b"/mnt/shared/new.txt",
        cwd,
        b"/mnt/shared/dir/moved.txt",
        0,
    )
    .unwrap();
    assert!(!host.join("new.txt").exists());
    assert_eq!(
        fs::read(host.join("dir/moved.txt")).unwrap(),
        b"from the sandbox\n"
    );
    vfs.link(
        &ctx,
        cwd,
        b"/mnt/shared/hello.txt",
        cwd,
        b"/mnt/shared/hard",
        0,
    )
    .unwrap();
    assert_eq!(
        fs::metadata(host.join("hard")).unwrap().ino(),
        fs::metadata(host.join("hello.txt")).unwrap().ino()
    );
    vfs.symlink(&ctx, b"hello.txt", cwd, b"/mnt/shared/soft")
        .unwrap();
    assert_eq!(
        fs::read_link(host.join("soft")).unwrap(),
        PathBuf::from("hello.txt")
    );
    vfs.chmod(&ctx, cwd, b"/mnt/shared/hello.txt", 0o600, 0)
        .unwrap();
    assert_eq!(
        fs::metadata(host.join("hello.txt")).unwrap().mode() & 0o7777,
        0o600
    );
    vfs.truncate(&ctx, cwd, b"/mnt/shared/hello.txt", 4)
        .unwrap();
    assert_eq!(fs::read(host.join("hello.txt")).unwrap(), b"from");
    let f = open(
        &vfs,
        &ctx,
        "/mnt/shared/hello.txt",
        wr() | sentry::vfs::OpenFlags::APPEND,
    )
    .unwrap();
    f.write(b" and more").unwrap();
    assert_eq!(fs::read(host.join("hello.txt")).unwrap(), b"from and more");
    vfs.unlink(&ctx, cwd, b"/mnt/shared/hard", 0).unwrap();
    vfs.unlink(&ctx, cwd, b"/mnt/shared/dir/moved.txt", 0)
        .unwrap();
    vfs.unlink(&ctx, cwd, b"/mnt/shared/dir", AT_REMOVEDIR)
        .unwrap();
    assert!(!host.join("hard").exists() && !host.join("dir").exists());

    // The host's own changes show at once: metadata is never cached.
    fs::write(
        host.join("later.txt"),
        b"written on the host after the mount",
    )
    .unwrap();
    assert_eq!(
        vfs.stat(&ctx, cwd, b"/mnt/shared/later.txt", 0)
            .unwrap()
            .size,
        35
    );
    let mut names = list(&vfs, &ctx, "/mnt/shared").unwrap();
    names.sort();
    assert_eq!(names, ["hello.txt", "later.txt", "soft"]);

    // Nothing crosses between the bind mount and the root's overlay.
    assert_eq!(
        vfs.rename(
            &ctx,
            cwd,
            b"/mnt/shared/later.txt",
            cwd,
            b"/etc/later.txt",
            0
        ),
        Err(Errno::EXDEV)
    );
    assert_eq!(
        vfs.link(&ctx, cwd, b"/etc/passwd", cwd, b"/mnt/shared/passwd", 0),
        Err(Errno::EXDEV)
    );
}

#[test]
fn nothing_leaves_the_bound_tree() {
    let t = TempTree::new("bind-escape");
    let host = shared_dir(&t);
    std::os::unix::fs::symlink("../outside/secret.txt", host.join("rel")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", host.join("abs")).unwrap();
    std::os::unix::fs::symlink("../../../../..", host.join("up")).unwrap();
    let vfs = Vfs::new_sandbox(&t.root, &[bind(host.clone(), "/data", false)]).unwrap();
    let ctx = vfs.new_context();
    // Links resolve in the sandbox's namespace: `..` of the mount is the sandbox's root, and
    // an absolute link names the sandbox's file, not the host's.
    assert_eq!(read_file(&vfs, &ctx, "/data/rel"), Err(Errno::ENOENT));
    assert_eq!(
        read_file(&vfs, &ctx, "/data/abs").unwrap(),
        fs::read(t.root.join("etc/passwd")).unwrap()
    );
    assert_eq!(
        list(&vfs, &ctx, "/data/up").unwrap(),
        list(&vfs, &ctx, "/").unwrap()
    );
    assert_eq!(
        list(&vfs, &ctx, "/data/..").unwrap(),
        list(&vfs, &ctx, "/").unwrap()
    );
    // Writing through a link that points out of the mount writes the sandbox's copy only.
    write_file(&vfs, &ctx, "/data/abs", b"changed").unwrap();
    assert_eq!(
        fs::read(t.root.join("etc/passwd")).unwrap(),
        b"root:x:0:0:root:/root:/bin/sh\n"
    );
    assert_eq!(
        fs::read(t.base.join("outside/secret.txt")).unwrap(),
        b"host secret\n"
    );
}

#[test]
fn read_only_mounts_refuse_every_change() {
    let t = TempTree::new("bind-ro");
    let host = shared_dir(&t);
    let single = t.base.join("single.conf");
    fs::write(&single, b"one file\n").unwrap();
    let mounts = [
        bind(host.clone(), "/ro", true),
        bind(single.clone(), "/etc/single.conf", true),
        bind(single.clone(), "/etc/os-release", false),
        MountSpec {
            destination: "/var/scratch".into(),
            kind: MountKind::Tmpfs { mode: 0o1777 },
            readonly: false,
        },
    ];
    let before = snapshot(&t.base);
    let vfs = Vfs::new_sandbox(&t.root, &mounts).unwrap();
    vfs.apply_readonly(true, &mounts).unwrap();
    let ctx = vfs.new_context();
    let cwd = At::Cwd;
    let erofs = Err(Errno::EROFS);

    assert_eq!(
        read_file(&vfs, &ctx, "/ro/hello.txt").unwrap(),
        b"from the host\n"
    );
    assert_eq!(
        read_file(&vfs, &ctx, "/etc/single.conf").unwrap(),
        b"one file\n"
    );
    // A file bind mount covers the root's file.
    assert_eq!(
        read_file(&vfs, &ctx, "/etc/os-release").unwrap(),
        b"one file\n"
    );
    for path in ["/ro/hello.txt", "/etc/single.conf", "/etc/passwd"] {
        assert_eq!(
            open(&vfs, &ctx, path, wr()).err(),
            Some(Errno::EROFS),
            "{path}"
        );
        assert_eq!(
            open(&vfs, &ctx, path, rw()).err(),
            Some(Errno::EROFS),
            "{path}"
        );
        assert_eq!(vfs.truncate(&ctx, cwd, path.as_bytes(), 0), erofs, "{path}");
        assert_eq!(
            vfs.chmod(&ctx, cwd, path.as_bytes(), 0o600, 0),
            erofs,
            "{path}"
        );
        assert_eq!(
            vfs.chown(&ctx, cwd, path.as_bytes(), Some(1), None, 0),
            erofs
        );
        assert_eq!(
            vfs.utimens(&ctx, cwd, path.as_bytes(), None, 0),
            erofs,
            "{path}"
        );
        assert_eq!(
            vfs.access(&ctx, cwd, path.as_bytes(), W_OK, 0),
            erofs,
            "{path}"
        );
        assert!(
            vfs.access(&ctx, cwd, path.as_bytes(), 4, 0).is_ok(),
            "{path}"
        );
    }
    for dir in ["/ro", "/etc"] {
        let new = format!("{dir}/new");
        assert_eq!(open(&vfs, &ctx, &new, creat()).err(), Some(Errno::EROFS));
        assert_eq!(vfs.mkdir(&ctx, cwd, new.as_bytes(), 0o755), erofs);
        assert_eq!(vfs.symlink(&ctx, b"x", cwd, new.as_bytes()), erofs);
    }
    // An existing name is still EEXIST, as on Linux.
    assert_eq!(vfs.mkdir(&ctx, cwd, b"/ro", 0o755), Err(Errno::EEXIST));
    assert_eq!(vfs.unlink(&ctx, cwd, b"/ro/hello.txt", 0), erofs);
    assert_eq!(
        vfs.rename(&ctx, cwd, b"/ro/hello.txt", cwd, b"/ro/other", 0),
        erofs
    );
    assert_eq!(vfs.unlink(&ctx, cwd, b"/etc/passwd", 0), erofs);
    // The read-write file bind mount on a read-only root is writable, and reaches the host.
    write_file(&vfs, &ctx, "/etc/os-release", b"rewritten\n").unwrap();
    assert_eq!(fs::read(&single).unwrap(), b"rewritten\n");
    fs::write(&single, b"one file\n").unwrap();
    fs::set_permissions(&single, fs::Permissions::from_mode(0o644)).unwrap();
    // The sandbox's own scratch space stays writable under a read-only root.
    write_file(&vfs, &ctx, "/tmp/x", b"scratch").unwrap();
    write_file(&vfs, &ctx, "/var/scratch/x", b"scratch").unwrap();
    assert_eq!(read_file(&vfs, &ctx, "/var/scratch/x").unwrap(), b"scratch");
    assert_eq!(read_file(&vfs, &ctx, "/dev/null").unwrap(), b"");
    assert!(open(&vfs, &ctx, "/dev/null", wr()).is_ok());
    drop(vfs);
    let after = snapshot(&t.base);
    let changed: Vec<_> = before
        .keys()
        .filter(|k| before.get(*k) != after.get(*k) && !k.ends_with("single.conf"))
        .collect();
    assert!(changed.is_empty(), "host changed: {changed:?}");
}

#[test]
fn bad_bind_mounts_are_clear_errors() {
    let t = TempTree::new("bind-bad");
    let missing = t.base.join("no-such-dir");
    match Vfs::new_sandbox(&t.root, &[bind(missing.clone(), "/data", false)]) {
        Err(SandboxError::BindSource { path, errno }) => {
            assert_eq!((path, errno), (missing, Errno::ENOENT));
        }
        other => panic!("expected a bind source error, got {:?}", other.err()),
    }
    // A file cannot cover a directory, nor a directory a file.
    let file = t.base.join("outside/secret.txt");
    assert!(matches!(
        Vfs::new_sandbox(&t.root, &[bind(file, "/etc", false)]),
        Err(SandboxError::Mount { errno, .. }) if errno == Errno::EISDIR
    ));
    assert!(matches!(
        Vfs::new_sandbox(&t.root, &[bind(t.base.join("outside"), "/etc/passwd", false)]),
        Err(SandboxError::Mount { errno, .. }) if errno == Errno::ENOTDIR
    ));
}
