//! Tables of per-platform results, as Markdown (also what the console shows) and CSV.

use std::fmt::Write;

/// One platform's result for one mode, summarised over the repetitions.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// The median of the runs that succeeded; `failed` of `runs` did not.
    Measured { ns: f64, runs: usize, failed: usize },
    /// Every run failed; why (e.g. `exit 1: bench: stat: …`).
    Unsupported(String),
    /// The platform was not run at all (unavailable on this host).
    Skipped,
}

impl Cell {
    pub fn ns(&self) -> Option<f64> {
        match self {
            Cell::Measured { ns, .. } => Some(*ns),
            _ => None,
        }
    }

    fn status(&self) -> String {
        match self {
            Cell::Measured { failed: 0, .. } => "ok".into(),
            Cell::Measured { runs, failed, .. } => format!("ok ({failed} of {runs} runs failed)"),
            Cell::Unsupported(why) => format!("unsupported ({why})"),
            Cell::Skipped => "skipped".into(),
        }
    }
}

/// One benchmark mode across platforms.
#[derive(Clone, Debug)]
pub struct Row {
    pub mode: String,
    /// What one operation is: `op`, `page`, `round trip`.
    pub per: &'static str,
    /// One per platform of the table, the native one first.
    pub cells: Vec<Cell>,
    /// VM exits per operation on the platform that has them (start-up exits subtracted).
    pub exits_per_op: Option<f64>,
}

/// Results of all modes; `platforms[0]` is the native baseline the ratios refer to.
#[derive(Clone, Debug)]
pub struct Table {
    pub platforms: Vec<String>,
    pub rows: Vec<Row>,
    /// The platform whose VM exits are reported (`kvm`).
    pub exits_platform: String,
}

impl Table {
    /// A Markdown table, padded so it also reads well on a terminal.
    pub fn markdown(&self) -> String {
        let mut header = vec!["mode".to_string()];
        for (i, p) in self.platforms.iter().enumerate() {
            header.push(if i == 0 {
                format!("{p} time/op")
            } else {
                format!("{p} time/op (× {})", self.platforms[0])
            });
        }
        header.push(format!("{} VM exits/op", self.exits_platform));
        let mut body = Vec::new();
        for row in &self.rows {
            let native = row.cells.first().and_then(Cell::ns);
            let mut line = vec![if row.per == "op" {
                row.mode.clone()
            } else {
                format!("{} (per {})", row.mode, row.per)
            }];
            for (i, cell) in row.cells.iter().enumerate() {
                line.push(match cell {
                    Cell::Measured { ns, runs, failed } => {
                        let mut s = format_ns(*ns);
                        if i > 0 {
                            match native {
                                Some(n) if n > 0.0 => write!(s, " ({})", format_ratio(ns / n)),
                                _ => write!(s, " (—)"),
                            }
                            .expect("writing to a String");
                        }
                        if *failed > 0 {
                            write!(s, " [{failed} of {runs} runs failed]").expect("String");
                        }
                        s
                    }
                    Cell::Unsupported(why) => format!("unsupported ({})", why.replace('|', "/")),
                    Cell::Skipped => "skipped".into(),
                });
            }
            line.push(row.exits_per_op.map_or("—".into(), |e| format!("{e:.2}")));
            body.push(line);
        }
        render_markdown(&header, &body, 1)
    }

    /// CSV: per platform the median ns, the ratio to native and a status.
    pub fn csv(&self) -> String {
        let mut out = String::from("mode,per");
        for p in &self.platforms {
            write!(out, ",{p}_ns_per_op,{p}_ratio,{p}_status").expect("String");
        }
        writeln!(out, ",{}_vm_exits_per_op", self.exits_platform).expect("String");
        for row in &self.rows {
            let native = row.cells.first().and_then(Cell::ns);
            write!(out, "{},{}", csv_field(&row.mode), csv_field(row.per)).expect("String");
            for cell in &row.cells {
                let ns = cell.ns();
                let ratio = ns.zip(native).filter(|(_, n)| *n > 0.0).map(|(v, n)| v / n);
                write!(
                    out,
                    ",{},{},{}",
                    ns.map_or(String::new(), |v| format!("{v:.1}")),
                    ratio.map_or(String::new(), |r| format!("{r:.3}")),
                    csv_field(&cell.status())
                )
                .expect("String");
            }
            writeln!(
                out,
                ",{}",
                row.exits_per_op
                    .map_or(String::new(), |e| format!("{e:.3}"))
            )
            .expect("String");
        }
        out
    }
}

/// Whole-sandbox cost of one platform: running a program that exits at once.
#[derive(Clone, Debug)]
pub struct StartupRow {
    pub platform: String,
    /// Median start-to-exit wall time, or what to show instead (`skipped`, `unsupported (…)`).
    pub wall_ns: Result<f64, String>,
    pub peak_rss_kib: Option<f64>,
    pub vm_exits: Option<f64>,
}

/// The start-up table; the first row is the native baseline.
pub fn startup_markdown(rows: &[StartupRow]) -> String {
    let header = [
        "platform",
        "start-to-exit",
        "× native",
        "peak RSS",
        "VM exits",
    ]
    .map(String::from);
    let native = rows.first().and_then(|r| r.wall_ns.as_ref().ok().copied());
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let (wall, ratio) = match (&r.wall_ns, native) {
                (Ok(ns), Some(n)) if n > 0.0 => (format_ns(*ns), format_ratio(ns / n)),
                (Ok(ns), _) => (format_ns(*ns), "—".into()),
                (Err(why), _) => (why.clone(), "—".into()),
            };
            vec![
                r.platform.clone(),
                wall,
                ratio,
                r.peak_rss_kib
                    .map_or("—".into(), |k| format!("{:.1} MiB", k / 1024.0)),
                r.vm_exits.map_or("—".into(), |e| format!("{e:.0}")),
            ]
        })
        .collect();
    render_markdown(&header, &body, 1)
}

pub fn startup_csv(rows: &[StartupRow]) -> String {
    let mut out = String::from("platform,wall_ns,status,peak_rss_kib,vm_exits\n");
    for r in rows {
        let (wall, status) = match &r.wall_ns {
            Ok(ns) => (format!("{ns:.0}"), "ok".to_string()),
            Err(why) => (String::new(), why.clone()),
        };
        writeln!(
            out,
            "{},{wall},{},{},{}",
            csv_field(&r.platform),
            csv_field(&status),
            r.peak_rss_kib.map_or(String::new(), |k| format!("{k:.0}")),
            r.vm_exits.map_or(String::new(), |e| format!("{e:.0}")),
        )
        .expect("String");
    }
    out
}

/// A duration in ns with three significant digits and a fitting unit.
pub fn format_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let decimals = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    format!("{v:.decimals$} {unit}")
}

pub fn format_ratio(r: f64) -> String {
    if r < 10.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.0}×")
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Columns from `first_numeric` on are right-aligned.
fn render_markdown(header: &[String], body: &[Vec<String>], first_numeric: usize) -> String {
    let width = |i: usize| {
        body.iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].chars().count(), 3])
            .max()
            .unwrap_or(3)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: &[String]| {
        let mut s = String::from("|");
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if i >= first_numeric {
                write!(s, " {}{c} |", " ".repeat(pad)).expect("String");
            } else {
                write!(s, " {c}{} |", " ".repeat(pad)).expect("String");
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(header);
    out.push('|');
    for (i, w) in widths.iter().enumerate() {
        if i >= first_numeric {
            write!(out, " {}: |", "-".repeat(w - 1)).expect("String");
        } else {
            write!(out, " {} |", "-".repeat(*w)).expect("String");
        }
    }
    out.push('\n');
    for row in body {
        out += &line(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            platforms: vec!["native".into(), "kvm".into(), "ptrace".into()],
            exits_platform: "kvm".into(),
            rows: vec![
                Row {
                    mode: "getpid".into(),
                    per: "op",
                    cells: vec![
                        Cell::Measured {
                            ns: 100.0,
                            runs: 5,
                            failed: 0,
                        },
                        Cell::Measured {
                            ns: 28_000.0,
                            runs: 5,
                            failed: 1,
                        },
                        Cell::Skipped,
                    ],
                    exits_per_op: Some(1.0),
                },
                Row {
                    mode: "stat".into(),
                    per: "op",
                    cells: vec![
                        Cell::Measured {
                            ns: 700.0,
                            runs: 5,
                            failed: 0,
                        },
                        Cell::Unsupported("exit 1: bench: stat: a, \"b\" | c".into()),
                        Cell::Skipped,
                    ],
                    exits_per_op: None,
                },
            ],
        }
    }

    #[test]
    fn formats_durations_and_ratios() {
        assert_eq!(format_ns(96.71), "96.7 ns");
        assert_eq!(format_ns(28_940.0), "28.9 µs");
        assert_eq!(format_ns(440_296.0), "440 µs");
        assert_eq!(format_ns(68_386_791.0), "68.4 ms");
        assert_eq!(format_ns(2.5e9), "2.50 s");
        assert_eq!(format_ratio(1.23), "1.2×");
        assert_eq!(format_ratio(280.4), "280×");
    }

    #[test]
    fn markdown_has_one_line_per_mode_and_aligned_columns() {
        let md = table().markdown();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines.len(), 4, "{md}");
        assert!(lines[0].starts_with("| mode "), "{md}");
        assert!(lines[1].contains("---:"), "{md}");
        assert!(
            lines[2].contains("28.0 µs (280×) [1 of 5 runs failed]"),
            "{md}"
        );
        assert!(lines[3].contains("unsupported (exit 1: bench: stat: a, \"b\" / c)"));
        let len = lines[0].chars().count();
        assert!(lines.iter().all(|l| l.chars().count() == len), "{md}");
    }

    #[test]
    fn csv_quotes_and_leaves_blanks() {
        let csv = table().csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "mode,per,native_ns_per_op,native_ratio,native_status,kvm_ns_per_op,kvm_ratio,\
             kvm_status,ptrace_ns_per_op,ptrace_ratio,ptrace_status,kvm_vm_exits_per_op"
        );
        assert_eq!(
            lines[1],
            "getpid,op,100.0,1.000,ok,28000.0,280.000,ok (1 of 5 runs failed),,,skipped,1.000"
        );
        assert_eq!(
            lines[2],
            "stat,op,700.0,1.000,ok,,,\"unsupported (exit 1: bench: stat: a, \"\"b\"\" | c)\",,,\
             skipped,"
        );
    }

    #[test]
    fn startup_table() {
        let rows = [
            StartupRow {
                platform: "native".into(),
                wall_ns: Ok(500_000.0),
                peak_rss_kib: Some(1024.0),
                vm_exits: None,
            },
            StartupRow {
                platform: "kvm".into(),
                wall_ns: Ok(10_000_000.0),
                peak_rss_kib: Some(40960.0),
                vm_exits: Some(66.0),
            },
            StartupRow {
                platform: "ptrace".into(),
                wall_ns: Err("unsupported (exit 125: not yet)".into()),
                peak_rss_kib: None,
                vm_exits: None,
            },
        ];
        let md = startup_markdown(&rows);
        let kvm: Vec<&str> = md
            .lines()
            .find(|l| l.starts_with("| kvm "))
            .expect("a kvm row")
            .split('|')
            .map(str::trim)
            .collect();
        assert_eq!(
            kvm,
            ["", "kvm", "10.0 ms", "20×", "40.0 MiB", "66", ""],
            "{md}"
        );
        assert!(md.contains("unsupported (exit 125: not yet)"), "{md}");
        let csv = startup_csv(&rows);
        assert!(csv.contains("\nkvm,10000000,ok,40960,66\n"), "{csv}");
    }
}
