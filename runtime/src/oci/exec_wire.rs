//! The exec socket between `ringfence exec` and a running container's sandbox process
//! (`exec.sock` in the container's state directory).
//!
//! Client to sandbox: the request (a length-prefixed JSON object) with the client's three
//! standard streams attached as `SCM_RIGHTS`, then any number of 4-byte signal numbers to
//! forward. Sandbox to client: `P` and the new process's pid (4 bytes), or `E`, a length and
//! an error message; after a `P`, `S`, a kind byte (0 exited, 1 killed by a signal) and the
//! code or signal (4 bytes) when the process ends. End of stream without `S` means the
//! sandbox itself ended, which kills every process in it.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use serde_json::Value;

/// The most a request may hold (arguments and environment included).
const MAX_REQUEST: usize = 1 << 20;

/// Sends `request` with `stdio` attached.
pub fn send_request(sock: &UnixStream, request: &Value, stdio: [RawFd; 3]) -> std::io::Result<()> {
    let body = request.to_string().into_bytes();
    let len = u32::try_from(body.len())
        .map_err(|_| std::io::Error::other("exec request too large"))?
        .to_le_bytes();
    // The descriptors ride on the length prefix; the body follows as plain data.
    let cmsg = [ControlMessage::ScmRights(&stdio)];
    let sent = sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(&len)],
        &cmsg,
        MsgFlags::empty(),
        None,
    )?;
    if sent != len.len() {
        return Err(std::io::Error::other("short write of the exec request"));
    }
    let mut w = sock;
    w.write_all(&body)
}

/// Receives a request and the three descriptors attached to it.
pub fn recv_request(sock: &UnixStream) -> std::io::Result<(Value, [OwnedFd; 3])> {
    let mut len = [0u8; 4];
    let mut space = nix::cmsg_space!([RawFd; 3]);
    let mut fds: Vec<OwnedFd> = Vec::new();
    let got = {
        let mut iov = [IoSliceMut::new(&mut len)];
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(raw) = c {
                // SAFETY: the kernel just installed these descriptors for us; nothing else
                // owns them.
                fds.extend(
                    raw.into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        msg.bytes
    };
    let mut r = sock;
    if got < len.len() {
        r.read_exact(&mut len[got..])?;
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_REQUEST {
        return Err(std::io::Error::other("exec request too large"));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    let request = serde_json::from_slice(&body).map_err(std::io::Error::other)?;
    let stdio: [OwnedFd; 3] = fds
        .try_into()
        .map_err(|_| std::io::Error::other("exec request without three standard streams"))?;
    Ok((request, stdio))
}

/// What the sandbox says about an exec.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Started(i32),
    Failed(String),
    Exited(i32),
    Killed(i32),
    /// The stream ended without an exit: the sandbox is gone.
    Gone,
}

pub fn write_reply(mut sock: &UnixStream, reply: &Reply) -> std::io::Result<()> {
    let mut out = Vec::new();
    match reply {
        Reply::Started(pid) => {
            out.push(b'P');
            out.extend_from_slice(&pid.to_le_bytes());
        }
        Reply::Failed(msg) => {
            out.push(b'E');
            let len = u32::try_from(msg.len()).unwrap_or(0);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&msg.as_bytes()[..len as usize]);
        }
        Reply::Exited(code) | Reply::Killed(code) => {
            out.push(b'S');
            out.push(u8::from(matches!(reply, Reply::Killed(_))));
            out.extend_from_slice(&code.to_le_bytes());
        }
        Reply::Gone => return Ok(()),
    }
    sock.write_all(&out)
}

pub fn read_reply(mut sock: &UnixStream) -> std::io::Result<Reply> {
    let mut tag = [0u8; 1];
    if sock.read(&mut tag)? == 0 {
        return Ok(Reply::Gone);
    }
    let mut word = [0u8; 4];
    match tag[0] {
        b'P' => {
            sock.read_exact(&mut word)?;
            Ok(Reply::Started(i32::from_le_bytes(word)))
        }
        b'E' => {
            sock.read_exact(&mut word)?;
            let mut msg = vec![0u8; u32::from_le_bytes(word).min(1 << 16) as usize];
            sock.read_exact(&mut msg)?;
            Ok(Reply::Failed(String::from_utf8_lossy(&msg).into_owned()))
        }
        b'S' => {
            let mut kind = [0u8; 1];
            sock.read_exact(&mut kind)?;
            sock.read_exact(&mut word)?;
            let v = i32::from_le_bytes(word);
            Ok(if kind[0] == 0 {
                Reply::Exited(v)
            } else {
                Reply::Killed(v)
            })
        }
        _ => Err(std::io::Error::other("unexpected reply on the exec socket")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_carries_its_streams_and_replies_round_trip() {
        let (a, b) = UnixStream::pair().expect("socket pair");
        let (r, w) = UnixStream::pair().expect("stream pair");
        let request = serde_json::json!({ "args": ["sh", "-c", "x".repeat(100_000)] });
        let fds = [r.as_raw_fd(), w.as_raw_fd(), w.as_raw_fd()];
        let sender = std::thread::spawn(move || send_request(&a, &request, fds).map(|()| a));
        let (got, stdio) = recv_request(&b).expect("request");
        let a = sender.join().expect("sender").expect("sent");
        assert_eq!(got["args"][2].as_str().map(str::len), Some(100_000));
        // The received descriptor is the same socket: data written through it arrives.
        let mut through = UnixStream::from(stdio[1].try_clone().expect("dup"));
        through.write_all(b"ping").expect("write");
        let mut buf = [0u8; 4];
        (&r).read_exact(&mut buf).expect("read");
        assert_eq!(&buf, b"ping");
        for reply in [
            Reply::Started(7),
            Reply::Failed("no such program".into()),
            Reply::Exited(3),
            Reply::Killed(15),
        ] {
            write_reply(&b, &reply).expect("reply");
            assert_eq!(read_reply(&a).expect("read reply"), reply);
        }
        drop(b);
        assert_eq!(read_reply(&a).expect("end"), Reply::Gone);
    }
}
