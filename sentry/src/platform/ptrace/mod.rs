//! The ptrace platform: application code runs in stub processes stopped with PTRACE_SYSEMU.
