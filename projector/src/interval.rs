//! Sets of half-open intervals `[start, end)` of unix seconds, with the
//! union, intersection, difference and length that availability and
//! contact vacancy are made of (SEMANTICS.md sections 1, 6 and 9).
//!
//! A set is kept normal: spans sorted, non-empty, and neither overlapping
//! nor touching, so two equal sets have equal representations and every
//! operation is one linear merge.

/// A normal set of half-open intervals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IntervalSet {
    spans: Vec<(i64, i64)>,
}

impl IntervalSet {
    /// The empty set.
    pub fn new() -> IntervalSet {
        IntervalSet::default()
    }

    /// `[start, end)`; empty when `end <= start`.
    pub fn span(start: i64, end: i64) -> IntervalSet {
        IntervalSet::from_spans([(start, end)])
    }

    /// The union of any spans (empty and reversed ones count as empty).
    pub fn from_spans(spans: impl IntoIterator<Item = (i64, i64)>) -> IntervalSet {
        let mut v: Vec<(i64, i64)> = spans.into_iter().filter(|(a, b)| a < b).collect();
        v.sort_unstable();
        IntervalSet { spans: coalesce(v) }
    }

    /// The spans, sorted, disjoint and not touching.
    pub fn spans(&self) -> &[(i64, i64)] {
        &self.spans
    }

    /// Total length in seconds.
    pub fn len(&self) -> i64 {
        self.spans.iter().map(|(a, b)| b - a).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Whether instant `t` lies in the set.
    pub fn contains(&self, t: i64) -> bool {
        let i = self.spans.partition_point(|&(_, b)| b <= t);
        self.spans.get(i).is_some_and(|&(a, _)| a <= t)
    }

    pub fn union(&self, other: &IntervalSet) -> IntervalSet {
        let (a, b) = (&self.spans, &other.spans);
        let mut merged = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let take_a = j == b.len() || (i < a.len() && a[i] <= b[j]);
            if take_a {
                merged.push(a[i]);
                i += 1;
            } else {
                merged.push(b[j]);
                j += 1;
            }
        }
        IntervalSet {
            spans: coalesce(merged),
        }
    }

    pub fn intersection(&self, other: &IntervalSet) -> IntervalSet {
        let (a, b) = (&self.spans, &other.spans);
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            let lo = a[i].0.max(b[j].0);
            let hi = a[i].1.min(b[j].1);
            if lo < hi {
                out.push((lo, hi));
            }
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        // Intersections of two normal sets never overlap or touch.
        IntervalSet { spans: out }
    }

    /// The seconds of `self` not in `other`.
    pub fn difference(&self, other: &IntervalSet) -> IntervalSet {
        let b = &other.spans;
        let mut out = Vec::new();
        let mut j = 0;
        for &(start, end) in &self.spans {
            let mut cur = start;
            while j < b.len() && b[j].1 <= cur {
                j += 1;
            }
            let mut k = j;
            while cur < end && k < b.len() && b[k].0 < end {
                if b[k].0 > cur {
                    out.push((cur, b[k].0));
                }
                cur = cur.max(b[k].1);
                k += 1;
            }
            if cur < end {
                out.push((cur, end));
            }
        }
        IntervalSet { spans: out }
    }
}

/// Merges overlapping and touching spans of a sorted list of non-empty spans.
fn coalesce(sorted: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(sorted.len());
    for (a, b) in sorted {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(spans: &[(i64, i64)]) -> IntervalSet {
        IntervalSet::from_spans(spans.iter().copied())
    }

    fn check(a: &[(i64, i64)], b: &[(i64, i64)], expect: [&[(i64, i64)]; 3]) {
        let (a, b) = (set(a), set(b));
        assert_eq!(a.union(&b).spans(), expect[0], "union");
        assert_eq!(a.intersection(&b).spans(), expect[1], "intersection");
        assert_eq!(a.difference(&b).spans(), expect[2], "difference");
    }

    #[test]
    fn operations() {
        check(&[(0, 10)], &[(5, 15)], [&[(0, 15)], &[(5, 10)], &[(0, 5)]]);
        check(&[(0, 10)], &[(10, 20)], [&[(0, 20)], &[], &[(0, 10)]]);
        check(
            &[(0, 10), (20, 30)],
            &[(5, 25)],
            [&[(0, 30)], &[(5, 10), (20, 25)], &[(0, 5), (25, 30)]],
        );
        check(
            &[(0, 30)],
            &[(5, 10), (15, 20)],
            [
                &[(0, 30)],
                &[(5, 10), (15, 20)],
                &[(0, 5), (10, 15), (20, 30)],
            ],
        );
        check(&[], &[(1, 2)], [&[(1, 2)], &[], &[]]);
        check(&[(3, 1)], &[], [&[], &[], &[]]);
    }

    #[test]
    fn normal_form_and_contains() {
        let s = set(&[(5, 7), (0, 2), (2, 3), (6, 9)]);
        assert_eq!(s.spans(), &[(0, 3), (5, 9)]);
        assert_eq!(s.len(), 7);
        assert!(
            s.contains(0) && s.contains(2) && !s.contains(3) && s.contains(8) && !s.contains(9)
        );
    }
}
