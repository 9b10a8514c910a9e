//! How numbers, ages and small charts are written on screen.

use crate::domain::panel::Unit;

/// A value in base units written for humans, with its unit.
pub fn value(v: f64, unit: &Unit) -> String {
    if v.is_nan() {
        return "no data".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    match unit {
        Unit::Seconds => seconds(v),
        Unit::Percent => {
            let p = v * 100.0;
            if p.abs() >= 100.0 {
                format!("{p:.0} %")
            } else if p.abs() >= 10.0 {
                format!("{p:.1} %")
            } else {
                format!("{p:.2} %")
            }
        }
        Unit::Bytes => bytes(v),
        Unit::None => number(v),
        Unit::Custom(u) => format!("{} {u}", number(v)),
    }
}

/// [`value`], or `missing` when there is none.
pub fn value_or(v: Option<f64>, unit: &Unit, missing: &str) -> String {
    v.map(|x| value(x, unit))
        .unwrap_or_else(|| missing.to_string())
}

/// A relative change in whole percent with its sign: "+42 %".
pub fn relative(change: f64) -> String {
    format!("{:+.0} %", change * 100.0)
}

fn seconds(v: f64) -> String {
    let a = v.abs();
    if a < 1e-3 {
        format!("{:.0} µs", v * 1e6)
    } else if a < 0.01 {
        format!("{:.1} ms", v * 1e3)
    } else if a < 1.0 {
        format!("{:.0} ms", v * 1e3)
    } else if a < 60.0 {
        format!("{v:.1} s")
    } else if a < 3600.0 {
        format!("{:.1} min", v / 60.0)
    } else if a < 86400.0 {
        format!("{:.1} h", v / 3600.0)
    } else {
        format!("{:.1} d", v / 86400.0)
    }
}

fn bytes(v: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = v;
    let mut i = 0;
    while x.abs() >= 1024.0 && i < UNITS.len() - 1 {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{x:.0} B")
    } else {
        format!("{x:.1} {}", UNITS[i])
    }
}

/// Three significant digits, with k/M/G for large numbers.
pub fn number(v: f64) -> String {
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let ax = x.abs();
    let s = if ax >= 100.0 {
        format!("{x:.0}")
    } else if ax >= 10.0 {
        format!("{x:.1}")
    } else if ax >= 1.0 || ax == 0.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    };
    format!("{s}{suffix}")
}

/// Words of `text` in lines of at most `width` characters (a longer word gets its own line).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(10);
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// Data age: "4s", "3m", "2h", "5d".
pub fn age(secs: f64) -> String {
    let s = secs.max(0.0).floor() as u64;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86400)
    }
}

/// A duration precise enough to compare with a hold: "45s", "1m52s", "12m", "2h05m".
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).floor() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..600 if !s.is_multiple_of(60) => format!("{}m{:02}s", s / 60, s % 60),
        60..3600 => format!("{}m", s / 60),
        _ if s % 3600 / 60 != 0 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}h", s / 3600),
    }
}

/// Change against a week earlier: "+3.2 % wk".
pub fn week_change(now: f64, week_ago: f64) -> String {
    if week_ago == 0.0 || week_ago.is_nan() || now.is_nan() {
        return String::new();
    }
    let pct = (now - week_ago) / week_ago.abs() * 100.0;
    format!("{pct:+.1}% wk")
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `width` values as a one-line sparkline scaled to their own min..max.
pub fn spark(
    values: impl DoubleEndedIterator<Item = f64> + ExactSizeIterator,
    width: usize,
) -> String {
    let n = values.len();
    let vals: Vec<f64> = values.skip(n.saturating_sub(width)).collect();
    if vals.is_empty() {
        return String::new();
    }
    let (lo, hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    vals.iter()
        .map(|&v| {
            if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
                BARS[3]
            } else {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

/// Shares as one bar per bucket, scaled to the largest share.
pub fn share_bars(shares: &[(f64, f64)]) -> String {
    let max = shares.iter().map(|s| s.1).fold(0.0, f64::max);
    if max <= 0.0 {
        return String::new();
    }
    shares
        .iter()
        .map(|&(_, s)| {
            if s <= 0.0 {
                ' '
            } else {
                BARS[((s / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

/// The bucket holding the largest share, written as its range: "0.6–0.7".
pub fn mode_bucket(shares: &[(f64, f64)]) -> String {
    let Some((i, _)) = shares
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.1.total_cmp(&b.1.1))
    else {
        return String::new();
    };
    let lo = if i == 0 { None } else { Some(shares[i - 1].0) };
    let hi = shares[i].0;
    match (lo, hi.is_infinite()) {
        (None, _) => format!("≤{hi}"),
        (Some(l), true) => format!(">{l}"),
        (Some(l), false) => format!("{l}–{hi}"),
    }
}

/// Cut or pad `s` to exactly `width` characters.
pub fn fit(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n > width {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        if width > 0 {
            t.push('…');
        }
        t
    } else {
        format!("{s}{}", " ".repeat(width - n))
    }
}

/// Right-align `s` in `width` characters (cut on the left side if too long).
pub fn fit_right(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n >= width {
        fit(s, width)
    } else {
        format!("{}{s}", " ".repeat(width - n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_between_words() {
        assert_eq!(
            wrap("RolloutAborted: Rollout aborted update to revision 2", 20),
            ["RolloutAborted:", "Rollout aborted", "update to revision 2"]
        );
        assert!(wrap("", 20).is_empty());
    }

    #[test]
    fn durations_keep_seconds_while_they_matter() {
        assert_eq!(duration(45.9), "45s");
        assert_eq!(duration(112.0), "1m52s");
        assert_eq!(duration(120.0), "2m");
        assert_eq!(duration(720.0), "12m");
        assert_eq!(duration(7500.0), "2h05m");
        assert_eq!(duration(7200.0), "2h");
    }

    #[test]
    fn values_carry_their_units() {
        assert_eq!(value(0.1234, &Unit::Seconds), "123 ms");
        assert_eq!(value(0.0042, &Unit::Seconds), "4.2 ms");
        assert_eq!(value(95.0, &Unit::Seconds), "1.6 min");
        assert_eq!(value(0.001, &Unit::Percent), "0.10 %");
        assert_eq!(value(0.032, &Unit::Percent), "3.20 %");
        assert_eq!(
            value(1.5 * 1024.0 * 1024.0 * 1024.0, &Unit::Bytes),
            "1.5 GiB"
        );
        assert_eq!(value(201.4, &Unit::Custom("req/s".into())), "201 req/s");
        assert_eq!(value(f64::NAN, &Unit::None), "no data");
        assert_eq!(number(12345.0), "12.3k");
    }

    #[test]
    fn ages_are_coarse() {
        assert_eq!(age(4.9), "4s");
        assert_eq!(age(185.0), "3m");
        assert_eq!(age(7300.0), "2h");
    }

    #[test]
    fn sparkline_scales_to_its_range_and_keeps_the_newest() {
        assert_eq!(
            spark([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0].into_iter(), 8),
            "▁▂▃▄▅▆▇█"
        );
        assert_eq!(spark([9.0, 1.0, 1.0].into_iter(), 2), "▄▄");
    }

    #[test]
    fn mode_bucket_names_the_range() {
        let s = [(0.1, 0.1), (0.2, 0.7), (f64::INFINITY, 0.2)];
        assert_eq!(mode_bucket(&s), "0.1–0.2");
        assert_eq!(week_change(1.1, 1.0), "+10.0% wk");
    }
}
