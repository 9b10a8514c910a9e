//! Quantiles from cumulative histogram buckets, computed exactly as Prometheus's
//! `histogram_quantile` does (promql/quantile.go `bucketQuantile`), so the scrape source and a
//! PromQL source agree on the same buckets.

/// One cumulative bucket: the count of observations `<= upper_bound`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub upper_bound: f64,
    pub count: f64,
}

/// `histogram_quantile(q, buckets)`. Returns NaN ("no data") when there are fewer than two
/// buckets, no `+Inf` bucket, or no observations — never 0.
pub fn histogram_quantile(q: f64, buckets: &[Bucket]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let mut b: Vec<Bucket> = buckets.to_vec();
    b.sort_by(|x, y| x.upper_bound.total_cmp(&y.upper_bound));
    match b.last() {
        Some(last) if last.upper_bound == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    coalesce(&mut b);
    ensure_monotonic(&mut b);
    if b.len() < 2 {
        return f64::NAN;
    }
    let observations = b[b.len() - 1].count;
    if observations == 0.0 || observations.is_nan() {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let idx = b.partition_point(|x| x.count < rank);
    if idx == b.len() - 1 {
        return b[b.len() - 2].upper_bound;
    }
    if idx == 0 && b[0].upper_bound <= 0.0 {
        return b[0].upper_bound;
    }
    let mut bucket_start = 0.0;
    let bucket_end = b[idx].upper_bound;
    let mut count = b[idx].count;
    if idx > 0 {
        bucket_start = b[idx - 1].upper_bound;
        count -= b[idx - 1].count;
        rank -= b[idx - 1].count;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

/// Merge buckets with the same upper bound (summing counts), as Prometheus does.
fn coalesce(b: &mut Vec<Bucket>) {
    let mut out: Vec<Bucket> = Vec::with_capacity(b.len());
    for x in b.drain(..) {
        match out.last_mut() {
            Some(last) if last.upper_bound == x.upper_bound => last.count += x.count,
            _ => out.push(x),
        }
    }
    *b = out;
}

/// Counts are cumulative; a scrape that raced with observations can break that. Prometheus
/// repairs it by carrying the running maximum forward.
fn ensure_monotonic(b: &mut [Bucket]) {
    let mut max = f64::NEG_INFINITY;
    for x in b.iter_mut() {
        if x.count > max {
            max = x.count;
        } else if x.count < max {
            x.count = max;
        }
    }
}

/// Per-bucket shares (non-cumulative, normalised to 1) of cumulative buckets, in bound order.
/// Empty when there are no observations.
pub fn bucket_shares(buckets: &[Bucket]) -> Vec<(f64, f64)> {
    let mut b: Vec<Bucket> = buckets.to_vec();
    b.sort_by(|x, y| x.upper_bound.total_cmp(&y.upper_bound));
    coalesce(&mut b);
    ensure_monotonic(&mut b);
    let total = b.last().map(|x| x.count).unwrap_or(0.0);
    if total <= 0.0 || total.is_nan() {
        return Vec::new();
    }
    let mut prev = 0.0;
    b.iter()
        .map(|x| {
            let share = (x.count - prev) / total;
            prev = x.count;
            (x.upper_bound, share)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs
            .iter()
            .map(|&(upper_bound, count)| Bucket { upper_bound, count })
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    // Expected values are what Prometheus 2.42 answers for
    // histogram_quantile(q, <these buckets>) (see tests/prometheus_agreement.rs for the live check).
    const LAT: &[(f64, f64)] = &[
        (0.05, 10.0),
        (0.1, 50.0),
        (0.25, 90.0),
        (0.5, 99.0),
        (f64::INFINITY, 100.0),
    ];

    #[test]
    fn interpolates_linearly_inside_the_bucket_holding_the_rank() {
        // rank 50 -> end of the 0.1 bucket
        assert!(close(histogram_quantile(0.5, &h(LAT)), 0.1));
        // rank 70 -> 0.1 + 0.15 * (20/40)
        assert!(close(histogram_quantile(0.7, &h(LAT)), 0.175));
        // rank 5 in the first bucket, which starts at 0
        assert!(close(histogram_quantile(0.05, &h(LAT)), 0.025));
    }

    #[test]
    fn rank_in_the_inf_bucket_returns_the_last_finite_bound() {
        assert!(close(histogram_quantile(0.995, &h(LAT)), 0.5));
        assert!(close(histogram_quantile(1.0, &h(LAT)), 0.5));
    }

    #[test]
    fn empty_or_degenerate_histograms_are_no_data_not_zero() {
        assert!(histogram_quantile(0.99, &[]).is_nan());
        assert!(histogram_quantile(0.99, &h(&[(f64::INFINITY, 10.0)])).is_nan());
        assert!(histogram_quantile(0.99, &h(&[(0.1, 0.0), (f64::INFINITY, 0.0)])).is_nan());
        // no +Inf bucket
        assert!(histogram_quantile(0.5, &h(&[(0.1, 1.0), (0.2, 2.0)])).is_nan());
    }

    #[test]
    fn out_of_range_quantiles_follow_prometheus() {
        assert_eq!(histogram_quantile(-0.1, &h(LAT)), f64::NEG_INFINITY);
        assert_eq!(histogram_quantile(1.1, &h(LAT)), f64::INFINITY);
    }

    #[test]
    fn unsorted_and_non_monotonic_buckets_are_repaired() {
        let b = h(&[
            (f64::INFINITY, 100.0),
            (0.1, 50.0),
            (0.25, 49.0), // raced scrape: repaired to 50
            (0.05, 10.0),
            (0.5, 99.0),
        ]);
        // rank 60: the 0.25 bucket has count 0 after repair, so the rank lands in the 0.5 bucket
        let v = histogram_quantile(0.6, &b);
        assert!(close(v, 0.25 + 0.25 * (10.0 / 49.0)), "{v}");
    }

    #[test]
    fn bucket_shares_are_per_bucket_and_sum_to_one() {
        let s = bucket_shares(&h(LAT));
        let shares: Vec<f64> = s.iter().map(|x| x.1).collect();
        assert_eq!(shares, vec![0.1, 0.4, 0.4, 0.09, 0.01]);
        assert!(bucket_shares(&h(&[(f64::INFINITY, 0.0)])).is_empty());
    }
}
