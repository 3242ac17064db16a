//! Where the runtime's own messages go: stderr, or the `--log` file; and for a container's
//! sandbox process without `--log`, a file in the container's state directory, so the
//! sentry's warnings never mix with the container's own stderr.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::fmt::MakeWriter;

/// The file log lines go to; stderr while `None`.
static SINK: Mutex<Option<File>> = Mutex::new(None);

fn sink() -> std::sync::MutexGuard<'static, Option<File>> {
    SINK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Installs the global subscriber: `filter` as an `EnvFilter` directive; lines to `file` if
/// given and it can be opened for appending, else to stderr.
pub fn init(filter: &str, file: Option<&Path>) {
    let to_file = file.is_some_and(|p| redirect(p).is_ok());
    let ansi = !to_file && std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(ansi)
        .with_writer(Sink)
        .init();
}

/// Sends later log lines to `path` (appended), unless they already go to a file.
pub fn redirect_unless_file(path: &Path) {
    if sink().is_none() {
        let _ = redirect(path);
    }
}

fn redirect(path: &Path) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    *sink() = Some(file);
    Ok(())
}

/// The writer the subscriber asks for on each event.
struct Sink;

impl<'a> MakeWriter<'a> for Sink {
    type Writer = SinkWriter;

    fn make_writer(&'a self) -> SinkWriter {
        SinkWriter
    }
}

struct SinkWriter;

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match sink().as_mut() {
            Some(f) => f.write(buf),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match sink().as_mut() {
            Some(f) => f.flush(),
            None => std::io::stderr().flush(),
        }
    }
}
