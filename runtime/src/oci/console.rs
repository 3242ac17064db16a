//! Terminals for `process.terminal` (`--console-socket`): a new pseudo-terminal whose master
//! goes to the engine over its console socket (as runc sends it, with `SCM_RIGHTS`) and whose
//! slave becomes the container's controlling terminal and standard streams.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};

use super::state::Result;

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Opens a pseudo-terminal, `rows` × `cols` if given.
pub fn open(size: Option<(u16, u16)>) -> Result<Pty> {
    let (mut master, mut slave) = (-1, -1);
    let mut winsize = libc::winsize {
        ws_row: size.map_or(0, |s| s.0),
        ws_col: size.map_or(0, |s| s.1),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let ws: *mut libc::winsize = if size.is_some() {
        &mut winsize
    } else {
        std::ptr::null_mut()
    };
    // SAFETY: the out-pointers are valid for the call; a null name and termios are allowed,
    // and `ws` is null or points to `winsize`, live for the call.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            ws,
        )
    };
    if r != 0 {
        return Err(format!("openpty: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: openpty returned two new descriptors that nothing else owns.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [&master, &slave] {
        // SAFETY: setting FD_CLOEXEC on a descriptor we own.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(Pty { master, slave })
}

/// Sends `master` over the console socket at `path`.
pub fn send_master(path: &Path, master: &OwnedFd) -> Result<()> {
    let sock = UnixStream::connect(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let fds = [master.as_raw_fd()];
    let name = b"/dev/ptmx";
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(name)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}

/// In a new session's leader: makes `slave` the controlling terminal and the standard
/// input, output and error.
pub fn attach(slave: &OwnedFd) -> std::io::Result<()> {
    let fd = slave.as_raw_fd();
    // SAFETY: TIOCSCTTY takes an integer argument; `fd` is an open terminal.
    if unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    for target in 0..3 {
        // SAFETY: dup2 onto the standard descriptors, which this process owns.
        if unsafe { libc::dup2(fd, target) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
