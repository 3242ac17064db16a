//! System calls: one table per architecture maps numbers to handlers; handlers are grouped
//! by family and return `Result<u64, Errno>`.

mod exec;
mod file;
mod fs;
mod futex;
mod ids;
mod info;
mod misc;
mod mm;
mod poll;
mod process;
mod signal;
mod stat;
mod table;
mod time;

use abi::Errno;

use crate::platform::Platform;
use crate::task::Task;

/// A handler: the task and the six raw arguments.
pub type Handler<P> = fn(&mut Task<P>, [u64; 6]) -> Result<u64, Errno>;

/// Handle the syscall the task trapped for and put the result in its return register.
pub fn dispatch<P: Platform>(task: &mut Task<P>) {
    let nr = task.regs.syscall_nr();
    let args = task.regs.syscall_args();
    let nr32 = u32::try_from(nr).unwrap_or(u32::MAX);
    task.kernel.stats.count_syscall(nr32);
    let result = match table::handler::<P>(nr32) {
        Some(handler) => handler(task, args),
        None => {
            if task.kernel.stats.count_enosys(nr32) {
                let name = table::name(nr32).unwrap_or("unknown");
                tracing::warn!("unsupported syscall {name} ({nr}): ENOSYS");
            }
            Err(Errno::ENOSYS)
        }
    };
    let value = result.unwrap_or_else(|e| e.as_syscall_return());
    task.regs.set_return(value);
    // rt_sigreturn's "return value" is the interrupted code's register, never a restart.
    if !table::is_sigreturn(nr32) {
        task.syscall = Some((nr, args[0]));
    }
}

pub use futex::futex_key;
pub use table::name;

/// Arguments as the C types the handlers want.
fn int(a: u64) -> i32 {
    a as i32
}
