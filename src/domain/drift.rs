//! Data drift: the Population Stability Index between a reference and a current distribution,
//! PSI = Σᵢ (cᵢ − rᵢ) · ln(cᵢ / rᵢ), with Evidently's rule for empty bins, from Prometheus-style
//! cumulative histogram buckets or from per-category counts (reference/analytics.md).
//!
//! The binning decides the number (the same data in other bins gives another PSI), so every
//! figure says its method: histogram `le` buckets, or one bin per category seen on either side.

use serde::Serialize;

/// One bin with both sides' proportions (after the empty-bin rule) and raw counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftBin {
    /// `≤ 20`, `> 500`, or the category.
    pub label: String,
    pub reference: f64,
    pub current: f64,
}

/// A PSI with what it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub psi: f64,
    /// Observations on each side (PSI grows with n: shown beside it).
    pub n_reference: f64,
    pub n_current: f64,
    /// The proportions per bin, as they entered the formula.
    pub bins: Vec<DriftBin>,
}

/// Evidently's empty-bin rule on one side: a zero proportion becomes 1e-4, or the smallest
/// non-zero proportion / 1e6 when that smallest is ≤ 1e-4. No renormalisation afterwards.
fn fill_zeros(p: &mut [f64]) {
    let smallest = p
        .iter()
        .copied()
        .filter(|x| *x > 0.0)
        .fold(f64::INFINITY, f64::min);
    let fill = if smallest <= 1e-4 {
        smallest / 1e6
    } else {
        1e-4
    };
    for x in p.iter_mut().filter(|x| **x <= 0.0) {
        *x = fill;
    }
}

/// PSI of two count vectors over the same bins. `None` when a side has no observations.
pub fn psi_counts(labels: Vec<String>, reference: &[f64], current: &[f64]) -> Option<Drift> {
    debug_assert_eq!(reference.len(), current.len());
    let (nr, nc): (f64, f64) = (
        reference.iter().map(|x| x.max(0.0)).sum(),
        current.iter().map(|x| x.max(0.0)).sum(),
    );
    if nr <= 0.0 || nc <= 0.0 || reference.is_empty() {
        return None;
    }
    let mut r: Vec<f64> = reference.iter().map(|x| x.max(0.0) / nr).collect();
    let mut c: Vec<f64> = current.iter().map(|x| x.max(0.0) / nc).collect();
    fill_zeros(&mut r);
    fill_zeros(&mut c);
    let psi = r.iter().zip(&c).map(|(r, c)| (c - r) * (c / r).ln()).sum();
    Some(Drift {
        psi,
        n_reference: nr,
        n_current: nc,
        bins: labels
            .into_iter()
            .zip(r.into_iter().zip(c))
            .map(|(label, (reference, current))| DriftBin {
                label,
                reference,
                current,
            })
            .collect(),
    })
}

/// PSI of two proportion vectors (each summing to 1).
pub fn psi(reference: &[f64], current: &[f64]) -> Option<f64> {
    let labels = (0..reference.len()).map(|i| i.to_string()).collect();
    psi_counts(labels, reference, current).map(|d| d.psi)
}

fn bound_label(prev: Option<f64>, le: f64) -> String {
    let n = |x: f64| {
        if x.fract() == 0.0 && x.abs() < 1e15 {
            format!("{x:.0}")
        } else {
            format!("{x}")
        }
    };
    match (prev, le.is_infinite()) {
        (Some(p), true) => format!("> {}", n(p)),
        (None, true) => "all".into(),
        (_, false) => format!("≤ {}", n(le)),
    }
}

/// PSI from two cumulative histograms (`le` upper bound, cumulative count), as Prometheus
/// stores them: each turned into per-bucket counts first. Both sides need the same bounds
/// (the reference's bounds are used; a current bucket missing there is an error).
pub fn psi_buckets(reference: &[(f64, f64)], current: &[(f64, f64)]) -> Result<Drift, String> {
    let per_bucket = |cum: &[(f64, f64)]| -> Vec<(f64, f64)> {
        let mut v: Vec<(f64, f64)> = cum.to_vec();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut prev = 0.0;
        v.into_iter()
            .map(|(le, c)| {
                // A counter reset between the ends of a window can make a bucket's increase
                // smaller than the one below; never count below zero.
                let d = (c - prev).max(0.0);
                prev = c.max(prev);
                (le, d)
            })
            .collect()
    };
    let (r, c) = (per_bucket(reference), per_bucket(current));
    let bounds: Vec<u64> = r.iter().map(|(le, _)| le.to_bits()).collect();
    if bounds != c.iter().map(|(le, _)| le.to_bits()).collect::<Vec<_>>() {
        return Err(format!(
            "the reference and current histograms have different buckets ({} vs {})",
            r.len(),
            c.len()
        ));
    }
    if r.len() < 2 {
        return Err("a histogram needs at least two buckets".into());
    }
    let labels = r
        .iter()
        .enumerate()
        .map(|(i, (le, _))| bound_label((i > 0).then(|| r[i - 1].0), *le))
        .collect();
    let rc: Vec<f64> = r.iter().map(|x| x.1).collect();
    let cc: Vec<f64> = c.iter().map(|x| x.1).collect();
    psi_counts(labels, &rc, &cc).ok_or_else(|| "no observations on one side".to_string())
}

/// PSI from per-category counts: one bin per category seen on either side (a category seen on
/// one side only is an empty bin on the other).
pub fn psi_categories(
    reference: &[(String, f64)],
    current: &[(String, f64)],
) -> Result<Drift, String> {
    let mut names: Vec<&String> = reference.iter().chain(current).map(|(k, _)| k).collect();
    names.sort();
    names.dedup();
    let get = |side: &[(String, f64)], k: &String| {
        side.iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| *v)
            .sum::<f64>()
    };
    let rc: Vec<f64> = names.iter().map(|k| get(reference, k)).collect();
    let cc: Vec<f64> = names.iter().map(|k| get(current, k)).collect();
    psi_counts(names.into_iter().cloned().collect(), &rc, &cc)
        .ok_or_else(|| "no observations on one side".to_string())
}

/// The usual reading of a PSI (a rule of thumb, not a statistical test).
pub fn band(psi: f64) -> &'static str {
    if psi < 0.10 {
        "stable"
    } else if psi <= 0.25 {
        "moderate"
    } else {
        "significant"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round4(x: f64) -> f64 {
        (x * 1e4).round() / 1e4
    }

    #[test]
    fn psi_matches_the_reference_vectors() {
        assert_eq!(
            round4(psi(&[0.25; 4], &[0.10, 0.20, 0.30, 0.40]).unwrap()),
            0.2282
        );
        let c = [0.05, 0.05, 0.08, 0.08, 0.10, 0.10, 0.12, 0.12, 0.15, 0.15];
        assert_eq!(round4(psi(&[0.1; 10], &c).unwrap()), 0.1261);
        let le = [0.1, 0.25, 0.5, 0.75, 0.9, f64::INFINITY];
        let cum = |v: [f64; 6]| le.iter().copied().zip(v).collect::<Vec<_>>();
        let d = psi_buckets(
            &cum([100.0, 300.0, 600.0, 850.0, 950.0, 1000.0]),
            &cum([50.0, 200.0, 500.0, 800.0, 900.0, 1000.0]),
        )
        .unwrap();
        assert_eq!(round4(d.psi), 0.0928);
        assert_eq!((d.n_reference, d.n_current), (1000.0, 1000.0));
        assert_eq!(d.bins[0].label, "≤ 0.1");
        assert_eq!(d.bins[5].label, "> 0.9");
        assert_eq!(d.bins[1].reference, 0.2);
    }

    #[test]
    fn a_category_on_one_side_only_gets_the_empty_bin_rule() {
        let r = vec![("a".to_string(), 50.0), ("b".to_string(), 50.0)];
        let c = vec![
            ("a".to_string(), 40.0),
            ("b".to_string(), 40.0),
            ("new".to_string(), 20.0),
        ];
        let d = psi_categories(&r, &c).unwrap();
        let labels: Vec<&str> = d.bins.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["a", "b", "new"]);
        // reference share of "new" is 0 → 1e-4 (its smallest non-zero share, 0.5, is > 1e-4)
        assert_eq!(d.bins[2].reference, 1e-4);
        let want = 2.0 * (0.4 - 0.5) * (0.4f64 / 0.5).ln() + (0.2 - 1e-4) * (0.2f64 / 1e-4).ln();
        assert!((d.psi - want).abs() < 1e-12, "{} vs {want}", d.psi);
        assert_eq!(round4(d.psi), 1.5640);
    }

    #[test]
    fn tiny_shares_fill_empty_bins_with_a_millionth_of_the_smallest() {
        // one side's smallest non-zero share is 5e-5 (≤ 1e-4): its empty bins get 5e-11
        let mut p = vec![0.0, 5e-5, 1.0 - 5e-5];
        fill_zeros(&mut p);
        assert_eq!(p[0], 5e-11);
        let mut q = vec![0.0, 0.5, 0.5];
        fill_zeros(&mut q);
        assert_eq!(q[0], 1e-4);
        // no renormalisation afterwards
        assert!(q.iter().sum::<f64>() > 1.0);
    }

    #[test]
    fn degenerate_inputs_say_why() {
        assert!(psi(&[0.0, 0.0], &[0.5, 0.5]).is_none());
        let one = [(f64::INFINITY, 10.0)];
        assert!(psi_buckets(&one, &one).is_err());
        let a = [(1.0, 5.0), (f64::INFINITY, 10.0)];
        let b = [(2.0, 5.0), (f64::INFINITY, 10.0)];
        assert!(
            psi_buckets(&a, &b)
                .unwrap_err()
                .contains("different buckets")
        );
        assert_eq!(band(0.05), "stable");
        assert_eq!(band(0.12), "moderate");
        assert_eq!(band(0.30), "significant");
    }
}
