//! Pareto frontier on (CPU per message, wire bytes per message).

/// For each point `(cpu, bytes)`, whether it is Pareto-optimal: no other
/// point has ≤ CPU and ≤ bytes with one of the two strictly less. Equal
/// points are all optimal. A point with a NaN coordinate is never optimal
/// and never dominates another.
pub fn pareto(points: &[(f64, f64)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(c, b)| {
            !c.is_nan()
                && !b.is_nan()
                && !points
                    .iter()
                    .any(|&(oc, ob)| oc <= c && ob <= b && (oc < c || ob < b))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::pareto;

    #[test]
    fn marks_only_undominated_points() {
        let pts = [
            (0.0, 1000.0), // off: cheapest, largest -> optimal
            (5.0, 400.0),  // optimal
            (6.0, 400.0),  // dominated by (5, 400): more CPU, same bytes
            (5.0, 450.0),  // dominated by (5, 400): same CPU, more bytes
            (20.0, 300.0), // optimal
            (30.0, 310.0), // dominated by (20, 300)
            (50.0, 290.0), // optimal: fewest bytes
            (20.0, 300.0), // equal to an optimal point: optimal too
            (f64::NAN, 1.0),
        ];
        assert_eq!(
            pareto(&pts),
            [true, true, false, false, true, false, true, true, false]
        );
        assert!(pareto(&[]).is_empty());
        assert_eq!(pareto(&[(3.0, 3.0)]), [true]);
    }
}
