//! The virtual file system: mounts, dentries, file descriptions and descriptor tables.
