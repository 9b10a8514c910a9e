//! Counters observed at successive scrapes: increases across resets, per-second rates.

/// The increase of a counter over samples `(t, value)` in time order, treating any drop as a
/// counter reset (the process restarted and counts again from 0), as Prometheus does.
/// `None` with fewer than two samples.
pub fn increase(samples: &[(f64, f64)]) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let mut total = 0.0;
    for w in samples.windows(2) {
        let (prev, cur) = (w[0].1, w[1].1);
        total += if cur < prev { cur } else { cur - prev };
    }
    Some(total)
}

/// Per-second rate over the samples: `increase / (t_last - t_first)`. Unlike PromQL's
/// `rate()` there is no extrapolation to the window edges; over the same samples the two agree
/// when the samples span the window.
pub fn rate(samples: &[(f64, f64)]) -> Option<f64> {
    let inc = increase(samples)?;
    let span = samples.last()?.0 - samples.first()?.0;
    (span > 0.0).then(|| inc / span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_of_a_steady_counter() {
        let s = [(0.0, 100.0), (10.0, 150.0), (20.0, 200.0)];
        assert_eq!(rate(&s), Some(5.0));
    }

    #[test]
    fn a_counter_reset_counts_the_new_value_as_increase() {
        // 100 -> 150 (+50), restart, 20 (+20), 60 (+40): 110 over 30 s
        let s = [(0.0, 100.0), (10.0, 150.0), (20.0, 20.0), (30.0, 60.0)];
        assert_eq!(increase(&s), Some(110.0));
        let r = rate(&s).unwrap();
        assert!((r - 110.0 / 30.0).abs() < 1e-12);
    }

    #[test]
    fn one_sample_is_not_a_rate() {
        assert_eq!(rate(&[(0.0, 1.0)]), None);
        assert_eq!(rate(&[(5.0, 1.0), (5.0, 2.0)]), None);
    }
}
