//! Pages of the memory file: which are free, and how many mappings share each one (so
//! copy-on-write knows when a page has become private).

use std::sync::Mutex;

use abi::Errno;

use crate::platform::MemoryFile;

pub const PAGE: u64 = 4096;

/// Allocator of memory-file pages, shared by every address space of a sandbox.
pub struct Frames {
    inner: Mutex<Inner>,
    size: u64,
}

struct Inner {
    /// Pages below this offset have been handed out at least once.
    next: u64,
    /// Freed pages, to be zeroed when reused.
    free: Vec<u64>,
    /// Reference count per page index.
    refs: Vec<u32>,
}

impl Frames {
    pub fn new(memory: &MemoryFile) -> Frames {
        Frames {
            inner: Mutex::new(Inner {
                next: 0,
                free: Vec::new(),
                refs: Vec::new(),
            }),
            size: memory.size(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A zero-filled page with one reference; ENOMEM when the memory file is full.
    pub fn alloc(&self, memory: &MemoryFile) -> Result<u64, Errno> {
        let mut inner = self.lock();
        let (offset, reused) = match inner.free.pop() {
            Some(offset) => (offset, true),
            None if inner.next + PAGE <= self.size => {
                let offset = inner.next;
                inner.next += PAGE;
                (offset, false)
            }
            None => return Err(Errno::ENOMEM),
        };
        let index = (offset / PAGE) as usize;
        if inner.refs.len() <= index {
            inner.refs.resize(index + 1, 0);
        }
        inner.refs[index] = 1;
        drop(inner);
        // Never-used pages of the memfd read as zero already.
        if reused {
            memory
                .write(offset, &[0u8; PAGE as usize])
                .map_err(|_| Errno::EFAULT)?;
        }
        Ok(offset)
    }

    /// One more mapping shares `offset`.
    pub fn retain(&self, offset: u64) {
        let mut inner = self.lock();
        inner.refs[(offset / PAGE) as usize] += 1;
    }

    /// One mapping fewer; the page is freed with the last.
    pub fn release(&self, offset: u64) {
        let mut inner = self.lock();
        let refs = &mut inner.refs[(offset / PAGE) as usize];
        *refs -= 1;
        if *refs == 0 {
            inner.free.push(offset);
        }
    }

    /// How many mappings share `offset`.
    pub fn refs(&self, offset: u64) -> u32 {
        self.lock().refs[(offset / PAGE) as usize]
    }

    /// Pages in use.
    pub fn in_use(&self) -> u64 {
        let inner = self.lock();
        inner.next / PAGE - inner.free.len() as u64
    }
}
