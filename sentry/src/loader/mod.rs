//! The ELF loader: turns an executable into mappings, an entry point and the initial stack.
