//! Where the runtime's own messages go: stderr, or the `--log` file; and for a container's
//! sandbox process without `--log`, a file in the container's state directory, so the
//! sentry's warnings never mix with the container's own stderr.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// The file log lines go to; stderr while `None`.
static SINK: Mutex<Option<File>> = Mutex::new(None);

fn sink() -> std::sync::MutexGuard<'static, Option<File>> {
    SINK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Installs the global subscriber: `filter` as an `EnvFilter` directive; lines to `file` if
/// given and it can be opened for appending, else to stderr; as runc's JSON lines
/// (`{"level","msg","time"}`, which containerd's shim reads back for errors) if `json`.
/// Returns whether lines go to a file.
pub fn init(filter: &str, file: Option<&Path>, json: bool) -> bool {
    let to_file = file.is_some_and(|p| redirect(p).is_ok());
    let ansi = !to_file && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(ansi)
        .with_writer(Sink);
    if json {
        builder.event_format(RuncJson).init();
    } else {
        builder.init();
    }
    to_file
}

/// runc's `--log-format json`: one object per line with `level`, `msg` and `time`.
struct RuncJson;

impl<S, N> FormatEvent<S, N> for RuncJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut msg = Message(String::new());
        event.record(&mut msg);
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        let time = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
        let line = serde_json::json!({ "level": level, "msg": msg.0, "time": time });
        writeln!(writer, "{line}")
    }
}

/// An event's message, then its other fields as ` name=value`.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
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
