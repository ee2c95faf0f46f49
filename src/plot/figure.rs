//! Drawing a [`Figure`] with plotters, as SVG or PNG: a title line, the panels in a grid of
//! two columns (one when there is a single panel), each with axis labels, its lines, bands,
//! error bars and marks and a legend, and the caption line at the bottom.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (`assets/fonts/`, its license
//! beside it) through plotters' pure-Rust `ab_glyph` path: no system font library is needed
//! to build or to draw.

use std::path::Path;
use std::sync::Once;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::series::{Figure, Panel, Scale};
use crate::error::GradflowError;

/// DejaVu Sans (Bitstream Vera license, `assets/fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Width of a figure in pixels.
pub const WIDTH: u32 = 1400;
/// Height of one row of panels.
pub const ROW_HEIGHT: u32 = 420;
const TITLE_HEIGHT: u32 = 44;
const CAPTION_HEIGHT: u32 = 34;

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // the embedded font is a valid TrueType file: a failure here is a build defect
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// The pixel size of `fig`: [`WIDTH`] wide, one [`ROW_HEIGHT`] per row of two panels (a
/// single panel: 1000 × 600 and the title and caption lines).
pub fn size(fig: &Figure) -> (u32, u32) {
    if fig.panels.len() <= 1 {
        // one panel: a single plot of usual proportions
        return (1000, TITLE_HEIGHT + 600 + CAPTION_HEIGHT);
    }
    let rows = rows_of(fig) as u32;
    (WIDTH, TITLE_HEIGHT + rows * ROW_HEIGHT + CAPTION_HEIGHT)
}

fn columns_of(fig: &Figure) -> usize {
    if fig.panels.len() <= 1 {
        1
    } else {
        2
    }
}

fn rows_of(fig: &Figure) -> usize {
    fig.panels.len().div_ceil(columns_of(fig)).max(1)
}

/// Writes `fig` as an SVG file at `path`.
pub fn write_svg(fig: &Figure, path: &Path) -> Result<(), GradflowError> {
    register_font();
    let root = SVGBackend::new(path, size(fig)).into_drawing_area();
    draw(fig, &root).map_err(|e| GradflowError::write(path, e))?;
    root.present().map_err(|e| GradflowError::write(path, e))
}

/// Writes `fig` as a PNG file at `path`.
pub fn write_png(fig: &Figure, path: &Path) -> Result<(), GradflowError> {
    register_font();
    let root = BitMapBackend::new(path, size(fig)).into_drawing_area();
    draw(fig, &root).map_err(|e| GradflowError::write(path, e))?;
    root.present().map_err(|e| GradflowError::write(path, e))
}

/// Renders `fig` as SVG text (for tests and callers that keep it in memory).
pub fn svg_string(fig: &Figure) -> Result<String, GradflowError> {
    register_font();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size(fig)).into_drawing_area();
        draw(fig, &root).map_err(|e| GradflowError::Data(format!("drawing: {e}")))?;
        root.present()
            .map_err(|e| GradflowError::Data(format!("drawing: {e}")))?;
    }
    Ok(out)
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(fig: &Figure, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (_, h) = root.dim_in_pixel();
    let (top, rest) = root.split_vertically(TITLE_HEIGHT);
    let (body, bottom) = rest.split_vertically(h - TITLE_HEIGHT - CAPTION_HEIGHT);
    top.draw_text(
        &fig.title,
        &("sans-serif", 24).into_font().color(&BLACK),
        (16, 10),
    )?;
    bottom.draw_text(
        &fig.caption,
        &("sans-serif", 15).into_font().color(&RGBColor(80, 80, 80)),
        (16, 8),
    )?;
    let cols = columns_of(fig);
    let areas = body.split_evenly((rows_of(fig), cols));
    for (panel, area) in fig.panels.iter().zip(areas.iter()) {
        draw_panel(panel, area)?;
    }
    Ok(())
}

/// Most decades a log axis spans; smaller values are left below it.
pub const MAX_DECADES: f64 = 60.0;

/// The range of `values` on `scale`, padded (5 % linear, a tenth of the span log — at most
/// [`MAX_DECADES`] below the largest value; a log range holds a power of ten, where its
/// axis is labelled); a degenerate range is widened.
pub fn range(values: impl Iterator<Item = f64>, scale: Scale) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (scale == Scale::Linear || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return match scale {
            Scale::Linear => (0.0, 1.0),
            Scale::Log => (0.1, 10.0),
        };
    }
    match scale {
        Scale::Linear => {
            let span = if hi > lo {
                hi - lo
            } else {
                lo.abs().max(1e-300)
            };
            (lo - 0.05 * span, hi + 0.05 * span)
        }
        Scale::Log => {
            // at most MAX_DECADES below the largest value: a subnormal value would put the
            // padded lower end at 0 (log 0 = −∞, on which the axis' tick generator never
            // ends), and a figure spanning hundreds of decades shows nothing
            let h = hi.log10();
            let l = lo.log10().max(h - MAX_DECADES);
            let pad = if h > l { 0.1 * (h - l).max(0.5) } else { 0.5 };
            let (l, h) = (l - pad, h + pad);
            // a log axis is labelled at powers of ten: keep one inside the range
            let l = if l.floor() == h.floor() { l.floor() } else { l };
            (10f64.powf(l), 10f64.powf(h))
        }
    }
}

fn draw_panel<DB: DrawingBackend>(p: &Panel, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    let (x0, x1) = range(p.x_values(), p.x_scale);
    let (y0, y1) = range(p.y_values(), p.y_scale);
    let r = ((x0, x1), (y0, y1));
    match (p.x_scale, p.y_scale) {
        (Scale::Linear, Scale::Linear) => chart(p, area, x0..x1, y0..y1, r),
        (Scale::Linear, Scale::Log) => chart(p, area, x0..x1, (y0..y1).log_scale(), r),
        (Scale::Log, Scale::Linear) => chart(p, area, (x0..x1).log_scale(), y0..y1, r),
        (Scale::Log, Scale::Log) => chart(p, area, (x0..x1).log_scale(), (y0..y1).log_scale(), r),
    }
}

fn tick(v: &f64) -> String {
    let a = v.abs();
    if *v == 0.0 {
        "0".into()
    } else if (1e-3..1e4).contains(&a) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{v:.0e}")
    }
}

fn chart<DB, X, Y>(
    p: &Panel,
    area: &DrawingArea<DB, Shift>,
    xr: X,
    yr: Y,
    ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64)),
) -> DrawResult<DB>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut ch = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(78)
        .build_cartesian_2d(xr, yr)?;
    ch.configure_mesh()
        .x_desc(&p.x_label)
        .y_desc(&p.y_label)
        .x_labels(7)
        .y_labels(7)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    let xs = ch.x_range();
    let ys = ch.y_range();
    let mut ci = 0;
    for b in &p.bands {
        if b.points.is_empty() {
            continue;
        }
        let c = match b.group {
            Some(g) => PALETTE[g % PALETTE.len()],
            None => {
                ci += 1;
                PALETTE[(ci + 2) % PALETTE.len()]
            }
        };
        let mut poly: Vec<(f64, f64)> = b.points.iter().map(|q| (q.0, q.2.min(ys.end))).collect();
        poly.extend(b.points.iter().rev().map(|q| (q.0, q.1.max(ys.start))));
        let s = ch.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.18).filled())))?;
        if !b.label.is_empty() {
            s.label(&b.label).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 18, y + 5)], c.mix(0.3).filled())
            });
        }
    }
    let mut li = 0;
    for l in &p.lines {
        if l.points.is_empty() {
            continue;
        }
        let c = match (l.dashed, l.group) {
            (true, None) => BLACK,
            (_, Some(g)) => PALETTE[g % PALETTE.len()],
            (false, None) => {
                let c = PALETTE[li % PALETTE.len()];
                li += 1;
                c
            }
        };
        let style = c.stroke_width(2);
        let labelled = !l.label.is_empty();
        if l.markers {
            let s = ch.draw_series(l.points.iter().map(|q| Circle::new(*q, 4, c.filled())))?;
            if labelled {
                s.label(&l.label)
                    .legend(move |(x, y)| Circle::new((x + 9, y), 4, c.filled()));
            }
        } else {
            let s = if l.dashed {
                ch.draw_series(DashedLineSeries::new(l.points.clone(), 8, 5, style))?
            } else {
                ch.draw_series(LineSeries::new(l.points.clone(), style))?
            };
            if labelled && l.dashed {
                // the legend's sample dashed too
                s.label(&l.label).legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (7, 0)], c.stroke_width(2))
                        + PathElement::new(vec![(11, 0), (18, 0)], c.stroke_width(2))
                });
            } else if labelled {
                s.label(&l.label).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            }
        }
    }
    if !p.error_bars.is_empty() {
        let c = PALETTE[0];
        ch.draw_series(p.error_bars.iter().map(|e| {
            PathElement::new(
                vec![(e.x, e.lo.max(ys.start)), (e.x, e.hi.min(ys.end))],
                c.stroke_width(2),
            )
        }))?
        .label("Clopper–Pearson interval")
        .legend(move |(x, y)| {
            PathElement::new(vec![(x + 9, y - 6), (x + 9, y + 6)], c.stroke_width(2))
        });
    }
    let grey = RGBColor(90, 90, 90);
    for m in &p.h_marks {
        ch.draw_series(DashedLineSeries::new(
            vec![(xs.start, m.value), (xs.end, m.value)],
            4,
            4,
            grey.stroke_width(2),
        ))?
        .label(&m.label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], grey.stroke_width(2)));
    }
    let red = RGBColor(200, 0, 0);
    for (i, m) in p.v_marks.iter().enumerate() {
        let s = ch.draw_series(DashedLineSeries::new(
            vec![(m.value, ys.start), (m.value, ys.end)],
            3,
            3,
            red.stroke_width(1),
        ))?;
        // one legend entry per kind of mark (many switches would flood the legend)
        let first_of_kind = p.v_marks[..i]
            .iter()
            .all(|o| o.label.split(' ').next() != m.label.split(' ').next());
        if first_of_kind {
            let label = if p.v_marks.len() > 3 && m.label.starts_with("switch") {
                format!("method switches ({})", p.v_marks.len())
            } else {
                m.label.clone()
            };
            s.label(label).legend(move |(x, y)| {
                PathElement::new(vec![(x + 9, y - 6), (x + 9, y + 6)], red.stroke_width(1))
            });
        }
    }
    // no legend box without an entry (a panel whose lines are named in another)
    let labelled = p
        .lines
        .iter()
        .any(|l| !l.label.is_empty() && !l.points.is_empty())
        || p.bands
            .iter()
            .any(|b| !b.label.is_empty() && !b.points.is_empty())
        || !p.error_bars.is_empty()
        || !p.h_marks.is_empty()
        || !p.v_marks.is_empty();
    if !labelled {
        return Ok(());
    }
    ch.configure_series_labels()
        .position(if p.legend_left {
            SeriesLabelPosition::UpperLeft
        } else {
            match p.legend_corner((x0, x1), (y0, y1)) {
                (true, true) => SeriesLabelPosition::UpperRight,
                (true, false) => SeriesLabelPosition::UpperLeft,
                (false, true) => SeriesLabelPosition::LowerRight,
                (false, false) => SeriesLabelPosition::LowerLeft,
            }
        })
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 12))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::series::{Band, Line, Mark};
    use super::*;

    #[test]
    fn a_log_axis_over_a_subnormal_value_stays_finite_and_at_most_sixty_decades() {
        let (lo, hi) = range([5e-324, 1e4].into_iter(), Scale::Log);
        assert!(lo > 0.0 && lo.is_finite() && hi.is_finite(), "{lo} {hi}");
        assert!((hi / lo).log10() <= MAX_DECADES * 1.2 + 1e-9, "{lo} {hi}");
        // and the figure over it is drawn (this hung in the axis' tick generator)
        let mut p = Panel::new("t", "x", "y");
        p.y_scale = Scale::Log;
        p.lines.push(Line {
            label: "l".into(),
            points: vec![(0.0, 5e-324), (1.0, 1e4)],
            markers: true,
            dashed: false,
            group: None,
        });
        let fig = Figure {
            name: "f".into(),
            title: "t".into(),
            caption: "c".into(),
            panels: vec![p],
        };
        assert!(well_formed(&svg_string(&fig).unwrap()));
    }

    /// Tags of `svg` balance (every opened element is closed, in order).
    fn well_formed(svg: &str) -> bool {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(i) = rest.find('<') {
            let Some(j) = rest[i..].find('>') else {
                return false;
            };
            let tag = &rest[i + 1..i + j];
            rest = &rest[i + j + 1..];
            if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
                continue;
            }
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            if tag.starts_with('/') {
                if stack.pop().as_deref() != Some(name.as_str()) {
                    return false;
                }
            } else {
                stack.push(name);
            }
        }
        stack.is_empty()
    }

    /// The contents of the `<text>` elements of `svg`, trimmed.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                let body = &t[t.find('>')? + 1..];
                Some(body[..body.find("</text>")?].trim().to_string())
            })
            .collect()
    }

    fn panel(title: &str, scale: Scale) -> Panel {
        let mut p = Panel::new(title, "t (gradient-flow time)", "loss");
        p.y_scale = scale;
        p.lines.push(Line {
            label: format!("{title} line"),
            points: vec![(0.0, 1.0), (1.0, 1e-3), (2.0, 1e-6)],
            markers: false,
            dashed: false,
            group: None,
        });
        p.bands.push(Band {
            label: "budget".into(),
            points: vec![(0.0, 1e-9, 1e-8), (2.0, 1e-9, 1e-7)],
            group: None,
        });
        p.h_marks.push(Mark {
            label: "boundary".into(),
            value: 1e-2,
        });
        p.v_marks.push(Mark {
            label: "first violation".into(),
            value: 1.5,
        });
        p
    }

    #[test]
    fn the_svg_is_well_formed_with_one_titled_panel_each_and_the_caption() {
        let fig = Figure {
            name: "run".into(),
            title: "example — trajectory".into(),
            caption: "gradflow run · config sha256 0123456789ab".into(),
            panels: vec![
                panel("first", Scale::Log),
                panel("second", Scale::Linear),
                panel("third", Scale::Log),
            ],
        };
        let svg = svg_string(&fig).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(well_formed(&svg));
        // three panels in two rows of two
        assert_eq!(size(&fig), (WIDTH, 44 + 2 * ROW_HEIGHT + 34));
        let texts = texts(&svg);
        let count = |t: &str| texts.iter().filter(|x| *x == t).count();
        for text in [
            "example — trajectory",
            "gradflow run · config sha256 0123456789ab",
            "first",
            "second",
            "third",
        ] {
            assert_eq!(count(text), 1, "{text} in {texts:?}");
        }
        // each panel: its axis labels, its legend (line, band, marks)
        for text in [
            "t (gradient-flow time)",
            "loss",
            "budget",
            "boundary",
            "first violation",
        ] {
            assert_eq!(count(text), 3, "{text} in {texts:?}");
        }
        assert_eq!(count("first line"), 1);
        // a band polygon per panel, lines and marks as polylines
        assert_eq!(svg.matches("<polygon").count(), 3);
        assert!(svg.matches("<polyline").count() >= 3);
    }

    #[test]
    fn ranges_pad_and_survive_degenerate_data() {
        let (lo, hi) = range([1.0, 3.0].into_iter(), Scale::Linear);
        assert!((lo - 0.9).abs() < 1e-12 && (hi - 3.1).abs() < 1e-12);
        let (lo, hi) = range([1e-6, 1.0, -1.0, 0.0].into_iter(), Scale::Log);
        assert!(lo < 1e-6 && hi > 1.0 && lo > 0.0);
        assert_eq!(range(std::iter::empty(), Scale::Log), (0.1, 10.0));
        // a narrow log range reaches down to the power of ten below it
        let (lo, hi) = range([1874.0, 2197.0].into_iter(), Scale::Log);
        assert!((lo - 1000.0).abs() < 1e-9 && hi > 2197.0 && hi < 3000.0);
        let (lo, hi) = range([2.0, 2.0].into_iter(), Scale::Linear);
        assert!(lo < 2.0 && hi > 2.0);
        let (lo, hi) = range([0.0].into_iter(), Scale::Linear);
        assert!(lo < 0.0 && hi > 0.0);
    }

    #[test]
    fn a_png_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.png");
        let fig = Figure {
            name: "f".into(),
            title: "t".into(),
            caption: "c".into(),
            panels: vec![panel("only", Scale::Log)],
        };
        write_png(&fig, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // the single-panel size
        assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 1000);
        let e = write_png(&fig, &dir.path().join("no/such/dir/f.png")).unwrap_err();
        assert!(e.to_string().contains("cannot write"), "{e}");
    }
}
