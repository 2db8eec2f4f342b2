//! The baseline on seasonal shapes.

use super::*;

const HOUR: i64 = 3_600;

fn daily_shape(t: i64) -> f64 {
    let hour = (t / HOUR) % 24;
    if (9..18).contains(&hour) {
        100.0
    } else {
        20.0
    }
}

#[test]
fn learns_a_daily_profile_and_picks_the_seasonal_candidate() {
    let mut b = Baseline::new(ModelParams::default(), HOUR);
    for i in 0..24 * 14 {
        b.learn(i * HOUR, daily_shape(i * HOUR));
    }
    let at = 24 * 14 * HOUR + 12 * HOUR;
    let e = b.expect(at);
    assert!((e.expected - 100.0).abs() < 2.0, "{e:?}");
    let night = b.expect(24 * 14 * HOUR + 3 * HOUR);
    assert!((night.expected - 20.0).abs() < 2.0, "{night:?}");
    assert!(e.ready);
}

#[test]
fn a_single_spike_barely_moves_the_baseline() {
    let mut b = Baseline::new(ModelParams::default(), HOUR);
    for i in 0..200 {
        b.learn(i * HOUR, 50.0 + (i % 3) as f64);
    }
    let before = b.expect(201 * HOUR).expected;
    b.learn(200 * HOUR, 5_000.0);
    let after = b.expect(201 * HOUR).expected;
    assert!((after - before).abs() < 1.0, "{before} -> {after}");
}

#[test]
fn warm_up_is_reported() {
    let mut b = Baseline::new(ModelParams::default(), HOUR);
    b.learn(0, 1.0);
    assert!(!b.expect(HOUR).ready);
}

#[test]
fn a_flat_series_has_a_floored_sigma() {
    let mut b = Baseline::new(ModelParams::default(), HOUR);
    for i in 0..100 {
        b.learn(i * HOUR, 40.0);
    }
    let e = b.expect(100 * HOUR);
    assert!((e.sigma - 0.4).abs() < 1e-9, "{e:?}");
    assert!(e.z(40.0).abs() < 1e-9);
}

#[test]
fn z_of_an_exact_zero_sigma_is_signed_infinity() {
    let e = Expectation { expected: 0.0, sigma: 0.0, ready: true };
    assert_eq!(e.z(1.0), f64::INFINITY);
    assert_eq!(e.z(-1.0), f64::NEG_INFINITY);
    assert_eq!(e.z(0.0), 0.0);
}
