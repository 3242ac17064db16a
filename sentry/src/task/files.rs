//! The descriptor table of a task. For now it holds only the caller's standard streams,
//! passed through to the host; the VFS's table replaces it.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};

use abi::Errno;

/// An open file of the sandbox.
pub trait File: Send + Sync {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno>;
    fn write(&self, data: &[u8]) -> Result<usize, Errno>;
}

/// One of the caller's standard streams (a duplicate of the host descriptor).
pub struct HostStdio {
    file: Mutex<std::fs::File>,
}

impl HostStdio {
    pub fn from_fd(fd: impl AsFd) -> std::io::Result<HostStdio> {
        let owned: OwnedFd = fd.as_fd().try_clone_to_owned()?;
        Ok(HostStdio {
            file: Mutex::new(std::fs::File::from(owned)),
        })
    }
}

fn host_errno(e: std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::new)
}

impl File for HostStdio {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        f.read(buf).map_err(host_errno)
    }

    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        f.write(data).map_err(host_errno)
    }
}

#[derive(Clone, Default)]
pub struct Files {
    fds: Vec<Option<Arc<dyn File>>>,
}

impl Files {
    /// The caller's stdin, stdout and stderr as descriptors 0, 1, 2.
    pub fn stdio() -> std::io::Result<Files> {
        let files: [Arc<dyn File>; 3] = [
            Arc::new(HostStdio::from_fd(std::io::stdin())?),
            Arc::new(HostStdio::from_fd(std::io::stdout())?),
            Arc::new(HostStdio::from_fd(std::io::stderr())?),
        ];
        Ok(Files {
            fds: files.into_iter().map(Some).collect(),
        })
    }

    pub fn get(&self, fd: i32) -> Result<Arc<dyn File>, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i).cloned().flatten())
            .ok_or(Errno::EBADF)
    }

    pub fn close(&mut self, fd: i32) -> Result<(), Errno> {
        let slot = usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get_mut(i))
            .ok_or(Errno::EBADF)?;
        slot.take().map(|_| ()).ok_or(Errno::EBADF)
    }
}
