//! Recommendation homogeneity — the "same list for everyone" failure that latency and errors
//! never show (reference/analytics.md). From per-item counts cᵢ (how many lists held item i) in
//! a window and the number of lists U (requests):
//! - personalisation P = 1 − (Σcᵢ² − U·k) / (k·U·(U−1)), k = Σcᵢ / U the list length: 0 when
//!   every list is identical, 1 when no two lists share an item;
//! - coverage = distinct recommended items / catalogue size N;
//! - top-1 share = max cᵢ / U: the share of lists holding the most recommended item;
//! - normalised entropy = H / ln N of the item distribution.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Homogeneity {
    pub personalisation: f64,
    /// `None` without a catalogue size.
    pub coverage: Option<f64>,
    pub top1_share: f64,
    /// `None` without a catalogue size.
    pub entropy: Option<f64>,
    /// Lists (requests) in the window.
    pub users: f64,
    /// Items per list.
    pub k: f64,
    pub distinct: usize,
}

/// `counts`: cᵢ per item; `users`: U; `catalogue`: N. `None` with fewer than two lists or no
/// items (nothing to compare).
pub fn homogeneity(counts: &[f64], users: f64, catalogue: Option<f64>) -> Option<Homogeneity> {
    let total: f64 = counts.iter().filter(|c| **c > 0.0).sum();
    if users < 2.0 || total <= 0.0 {
        return None;
    }
    let k = total / users;
    let sum_sq: f64 = counts.iter().filter(|c| **c > 0.0).map(|c| c * c).sum();
    let personalisation = 1.0 - (sum_sq - users * k) / (k * users * (users - 1.0));
    let distinct = counts.iter().filter(|c| **c > 0.0).count();
    let top = counts.iter().copied().fold(0.0, f64::max);
    let n = catalogue.filter(|n| *n > 1.0);
    let entropy = n.map(|n| {
        let h: f64 = counts
            .iter()
            .filter(|c| **c > 0.0)
            .map(|c| {
                let p = c / total;
                -p * p.ln()
            })
            .sum();
        h / n.ln()
    });
    Some(Homogeneity {
        personalisation: personalisation.clamp(0.0, 1.0),
        coverage: n.map(|n| distinct as f64 / n),
        top1_share: top / users,
        entropy,
        users,
        k,
        distinct,
    })
}

/// One homogeneity figure as a panel reading, or why there is none.
pub fn reading(
    counts: &[f64],
    users: f64,
    stat: super::panel::HomogeneityStat,
    catalogue: Option<f64>,
) -> super::panel::Reading {
    use super::panel::Reading;
    match homogeneity(counts, users, catalogue) {
        None => Reading::NoData("fewer than two lists or no items in the window".into()),
        Some(h) => match stat.pick(&h) {
            Some(v) => Reading::Value(v),
            None => Reading::NoData("coverage and entropy need `catalogue`".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_lists_are_not_personalised() {
        // 4 users, k = 3, the same three items each, catalogue of 20
        let h = homogeneity(&[4.0, 4.0, 4.0], 4.0, Some(20.0)).unwrap();
        assert_eq!(h.personalisation, 0.0);
        assert!((h.coverage.unwrap() - 0.15).abs() < 1e-12);
        assert_eq!(h.top1_share, 1.0);
        assert_eq!(h.k, 3.0);
    }

    #[test]
    fn disjoint_lists_are_fully_personalised() {
        let h = homogeneity(&[1.0; 12], 4.0, Some(20.0)).unwrap();
        assert_eq!(h.personalisation, 1.0);
        assert!((h.coverage.unwrap() - 0.60).abs() < 1e-12);
        assert_eq!(h.top1_share, 0.25);
        // 12 equally likely items out of 20: H / ln N = ln 12 / ln 20
        assert!((h.entropy.unwrap() - 12f64.ln() / 20f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn half_overlap() {
        // 2 users, k = 2: lists {a, b} and {a, c}: one shared item of two → P = 0.5
        let h = homogeneity(&[2.0, 1.0, 1.0], 2.0, None).unwrap();
        assert!((h.personalisation - 0.5).abs() < 1e-12);
        assert_eq!(h.coverage, None);
        assert!(homogeneity(&[1.0], 1.0, None).is_none());
        assert!(homogeneity(&[], 10.0, None).is_none());
    }
}
