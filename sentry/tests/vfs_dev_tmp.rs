//! The mounts of a sandbox: devfs devices, the separate tmpfs at /tmp, mount crossing, the
//! `getdents64` record format, and a synthetic file system (the procfs hook).

#[path = "vfs_support.rs"]
mod support;

use std::sync::Arc;

use abi::Errno;
use abi::flags::at::AT_SYMLINK_NOFOLLOW;
use sentry::vfs::dirent::{DT_CHR, DT_DIR, DT_LNK, DT_REG, parse_records, record_len};
use sentry::vfs::synthetic::{FnFile, FnLink, StaticDir, SynthFs};
use sentry::vfs::tmpfs::Tmpfs;
use sentry::vfs::{At, FileType, OpenFlags, SEEK_CUR, SEEK_SET, Vfs, makedev};
use support::*;

#[test]
fn memory_devices() {
    let t = TempTree::new("dev");
    let vfs = Vfs::new_sandbox(&t.root, &[]).unwrap();
    let ctx = vfs.new_context();
    let mut buf = [7u8; 64];
    // null: reads end at once, writes vanish.
    let null = open(&vfs, &ctx, "/dev/null", rw()).unwrap();
    assert_eq!(null.read(&mut buf).unwrap(), 0);
    assert_eq!(null.write(b"gone").unwrap(), 4);
    assert_eq!(null.pwrite(b"gone", 100).unwrap(), 4);
    assert_eq!(null.seek(123, SEEK_SET).unwrap(), 0);
    // zero: zeros, writes accepted.
    let zero = open(&vfs, &ctx, "/dev/zero", rw()).unwrap();
    assert_eq!(zero.read(&mut buf).unwrap(), 64);
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(zero.write(b"x").unwrap(), 1);
    // full: zeros on read, ENOSPC on write.
    let full = open(&vfs, &ctx, "/dev/full", rw()).unwrap();
    buf.fill(7);
    assert_eq!(full.read(&mut buf).unwrap(), 64);
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(full.write(b"x"), Err(Errno::ENOSPC));
    // random and urandom: random bytes.
    for dev in ["/dev/random", "/dev/urandom"] {
        let r = open(&vfs, &ctx, dev, rd()).unwrap();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        assert_eq!(r.read(&mut a).unwrap(), 32);
        assert_eq!(r.read(&mut b).unwrap(), 32);
        assert_ne!(a, b);
    }
    // Metadata: character devices 1:3 and so on, mode 0666.
    let st = vfs.stat(&ctx, At::Cwd, b"/dev/null", 0).unwrap();
    assert_eq!(st.file_type(), Some(FileType::CharDevice));
    assert_eq!((st.rdev, st.mode & 0o777), (makedev(1, 3), 0o666));
    assert_eq!(
        vfs.stat(&ctx, At::Cwd, b"/dev/urandom", 0).unwrap().rdev,
        makedev(1, 9)
    );
    assert_eq!(null.stat().unwrap().rdev, makedev(1, 3));
    // The listing, with types.
    let entries = list_raw(&vfs, &ctx, "/dev").unwrap();
    let kind = |n: &str| entries.iter().find(|e| e.0 == n).map(|e| e.2);
    assert_eq!(kind("null"), Some(DT_CHR));
    assert_eq!(kind("shm"), Some(DT_DIR));
    assert_eq!(kind("fd"), Some(DT_LNK));
    assert_eq!(
        vfs.readlink(&ctx, At::Cwd, b"/dev/stdin").unwrap(),
        b"/proc/self/fd/0"
    );
    // /dev is writable in the sandbox (like devtmpfs), e.g. /dev/shm.
    write_file(&vfs, &ctx, "/dev/shm/segment", b"shared").unwrap();
    // O_TRUNC on a device is ignored.
    open(&vfs, &ctx, "/dev/null", wr() | OpenFlags::TRUNC).unwrap();
}

#[test]
fn tmp_is_its_own_file_system() {
    let t = TempTree::new("tmp");
    std::fs::write(t.host("tmp/host-file"), b"host").unwrap();
    let before = snapshot(&t.base);
    {
        let vfs = Vfs::new_sandbox(&t.root, &[]).unwrap();
        let ctx = vfs.new_context();
        // The host's tmp directory is covered.
        assert_eq!(list(&vfs, &ctx, "/tmp").unwrap(), Vec::<String>::new());
        let root = vfs.stat(&ctx, At::Cwd, b"/", 0).unwrap();
        let tmp = vfs.stat(&ctx, At::Cwd, b"/tmp", 0).unwrap();
        assert_ne!(root.dev, tmp.dev);
        assert_eq!(tmp.mode & 0o7777, 0o1777);
        write_file(&vfs, &ctx, "/tmp/a", b"in tmpfs").unwrap();
        vfs.mkdir(&ctx, At::Cwd, b"/tmp/d", 0o700).unwrap();
        // Across the mount: no hard links, no renames; `..` goes back to the overlay.
        assert_eq!(
            vfs.link(&ctx, At::Cwd, b"/tmp/a", At::Cwd, b"/a", 0).err(),
            Some(Errno::EXDEV)
        );
        assert_eq!(
            vfs.rename(&ctx, At::Cwd, b"/tmp/a", At::Cwd, b"/a", 0)
                .err(),
            Some(Errno::EXDEV)
        );
        assert_eq!(
            vfs.stat(&ctx, At::Cwd, b"/tmp/..", 0).unwrap().ino,
            root.ino
        );
        assert_eq!(
            vfs.stat(&ctx, At::Cwd, b"/tmp/d/../..", 0).unwrap().ino,
            root.ino
        );
        // The mount point cannot be removed or renamed.
        assert_eq!(
            vfs.unlink(&ctx, At::Cwd, b"/tmp", abi::flags::at::AT_REMOVEDIR)
                .err(),
            Some(Errno::EBUSY)
        );
        assert_eq!(
            vfs.rename(&ctx, At::Cwd, b"/tmp", At::Cwd, b"/tmp2", 0)
                .err(),
            Some(Errno::EBUSY)
        );
        // getcwd across the mount.
        let mut c = ctx.clone();
        vfs.chdir(&mut c, At::Cwd, b"/tmp/d").unwrap();
        assert_eq!(vfs.getcwd(&c).unwrap(), b"/tmp/d");
        assert_eq!(read_file(&vfs, &c, "../a").unwrap(), b"in tmpfs");
        // `..` of the tmpfs root lists the tmpfs root's own number, as Linux does.
        let recs = list_raw(&vfs, &ctx, "/tmp").unwrap();
        assert_eq!(recs[0].0, ".");
        assert_eq!(recs[1], ("..".to_string(), tmp.ino, DT_DIR));
        // Each sandbox has its own /tmp.
        let other = Vfs::new_sandbox(&t.root, &[]).unwrap();
        let octx = other.new_context();
        assert_eq!(list(&other, &octx, "/tmp").unwrap(), Vec::<String>::new());
    }
    assert_eq!(before, snapshot(&t.base));
}

#[test]
fn getdents64_records() {
    let vfs = Vfs::new(Tmpfs::new(0o755));
    let ctx = vfs.new_context();
    vfs.mkdir(&ctx, At::Cwd, b"/d", 0o755).unwrap();
    let names: Vec<String> = (0..40)
        .map(|i| format!("entry-{i:02}-{}", "x".repeat(i % 7)))
        .collect();
    for n in &names {
        write_file(&vfs, &ctx, &format!("/d/{n}"), b"").unwrap();
    }
    vfs.mkdir(&ctx, At::Cwd, b"/d/subdir", 0o755).unwrap();
    vfs.symlink(&ctx, b"x", At::Cwd, b"/d/link").unwrap();
    let dir = vfs
        .open(&ctx, At::Cwd, b"/d", OpenFlags::DIRECTORY, 0)
        .unwrap();
    // Too small for even one record.
    assert_eq!(dir.getdents64(&mut [0u8; 16]), Err(Errno::EINVAL));
    assert_eq!(dir.getdents64(&mut [0u8; 23]), Err(Errno::EINVAL));
    // Read in small batches; check every record.
    let mut all = Vec::new();
    let mut buf = [0u8; 100];
    loop {
        let n = dir.getdents64(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let recs = parse_records(&buf[..n]).unwrap();
        assert!(!recs.is_empty());
        for r in &recs {
            assert_eq!(usize::from(r.reclen), record_len(r.name.len()));
            assert_eq!(r.reclen % 8, 0);
        }
        all.extend(recs);
    }
    assert_eq!(all.len(), 2 + names.len() + 2);
    assert_eq!(
        (all[0].name.as_slice(), all[1].name.as_slice()),
        (&b"."[..], &b".."[..])
    );
    let d_ino = vfs.stat(&ctx, At::Cwd, b"/d", 0).unwrap().ino;
    let root_ino = vfs.stat(&ctx, At::Cwd, b"/", 0).unwrap().ino;
    assert_eq!((all[0].ino, all[1].ino), (d_ino, root_ino));
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r.off, i as i64 + 1, "offsets name the next entry");
        let path = format!("/d/{}", String::from_utf8_lossy(&r.name));
        let st = vfs
            .stat(&ctx, At::Cwd, path.as_bytes(), AT_SYMLINK_NOFOLLOW)
            .unwrap();
        assert_eq!(r.ino, st.ino);
        let expect = st.file_type().map(FileType::dirent_type).unwrap();
        assert_eq!(r.d_type, expect);
    }
    assert!(
        all.iter()
            .any(|r| r.name == b"subdir" && r.d_type == DT_DIR)
    );
    assert!(all.iter().any(|r| r.name == b"link" && r.d_type == DT_LNK));
    assert!(
        all.iter()
            .any(|r| r.name == b"entry-00-" && r.d_type == DT_REG)
    );
    // Resuming at a d_off (seekdir) gives the same next entry; rewinding sees new files.
    dir.seek(all[9].off, SEEK_SET).unwrap();
    let n = dir.getdents64(&mut buf).unwrap();
    assert_eq!(parse_records(&buf[..n]).unwrap()[0], all[10]);
    assert_eq!(
        dir.seek(0, SEEK_CUR).unwrap(),
        all[10 + parse_records(&buf[..n]).unwrap().len() - 1].off
    );
    write_file(&vfs, &ctx, "/d/late", b"").unwrap();
    dir.seek(0, SEEK_SET).unwrap();
    let mut count = 0;
    loop {
        let n = dir.getdents64(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        count += parse_records(&buf[..n]).unwrap().len();
    }
    assert_eq!(count, all.len() + 1);
}

#[test]
fn synthetic_file_system() {
    let vfs = Vfs::new(Tmpfs::new(0o755));
    let ctx = vfs.new_context();
    vfs.mkdir(&ctx, At::Cwd, b"/proc", 0o555).unwrap();
    let counter = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let c2 = counter.clone();
    let root = StaticDir::new()
        .with(
            "uptime",
            FnFile::node(move || {
                let n = c2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(format!("{n}.00 0.00\n").into_bytes())
            }),
        )
        .with("self", FnLink::node(|| Ok(b"42".to_vec())))
        .with(
            "42",
            StaticDir::new()
                .with("comm", FnFile::node(|| Ok(b"test\n".to_vec())))
                .into_node(),
        );
    vfs.mount(
        &ctx,
        At::Cwd,
        b"/proc",
        SynthFs::new("proc", Arc::new(root)),
    )
    .unwrap();
    // Contents are produced per open.
    assert_eq!(
        read_file(&vfs, &ctx, "/proc/uptime").unwrap(),
        b"0.00 0.00\n"
    );
    assert_eq!(
        read_file(&vfs, &ctx, "/proc/uptime").unwrap(),
        b"1.00 0.00\n"
    );
    assert_eq!(read_file(&vfs, &ctx, "/proc/self/comm").unwrap(), b"test\n");
    assert_eq!(vfs.readlink(&ctx, At::Cwd, b"/proc/self").unwrap(), b"42");
    assert_eq!(list(&vfs, &ctx, "/proc").unwrap(), ["42", "self", "uptime"]);
    assert_eq!(list(&vfs, &ctx, "/proc/42").unwrap(), ["comm"]);
    // Inode numbers are stable and match between stat and getdents.
    let a = vfs.stat(&ctx, At::Cwd, b"/proc/42/comm", 0).unwrap();
    let b = vfs.stat(&ctx, At::Cwd, b"/proc/self/comm", 0).unwrap();
    assert_eq!(a.ino, b.ino);
    let recs = list_raw(&vfs, &ctx, "/proc/42").unwrap();
    assert_eq!(recs[2].1, a.ino);
    assert_eq!(a.mode & 0o777, 0o444);
    // Read-only: nothing can be created, written or removed.
    assert_eq!(
        write_file(&vfs, &ctx, "/proc/new", b"").err(),
        Some(Errno::EPERM)
    );
    let f = open(&vfs, &ctx, "/proc/uptime", wr()).unwrap();
    assert_eq!(f.write(b"x").err(), Some(Errno::EINVAL));
    assert_eq!(
        vfs.unlink(&ctx, At::Cwd, b"/proc/uptime", 0).err(),
        Some(Errno::EPERM)
    );
    assert_eq!(vfs.getcwd(&ctx).unwrap(), b"/");
}
