//! Whether two success rates differ by more than chance: the two-proportion z-test with a
//! pooled proportion, two-sided. Used to mark A/B variants whose success rate differs
//! from the first variant's (the control).
use serde::Serialize;
use utoipa::ToSchema;

/// The p-value under which a difference is called significant (95% confidence).
pub const ALPHA: f64 = 0.05;

/// The test of one rate against another.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct ZTest {
    /// Positive when the first rate is the higher.
    pub z: f64,
    /// Two-sided.
    pub p_value: f64,
    /// `p_value < 0.05`.
    pub significant: bool,
}

/// `successes_a / trials_a` against `successes_b / trials_b`. `None` when either has no
/// trials or the pooled rate is 0 or 1 (no variance: nothing to test).
pub fn two_proportion_z_test(
    (successes_a, trials_a): (i64, i64),
    (successes_b, trials_b): (i64, i64),
) -> Option<ZTest> {
    if trials_a <= 0 || trials_b <= 0 {
        return None;
    }
    let (na, nb) = (trials_a as f64, trials_b as f64);
    let pooled = (successes_a + successes_b) as f64 / (na + nb);
    let variance = pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb);
    if variance <= 0.0 || !variance.is_finite() {
        return None;
    }
    let z = (successes_a as f64 / na - successes_b as f64 / nb) / variance.sqrt();
    let p_value = erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0);
    Some(ZTest {
        z,
        p_value,
        significant: p_value < ALPHA,
    })
}

/// The complementary error function, by the Chebyshev-fitted exponential of Numerical
/// Recipes (`erfcc`): fractional error below 1.2e-7 everywhere, ample for p-values.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = [
        -1.265_512_23,
        1.000_023_68,
        0.374_091_96,
        0.096_784_18,
        -0.186_288_06,
        0.278_868_07,
        -1.135_203_98,
        1.488_515_87,
        -0.822_152_23,
        0.170_872_77,
    ]
    .iter()
    .rev()
    .fold(0.0, |acc, c| acc * t + c);
    let r = t * (-z * z + poly).exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn erfc_matches_known_values() {
        assert!(close(erfc(0.0), 1.0, 1e-7));
        assert!(close(erfc(1.0), 0.157_299_207, 1e-7));
        assert!(close(erfc(2.0), 0.004_677_735, 1e-8));
        assert!(close(erfc(-1.0), 1.842_700_793, 1e-7));
    }

    // By hand: 50/100 against 30/100 pools to 0.4; the standard error is
    // sqrt(0.4 x 0.6 x (1/100 + 1/100)) = sqrt(0.0048) = 0.069282, so z = 0.2 / 0.069282
    // = 2.886751 and p = erfc(2.886751 / sqrt 2) = 0.003892.
    #[test]
    fn a_clear_difference_is_significant() {
        let t = two_proportion_z_test((50, 100), (30, 100)).unwrap();
        assert!(close(t.z, 2.886_751, 1e-5), "{t:?}");
        assert!(close(t.p_value, 0.003_892, 1e-5), "{t:?}");
        assert!(t.significant);
        // The other way round only the sign changes.
        let back = two_proportion_z_test((30, 100), (50, 100)).unwrap();
        assert!(close(back.z, -t.z, 1e-12) && close(back.p_value, t.p_value, 1e-12));
    }

    // By hand: 10/20 against 8/20 pools to 0.45; se = sqrt(0.45 x 0.55 x 0.1) = 0.157321,
    // z = 0.1 / 0.157321 = 0.635642, p = 0.525010.
    #[test]
    fn a_small_sample_is_not() {
        let t = two_proportion_z_test((10, 20), (8, 20)).unwrap();
        assert!(close(t.z, 0.635_642, 1e-5), "{t:?}");
        assert!(close(t.p_value, 0.525_010, 1e-5), "{t:?}");
        assert!(!t.significant);
        // 12% against 10% of a thousand each: z = 1.429301, p = 0.152918.
        let t = two_proportion_z_test((120, 1000), (100, 1000)).unwrap();
        assert!(close(t.z, 1.429_301, 1e-5) && close(t.p_value, 0.152_918, 1e-5));
        assert!(!t.significant);
    }

    #[test]
    fn nothing_to_test_gives_none() {
        assert_eq!(two_proportion_z_test((0, 0), (3, 10)), None);
        assert_eq!(two_proportion_z_test((0, 10), (0, 10)), None);
        assert_eq!(two_proportion_z_test((10, 10), (5, 5)), None);
    }
}
