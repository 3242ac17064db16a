//! Many threads changing and reading one tree at once: nothing deadlocks, and the tree stays
//! consistent (every listed name can be looked up, link counts add up). Also timestamps.

#[path = "vfs_support.rs"]
mod support;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use abi::Errno;
use abi::flags::at::AT_REMOVEDIR;
use sentry::vfs::tmpfs::Tmpfs;
use sentry::vfs::{At, OpenFlags, Vfs};
use support::*;

/// A small deterministic random number generator (xorshift), one per thread.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Runs `threads` threads of random operations on names under `/s`; fails rather than hangs
/// if they do not finish.
fn storm(vfs: Arc<Vfs>, threads: u64, rounds: u64) {
    let ctx = vfs.new_context();
    for d in ["/s", "/s/a", "/s/b", "/s/a/c"] {
        let _ = vfs.mkdir(&ctx, At::Cwd, d.as_bytes(), 0o755);
    }
    let (tx, rx) = mpsc::channel();
    for t in 0..threads {
        let vfs = vfs.clone();
        let tx = tx.clone();
        std::thread::spawn(move || {
            let ctx = vfs.new_context();
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((t + 1) * 0x1234_5678));
            let dirs = ["/s", "/s/a", "/s/b", "/s/a/c", "/s/b/d"];
            let names = ["x", "y", "z", "d", "c"];
            for _ in 0..rounds {
                let dir = dirs[rng.next(dirs.len() as u64) as usize];
                let name = names[rng.next(names.len() as u64) as usize];
                let path = format!("{dir}/{name}");
                let other = format!(
                    "{}/{}",
                    dirs[rng.next(dirs.len() as u64) as usize],
                    names[rng.next(names.len() as u64) as usize]
                );
                let p = path.as_bytes();
                // Errors are expected (the tree changes under each thread); hangs and panics are not.
                let _ = match rng.next(9) {
                    0 => vfs.mkdir(&ctx, At::Cwd, p, 0o755).map(|_| ()),
                    1 => vfs.unlink(&ctx, At::Cwd, p, AT_REMOVEDIR),
                    2 => vfs.unlink(&ctx, At::Cwd, p, 0),
                    3 => vfs.rename(&ctx, At::Cwd, p, At::Cwd, other.as_bytes(), 0),
                    4 => vfs.link(&ctx, At::Cwd, p, At::Cwd, other.as_bytes(), 0),
                    5 => vfs
                        .open(&ctx, At::Cwd, p, OpenFlags::RDWR | OpenFlags::CREAT, 0o644)
                        .and_then(|f| f.write(b"data").map(|_| ())),
                    6 => list(&vfs, &ctx, dir).map(|_| ()),
                    7 => vfs.stat(&ctx, At::Cwd, p, 0).map(|_| ()),
                    _ => vfs.symlink(&ctx, b"../x", At::Cwd, p),
                };
            }
            let _ = tx.send(());
        });
    }
    drop(tx);
    for _ in 0..threads {
        rx.recv_timeout(Duration::from_secs(60))
            .expect("a thread hung or panicked: deadlock?");
    }
    // Consistency: every listed name resolves, and each directory's entries have the type
    // the listing gave.
    let mut stack = vec!["/s".to_string()];
    while let Some(dir) = stack.pop() {
        for (name, ino, d_type) in list_raw(&vfs, &ctx, &dir).unwrap() {
            if name == "." || name == ".." {
                continue;
            }
            let path = format!("{dir}/{name}");
            let st = vfs
                .stat(
                    &ctx,
                    At::Cwd,
                    path.as_bytes(),
                    abi::flags::at::AT_SYMLINK_NOFOLLOW,
                )
                .unwrap_or_else(|e| panic!("{path} listed but {e}"));
            assert_eq!(st.ino, ino, "{path}");
            assert_eq!(
                st.file_type().map(|t| t.dirent_type()),
                Some(d_type),
                "{path}"
            );
            if st.is_dir() {
                stack.push(path);
            } else if st.file_type() == Some(sentry::vfs::FileType::Regular) {
                assert!(st.nlink >= 1, "{path}");
            }
        }
    }
}

#[test]
fn concurrent_changes_on_tmpfs() {
    let vfs = Arc::new(Vfs::new(Tmpfs::new(0o755)));
    storm(vfs, 8, 20_000);
}

#[test]
fn concurrent_changes_on_the_overlay() {
    let t = TempTree::new("storm");
    for d in ["s", "s/a", "s/b", "s/a/c", "s/b/d"] {
        std::fs::create_dir_all(t.host(d)).unwrap();
    }
    for f in ["s/x", "s/a/y", "s/b/z", "s/a/c/x", "s/b/d/y"] {
        std::fs::write(t.host(f), b"lower").unwrap();
    }
    let before = snapshot(&t.base);
    {
        let vfs = Arc::new(Vfs::new_sandbox(&t.root, &[]).unwrap());
        vfs.set_dentry_cache_limit(32);
        storm(vfs, 8, 10_000);
    }
    assert_eq!(before, snapshot(&t.base));
}

#[test]
fn timestamps_follow_changes() {
    let t = TempTree::new("times");
    let vfs = Vfs::new_sandbox(&t.root, &[]).unwrap();
    let ctx = vfs.new_context();
    for root in ["/tmp", "/data"] {
        let dir = root.as_bytes();
        let stat = |p: &str| vfs.stat(&ctx, At::Cwd, p.as_bytes(), 0).unwrap();
        let d0 = vfs.stat(&ctx, At::Cwd, dir, 0).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        // Creating a file sets its times and changes the directory's mtime and ctime.
        let path = format!("{root}/stamped");
        let f = open(&vfs, &ctx, &path, rw() | OpenFlags::CREAT).unwrap();
        let f0 = stat(&path);
        let d1 = vfs.stat(&ctx, At::Cwd, dir, 0).unwrap();
        assert!(d1.mtime > d0.mtime && d1.ctime > d0.ctime, "{root}");
        assert_eq!(f0.mtime, f0.ctime);
        assert!(f0.mtime >= d0.mtime);
        std::thread::sleep(Duration::from_millis(5));
        // Writing moves mtime and ctime, not atime.
        f.write(b"more").unwrap();
        let f1 = stat(&path);
        assert!(f1.mtime > f0.mtime && f1.ctime > f0.ctime);
        assert_eq!(f1.atime, f0.atime);
        assert_eq!((f1.size, f1.blocks), (4, 8));
        std::thread::sleep(Duration::from_millis(5));
        // chmod moves ctime only.
        vfs.chmod(&ctx, At::Cwd, path.as_bytes(), 0o600, 0).unwrap();
        let f2 = stat(&path);
        assert!(f2.ctime > f1.ctime);
        assert_eq!(f2.mtime, f1.mtime);
        // Removing a name changes the directory again.
        std::thread::sleep(Duration::from_millis(5));
        vfs.unlink(&ctx, At::Cwd, path.as_bytes(), 0).unwrap();
        assert!(vfs.stat(&ctx, At::Cwd, dir, 0).unwrap().mtime > d1.mtime);
        // The open file is still there, with no links.
        assert_eq!(f.stat().unwrap().nlink, 0);
        assert_eq!(f.pread(&mut [0u8; 8], 0).unwrap(), 4);
    }
    // A lower file keeps its host times until it changes.
    let host = std::fs::metadata(t.host("data/file.txt")).unwrap();
    let st = vfs.stat(&ctx, At::Cwd, b"/data/file.txt", 0).unwrap();
    assert_eq!(
        st.mtime.tv_sec,
        std::os::unix::fs::MetadataExt::mtime(&host)
    );
    assert_eq!(
        vfs.unlink(&ctx, At::Cwd, b"/data/missing", 0).err(),
        Some(Errno::ENOENT)
    );
}
