//! A grouped bar chart with a logarithmic time axis, written as SVG by hand.

use std::fmt::Write;

use crate::report::format_ns;

/// One bar per group: a platform's ns/op for each mode (`None`: nothing measured).
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub values: Vec<Option<f64>>,
}

/// Colours that stay apart in print and for common colour blindness.
pub const PALETTE: [&str; 4] = ["#4477aa", "#ee6677", "#228833", "#ccbb44"];

const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
/// Above the plot: title, subtitle lines, legend.
const HEADER: f64 = 56.0;
const LINE: f64 = 16.0;
const PLOT_H: f64 = 360.0;
const BOTTOM: f64 = 120.0;
const BAR_W: f64 = 14.0;
const GROUP_GAP: f64 = 18.0;

/// Bars of `series` in groups named by `groups`, on a log10 axis of nanoseconds; `notes`
/// go under the title, a line each.
pub fn log_bar_chart(
    title: &str,
    notes: &[String],
    groups: &[String],
    series: &[Series],
) -> String {
    let top = HEADER + LINE * notes.len() as f64;
    let group_w = BAR_W * series.len().max(1) as f64 + GROUP_GAP;
    let width = LEFT + RIGHT + group_w * groups.len().max(1) as f64;
    let height = top + PLOT_H + BOTTOM;
    let values = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .copied()
        .filter(|v| *v > 0.0);
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo_dec, hi_dec) = if hi > 0.0 {
        (
            lo.log10().floor() as i32,
            (hi.log10().ceil() as i32).max(lo.log10().floor() as i32 + 1),
        )
    } else {
        (0, 3)
    };
    let y = |ns: f64| {
        let frac = (ns.log10() - f64::from(lo_dec)) / f64::from(hi_dec - lo_dec);
        top + PLOT_H * (1.0 - frac.clamp(0.0, 1.0))
    };

    let mut svg = String::new();
    let mut w = |s: String| svg.push_str(&s);
    w(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    ));
    w(format!(
        "<text x=\"{LEFT}\" y=\"22\" font-size=\"16\" font-weight=\"bold\">{}</text>\n",
        xml(title)
    ));
    for (i, note) in notes.iter().enumerate() {
        w(format!(
            "<text x=\"{LEFT}\" y=\"{:.0}\" fill=\"#555\">{}</text>\n",
            40.0 + LINE * i as f64,
            xml(note)
        ));
    }
    // Decades: grid lines and labels.
    for d in lo_dec..=hi_dec {
        let ns = 10f64.powi(d);
        let yy = y(ns);
        w(format!(
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            width - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            decade_label(d)
        ));
    }
    w(format!(
        "<text transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\">\
         time per operation (log scale)</text>\n",
        top + PLOT_H / 2.0
    ));
    // Bars.
    let base = top + PLOT_H;
    for (g, name) in groups.iter().enumerate() {
        let x0 = LEFT + GROUP_GAP / 2.0 + group_w * g as f64;
        for (i, s) in series.iter().enumerate() {
            let x = x0 + BAR_W * i as f64;
            match s.values.get(g).copied().flatten().filter(|v| *v > 0.0) {
                Some(v) => {
                    let bar_top = y(v);
                    w(format!(
                        "<rect x=\"{x:.1}\" y=\"{bar_top:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
                         fill=\"{}\"><title>{} {}: {}</title></rect>\n",
                        BAR_W - 1.0,
                        (base - bar_top).max(0.5),
                        s.color,
                        xml(name),
                        xml(&s.name),
                        format_ns(v)
                    ));
                }
                None => w(format!(
                    "<text transform=\"translate({:.1} {:.1}) rotate(-90)\" font-size=\"9\" \
                     fill=\"{}\">n/a<title>{} {}: not measured</title></text>\n",
                    x + BAR_W / 2.0 + 3.0,
                    base - 3.0,
                    s.color,
                    xml(name),
                    xml(&s.name)
                )),
            }
        }
        let cx = x0 + BAR_W * series.len() as f64 / 2.0;
        w(format!(
            "<text transform=\"translate({cx:.1} {:.1}) rotate(-40)\" text-anchor=\"end\">{}</text>\n",
            base + 14.0,
            xml(name)
        ));
    }
    w(format!(
        "<line x1=\"{LEFT}\" y1=\"{base:.1}\" x2=\"{:.1}\" y2=\"{base:.1}\" stroke=\"#333\"/>\n\
         <line x1=\"{LEFT}\" y1=\"{top}\" x2=\"{LEFT}\" y2=\"{base:.1}\" stroke=\"#333\"/>\n",
        width - RIGHT
    ));
    // Legend, top right.
    let mut lx = width - RIGHT - 110.0 * series.len() as f64;
    for s in series {
        w(format!(
            "<rect x=\"{lx:.1}\" y=\"{:.0}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.0}\">{}</text>\n",
            top - 24.0,
            s.color,
            lx + 16.0,
            top - 14.0,
            xml(&s.name)
        ));
        lx += 110.0;
    }
    svg.push_str("</svg>\n");
    svg
}

fn decade_label(d: i32) -> String {
    let ns = 10f64.powi(d);
    let (v, unit) = match d {
        ..=2 => (ns, "ns"),
        3..=5 => (ns / 1e3, "µs"),
        6..=8 => (ns / 1e6, "ms"),
        _ => (ns / 1e9, "s"),
    };
    let mut s = String::new();
    write!(s, "{v} {unit}").expect("String");
    s
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_bars_gaps_axis_and_legend() {
        let groups = vec!["getpid".to_string(), "a<b".to_string()];
        let series = vec![
            Series {
                name: "native".into(),
                color: PALETTE[0],
                values: vec![Some(100.0), Some(5_000.0)],
            },
            Series {
                name: "kvm".into(),
                color: PALETTE[1],
                values: vec![Some(28_000.0), None],
            },
        ];
        let svg = log_bar_chart("title & more", &["sub".into()], &groups, &series);
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.ends_with("</svg>\n"));
        assert_eq!(
            svg.matches("<rect x=").count(),
            3 + 2,
            "3 bars + 2 legend keys"
        );
        assert!(svg.contains("n/a<title>a&lt;b kvm: not measured</title>"));
        assert!(svg.contains("title &amp; more"));
        for label in [">100 ns<", ">1 µs<", ">10 µs<", ">100 µs<"] {
            assert!(svg.contains(label), "{label} in {svg}");
        }
        // Taller bars for slower operations.
        let height = |name: &str| -> f64 {
            let at = svg.find(&format!("<title>{name}")).expect(name);
            let rect = &svg[svg[..at].rfind("<rect").expect("rect")..at];
            let h = rect.split("height=\"").nth(1).expect("height");
            h[..h.find('"').expect("quote")].parse().expect("number")
        };
        assert!(height("getpid kvm") > height("a&lt;b native"));
        assert!(height("a&lt;b native") > height("getpid native"));
    }

    #[test]
    fn empty_chart_is_still_valid() {
        let svg = log_bar_chart("t", &[], &[], &[]);
        assert!(svg.contains("</svg>"));
    }
}
