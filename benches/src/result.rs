//! What `tests/fixtures/bench.c` and `ringfence do --stats` print, parsed; and medians.

/// The line a successful bench mode prints: `mode=<name> iters=<n> ns_per_op=<float>`.
#[derive(Clone, Debug, PartialEq)]
pub struct ModeLine {
    pub mode: String,
    pub iters: u64,
    pub ns_per_op: f64,
}

impl ModeLine {
    /// Parse one line; `None` unless it has exactly the three fields, in order, well formed.
    pub fn parse(line: &str) -> Option<ModeLine> {
        let mut fields = line.trim_end().split(' ');
        let mode = fields.next()?.strip_prefix("mode=")?;
        let iters = fields.next()?.strip_prefix("iters=")?.parse().ok()?;
        let ns_per_op: f64 = fields.next()?.strip_prefix("ns_per_op=")?.parse().ok()?;
        let valid = fields.next().is_none()
            && !mode.is_empty()
            && iters > 0
            && ns_per_op.is_finite()
            && ns_per_op >= 0.0;
        valid.then(|| ModeLine {
            mode: mode.to_string(),
            iters,
            ns_per_op,
        })
    }

    /// The result line in a program's whole stdout (which should hold nothing else).
    pub fn find(stdout: &str) -> Option<ModeLine> {
        let mut lines = stdout.lines().filter(|l| !l.trim().is_empty());
        let line = ModeLine::parse(lines.next()?)?;
        lines.next().is_none().then_some(line)
    }
}

/// A counter from the `ringfence-stats:` line `ringfence do --stats` prints on stderr, e.g.
/// `stat_counter(stderr, "vm_exits")`.
pub fn stat_counter(stderr: &str, key: &str) -> Option<u64> {
    let line = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("ringfence-stats:"))?;
    line.split_whitespace().find_map(|field| {
        let (k, v) = field.split_once('=')?;
        (k == key).then(|| v.parse().ok()).flatten()
    })
}

/// The most useful line of a failed run's stderr: the bench program's own message if there
/// is one, else the first line that is not the stats line, without a log timestamp.
pub fn failure_line(stderr: &str) -> String {
    let lines = || {
        stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("ringfence-stats:"))
    };
    let line = lines()
        .find(|l| l.starts_with("bench:"))
        .or_else(|| lines().next())
        .unwrap_or("no message on stderr");
    strip_log_timestamp(line).to_string()
}

/// `2026-01-01T00:00:00.000000Z  WARN target: message` → `WARN target: message`.
fn strip_log_timestamp(line: &str) -> &str {
    let mut parts = line.splitn(2, ' ');
    match (parts.next(), parts.next()) {
        (Some(first), Some(rest))
            if first.len() >= 20
                && first.ends_with('Z')
                && first.as_bytes()[..4].iter().all(u8::is_ascii_digit) =>
        {
            rest.trim_start()
        }
        _ => line,
    }
}

/// The median (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mode_lines() {
        assert_eq!(
            ModeLine::parse("mode=getpid iters=1000 ns_per_op=96.71\n"),
            Some(ModeLine {
                mode: "getpid".into(),
                iters: 1000,
                ns_per_op: 96.71
            })
        );
        for bad in [
            "",
            "mode= iters=1 ns_per_op=1",
            "mode=x iters=0 ns_per_op=1",
            "mode=x iters=1 ns_per_op=nan",
            "mode=x iters=1 ns_per_op=-1",
            "mode=x iters=1",
            "mode=x iters=1 ns_per_op=1 extra=2",
            "iters=1 mode=x ns_per_op=1",
        ] {
            assert_eq!(ModeLine::parse(bad), None, "{bad:?}");
        }
        assert!(ModeLine::find("\nmode=a iters=2 ns_per_op=3.5\n").is_some());
        assert!(ModeLine::find("mode=a iters=2 ns_per_op=3.5\nmore\n").is_none());
    }

    #[test]
    fn reads_stats_counters() {
        let stderr = "WARN x\nringfence-stats: syscalls=14 page_faults=52 enosys=1 \
                      vm_exits=66 hlt=52 top=brk:5,mprotect:1\n";
        assert_eq!(stat_counter(stderr, "vm_exits"), Some(66));
        assert_eq!(stat_counter(stderr, "syscalls"), Some(14));
        assert_eq!(stat_counter(stderr, "nope"), None);
        assert_eq!(stat_counter("no stats", "vm_exits"), None);
    }

    #[test]
    fn picks_the_telling_failure_line() {
        let stderr = "2026-11-29T07:16:01.039673Z  WARN sentry::syscalls: unsupported \
                      syscall openat (257): ENOSYS\nbench: read_dev_zero: open /dev/zero: \
                      Function not implemented\nringfence-stats: vm_exits=1\n";
        assert_eq!(
            failure_line(stderr),
            "bench: read_dev_zero: open /dev/zero: Function not implemented"
        );
        assert_eq!(
            failure_line("2026-11-29T07:16:01.039673Z  WARN a: b\n"),
            "WARN a: b"
        );
        assert_eq!(
            failure_line("ringfence: the ptrace platform is not available yet\n"),
            "ringfence: the ptrace platform is not available yet"
        );
        assert_eq!(failure_line(""), "no message on stderr");
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }
}
