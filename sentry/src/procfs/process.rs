//! /proc/<pid>: one process's view, and the generic data behind it.

use std::sync::{Arc, Mutex};

use abi::Errno;
use abi::flags::ProtFlags;

use super::ProcessView;
use crate::mm::{Backing, MemoryManager};
use crate::platform::Platform;
use crate::vfs::synthetic::{FnFile, FnLink, StaticDir, SynthDir, SynthNode};
use crate::vfs::{FdTable, FsContext, S_IFIFO, S_IFMT, Vfs};

/// The parts of a process procfs reads; shared by its threads, updated by exec.
pub struct ProcView<P: Platform> {
    pub pid: i32,
    pub ppid: i32,
    pub vfs: Arc<Vfs>,
    pub mm: Mutex<Arc<Mutex<MemoryManager<P>>>>,
    pub fds: Arc<FdTable>,
    pub fs: Arc<Mutex<FsContext>>,
    pub exe: Mutex<Vec<u8>>,
    pub cmdline: Mutex<Vec<u8>>,
    /// The command name: the last component of the path given to execve (not of the file it
    /// resolved to: `sleep` for busybox's link), at most 15 bytes, as Linux's `comm`.
    pub comm: Mutex<Vec<u8>>,
    pub threads: std::sync::atomic::AtomicUsize,
}

impl<P: Platform> ProcView<P> {
    /// A forked child shows its parent's program until it execs.
    pub fn inherit(&self, parent: &ProcView<P>) {
        *lock(&self.exe) = lock(&parent.exe).clone();
        *lock(&self.cmdline) = lock(&parent.cmdline).clone();
        *lock(&self.comm) = lock(&parent.comm).clone();
    }

    /// Sets the command name (prctl `PR_SET_NAME` on the leader), at most 15 bytes.
    pub fn set_comm(&self, name: &[u8]) {
        *lock(&self.comm) = name.iter().take(15).copied().collect();
    }

    /// The command name.
    pub fn comm_name(&self) -> Vec<u8> {
        lock(&self.comm).clone()
    }

    /// After execve of `filename`: the new image, its resolved path and arguments.
    pub fn exec(
        &self,
        mm: &Arc<Mutex<MemoryManager<P>>>,
        path: &[u8],
        argv: &[Vec<u8>],
        filename: &[u8],
    ) {
        let base = filename.rsplit(|&b| b == b'/').next().unwrap_or(filename);
        *lock(&self.comm) = base.iter().take(15).copied().collect();
        *lock(&self.mm) = mm.clone();
        *lock(&self.exe) = if path.starts_with(b"/") {
            path.to_vec()
        } else {
            let mut abs = self.cwd();
            if abs.last() != Some(&b'/') {
                abs.push(b'/');
            }
            abs.extend_from_slice(path);
            abs
        };
        let mut cmdline = Vec::new();
        for a in argv {
            cmdline.extend_from_slice(a);
            cmdline.push(0);
        }
        *lock(&self.cmdline) = cmdline;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<P: Platform> ProcessView for ProcView<P> {
    fn pid(&self) -> i32 {
        self.pid
    }

    fn ppid(&self) -> i32 {
        self.ppid
    }

    fn comm(&self) -> Vec<u8> {
        lock(&self.comm).clone()
    }

    fn exe(&self) -> Vec<u8> {
        lock(&self.exe).clone()
    }

    fn cwd(&self) -> Vec<u8> {
        let ctx = lock(&self.fs).clone();
        self.vfs.getcwd(&ctx).unwrap_or_else(|_| b"/".to_vec())
    }

    fn cmdline(&self) -> Vec<u8> {
        lock(&self.cmdline).clone()
    }

    fn creds(&self) -> (crate::vfs::Creds, u32) {
        let ctx = lock(&self.fs);
        (ctx.creds.clone(), ctx.umask)
    }

    fn fds(&self) -> Vec<(i32, Vec<u8>)> {
        let ctx = lock(&self.fs).clone();
        self.fds
            .fds()
            .into_iter()
            .filter_map(|fd| {
                let file = self.fds.get(fd).ok()?;
                let target = match file.location() {
                    Some(loc) => self.vfs.path_of(&ctx, loc),
                    None => {
                        let st = file.stat().ok()?;
                        if st.mode & S_IFMT == S_IFIFO {
                            format!("pipe:[{}]", st.ino).into_bytes()
                        } else {
                            b"anon_inode:[file]".to_vec()
                        }
                    }
                };
                Some((fd, target))
            })
            .collect()
    }

    fn maps(&self) -> String {
        let mm = lock(&self.mm).clone();
        let mm = lock(&mm);
        let mut out = String::new();
        for (start, vma) in mm.vmas().iter() {
            let bit = |f: ProtFlags, c: char| if vma.prot.contains(f) { c } else { '-' };
            let offset = match &vma.backing {
                Backing::File { offset, .. } => *offset,
                Backing::Anonymous => 0,
            };
            let line = format!(
                "{start:08x}-{:08x} {}{}{}{} {offset:08x} 00:00 0",
                vma.end,
                bit(ProtFlags::READ, 'r'),
                bit(ProtFlags::WRITE, 'w'),
                bit(ProtFlags::EXEC, 'x'),
                if vma.shared { 's' } else { 'p' },
            );
            if vma.name.is_empty() {
                out.push_str(&line);
            } else {
                out.push_str(&format!("{line:<73}{}", vma.name));
            }
            out.push('\n');
        }
        out
    }

    fn resident(&self) -> usize {
        let mm = lock(&self.mm).clone();
        lock(&mm).resident()
    }

    fn threads(&self) -> usize {
        self.threads
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(1)
    }
}

/// The directory /proc/<pid>. Its nodes hold the process weakly: a cached /proc entry must
/// not keep a dead process's descriptors (and pipes) open.
pub fn dir(view: Arc<dyn ProcessView>) -> SynthNode {
    let weak = Arc::downgrade(&view);
    let alive = move || weak.upgrade().ok_or(Errno::ESRCH);
    let v = |f: fn(&dyn ProcessView) -> Vec<u8>| {
        let alive = alive.clone();
        move || Ok(f(&*alive()?))
    };
    let status = {
        let alive = alive.clone();
        move || {
            let view = alive()?;
            let comm = String::from_utf8_lossy(&view.comm()).into_owned();
            let (c, umask) = view.creds();
            // Each group followed by a space, as Linux prints them.
            let groups: String = c.groups.iter().map(|g| format!("{g} ")).collect();
            Ok(format!(
                "Name:\t{comm}\nUmask:\t{umask:04o}\nState:\tR (running)\nTgid:\t{pid}\n\
                 Pid:\t{pid}\nPPid:\t{ppid}\nUid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\n\
                 Groups:\t{}\nVmRSS:\t{rss} kB\nThreads:\t{threads}\nCapPrm:\t{:016x}\n\
                 CapEff:\t{:016x}\n",
                c.ruid,
                c.uid,
                c.suid,
                c.uid,
                c.rgid,
                c.gid,
                c.sgid,
                c.gid,
                groups,
                c.permitted,
                c.caps,
                pid = view.pid(),
                ppid = view.ppid(),
                rss = view.resident() * 4,
                threads = view.threads(),
            )
            .into_bytes())
        }
    };
    let stat = {
        let alive = alive.clone();
        move || {
            let view = alive()?;
            let comm = String::from_utf8_lossy(&view.comm()).into_owned();
            // pid (comm) state ppid pgrp session tty tpgid flags, then counters and times
            // (zero: not accounted), threads at field 20, rss at field 24.
            let mut fields = vec![
                view.pid().to_string(),
                format!("({comm})"),
                "R".into(),
                view.ppid().to_string(),
                "1".into(),
                "1".into(),
                "0".into(),
                "-1".into(),
                "0".into(),
            ];
            fields.extend((10..=52).map(|i| match i {
                20 => view.threads().to_string(),
                24 => view.resident().to_string(),
                _ => "0".into(),
            }));
            Ok(format!("{}\n", fields.join(" ")).into_bytes())
        }
    };
    let maps = {
        let alive = alive.clone();
        move || Ok(alive()?.maps().into_bytes())
    };
    StaticDir::new()
        .with("exe", FnLink::node(v(|p| p.exe())))
        .with("cwd", FnLink::node(v(|p| p.cwd())))
        .with("root", FnLink::node(|| Ok(b"/".to_vec())))
        .with("cmdline", FnFile::node(v(|p| p.cmdline())))
        .with(
            "comm",
            FnFile::node(v(|p| {
                let mut c = p.comm();
                c.push(b'\n');
                c
            })),
        )
        .with("status", FnFile::node(status))
        .with("stat", FnFile::node(stat))
        .with("maps", FnFile::node(maps))
        .with("fd", SynthNode::Dir(Arc::new(FdDir(Arc::downgrade(&view)))))
        .into_node()
}

/// /proc/<pid>/fd: one link per descriptor.
struct FdDir(std::sync::Weak<dyn ProcessView>);

impl SynthDir for FdDir {
    fn entries(&self) -> Result<Vec<(Vec<u8>, SynthNode)>, Errno> {
        Ok(self
            .0
            .upgrade()
            .ok_or(Errno::ESRCH)?
            .fds()
            .into_iter()
            .map(|(fd, target)| {
                (
                    fd.to_string().into_bytes(),
                    FnLink::node(move || Ok(target.clone())),
                )
            })
            .collect())
    }

    fn mode(&self) -> u32 {
        0o500
    }
}
