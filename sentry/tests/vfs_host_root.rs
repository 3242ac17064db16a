//! A sandbox over the real host root `/`: host files read through, host pseudo file systems
//! are sealed, and nothing written in the sandbox reaches the host.

#[path = "vfs_support.rs"]
mod support;

use std::path::Path;

use abi::Errno;
use sentry::vfs::{At, Vfs};
use support::*;

#[test]
fn reads_the_host_root() {
    let vfs = Vfs::new_sandbox(Path::new("/"), &[]).unwrap();
    let ctx = vfs.new_context();
    let names = list(&vfs, &ctx, "/").unwrap();
    assert!(names.contains(&"etc".to_string()), "{names:?}");
    assert!(names.contains(&"tmp".to_string()));
    for p in [
        "/etc/os-release",
        "/usr/lib/os-release",
        "/etc/hostname",
        "/etc/passwd",
    ] {
        if let Ok(host) = std::fs::read(p) {
            assert_eq!(read_file(&vfs, &ctx, p).unwrap(), host, "{p}");
        }
    }
    // /etc/os-release is usually a relative link into /usr/lib; it resolves in the sandbox.
    if std::fs::symlink_metadata("/etc/os-release").is_ok_and(|m| m.file_type().is_symlink()) {
        let target = std::fs::read_link("/etc/os-release").unwrap();
        let got = vfs.readlink(&ctx, At::Cwd, b"/etc/os-release").unwrap();
        assert_eq!(got, target.as_os_str().as_encoded_bytes());
    }
    // The host's /proc and /sys are sealed (shown empty): they describe the host and the
    // sentry, not the sandbox.
    for p in ["/proc", "/sys"] {
        if vfs.stat(&ctx, At::Cwd, p.as_bytes(), 0).is_ok() && Path::new(p).join("self").exists() {
            assert_eq!(list(&vfs, &ctx, p).unwrap(), Vec::<String>::new(), "{p}");
            assert_eq!(
                read_file(&vfs, &ctx, &format!("{p}/self/environ")).err(),
                Some(Errno::ENOENT)
            );
        }
    }
    // /tmp and /dev are the sandbox's own.
    assert_eq!(list(&vfs, &ctx, "/tmp").unwrap(), Vec::<String>::new());
    assert_eq!(read_file(&vfs, &ctx, "/dev/null").unwrap(), b"");
    let root_dev = vfs.stat(&ctx, At::Cwd, b"/", 0).unwrap().dev;
    let tmp_dev = vfs.stat(&ctx, At::Cwd, b"/tmp", 0).unwrap().dev;
    let dev_dev = vfs.stat(&ctx, At::Cwd, b"/dev", 0).unwrap().dev;
    assert!(root_dev != tmp_dev && root_dev != dev_dev && tmp_dev != dev_dev);
    assert_eq!(list(&vfs, &ctx, "/dev/shm").unwrap(), Vec::<String>::new());
}

#[test]
fn host_root_is_not_written() {
    // A file of our own on the host, outside /tmp (which the sandbox covers).
    let dir = Path::new("/var/tmp");
    if !dir.is_dir() {
        return;
    }
    let name = format!("rf-vfs-host-root-{}", std::process::id());
    let host_path = dir.join(&name);
    std::fs::write(&host_path, b"original\n").unwrap();
    let before = std::fs::metadata(&host_path).unwrap();
    let sandbox_path = format!("/var/tmp/{name}");
    {
        let vfs = Vfs::new_sandbox(Path::new("/"), &[]).unwrap();
        let ctx = vfs.new_context();
        assert_eq!(read_file(&vfs, &ctx, &sandbox_path).unwrap(), b"original\n");
        write_file(&vfs, &ctx, &sandbox_path, b"changed in the sandbox\n").unwrap();
        assert_eq!(
            read_file(&vfs, &ctx, &sandbox_path).unwrap(),
            b"changed in the sandbox\n"
        );
        write_file(&vfs, &ctx, &format!("{sandbox_path}.new"), b"new").unwrap();
        vfs.rename(
            &ctx,
            At::Cwd,
            sandbox_path.as_bytes(),
            At::Cwd,
            b"/var/tmp/renamed",
            0,
        )
        .unwrap();
        vfs.unlink(&ctx, At::Cwd, b"/var/tmp/renamed", 0).unwrap();
    }
    assert_eq!(std::fs::read(&host_path).unwrap(), b"original\n");
    let after = std::fs::metadata(&host_path).unwrap();
    assert_eq!(before.modified().unwrap(), after.modified().unwrap());
    assert!(!dir.join(format!("{name}.new")).exists());
    std::fs::remove_file(&host_path).unwrap();
}

#[test]
fn walks_a_large_host_tree_within_the_descriptor_budget() {
    let vfs = Vfs::new_sandbox(Path::new("/"), &[]).unwrap();
    vfs.set_dentry_cache_limit(256);
    let ctx = vfs.new_context();
    // Breadth-first over /usr, up to a few thousand names.
    let mut queue = vec!["/usr".to_string()];
    let mut seen = 0;
    while let Some(dir) = queue.pop() {
        let Ok(names) = list(&vfs, &ctx, &dir) else {
            continue;
        };
        for n in names {
            let p = format!("{dir}/{n}");
            if let Ok(st) = vfs.stat(
                &ctx,
                At::Cwd,
                p.as_bytes(),
                abi::flags::at::AT_SYMLINK_NOFOLLOW,
            ) {
                seen += 1;
                if st.is_dir() {
                    queue.push(p);
                }
            }
            if seen > 5000 {
                break;
            }
        }
        if seen > 5000 {
            break;
        }
    }
    assert!(seen > 100, "{seen}");
    assert!(vfs.cached_dentries() < 2000, "{}", vfs.cached_dentries());
}
