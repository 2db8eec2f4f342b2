//! Baselines the production one was compared against (docs/DETECTION.md); `costguard eval
//! --method` runs them through the same incident tracker and scoring.

use super::model::{BaselineModel, Expectation, ModelParams};

const MAD_TO_SIGMA: f64 = 1.4826;

/// Exponentially weighted mean and variance, no seasonality, no robustness: the classic
/// "z-score" (NAB's windowed Gaussian is its sliding-window twin).
#[derive(Debug, Clone)]
pub struct EwmaGaussian {
    rate: f64,
    mean: f64,
    var: f64,
    points: u32,
    warmup: u32,
}

impl EwmaGaussian {
    pub fn new(params: &ModelParams) -> Self {
        EwmaGaussian { rate: params.scale_rate, mean: 0.0, var: 0.0, points: 0, warmup: params.warmup_points }
    }
}

impl BaselineModel for EwmaGaussian {
    fn expect(&self, _at: i64) -> Expectation {
        Expectation { expected: self.mean, sigma: self.var.sqrt(), ready: self.points >= self.warmup }
    }
    fn learn(&mut self, _at: i64, x: f64) {
        self.points += 1;
        let rate = self.rate.max(1.0 / f64::from(self.points));
        let d = x - self.mean;
        self.mean += rate * d;
        self.var = (1.0 - rate) * (self.var + rate * d * d);
    }
    fn points(&self) -> u32 {
        self.points
    }
}

/// Seasonal median / MAD: the expectation is the median of the last `KEEP` values seen at
/// the same time of day; the scale is the MAD of the last `RESIDUALS` residuals.
#[derive(Debug, Clone)]
pub struct SeasonalMedian {
    slot_secs: i64,
    slots: Vec<Vec<f64>>,
    residuals: Vec<f64>,
    next_residual: usize,
    points: u32,
    warmup: u32,
    min_scale_ratio: f64,
}

const KEEP: usize = 5;
const RESIDUALS: usize = 96;

impl SeasonalMedian {
    pub fn new(params: &ModelParams, step_secs: i64) -> Self {
        let slot_secs = step_secs.max(params.min_slot_secs).min(86_400);
        let slots = usize::try_from(86_400 / slot_secs).unwrap_or(1).max(1);
        SeasonalMedian {
            slot_secs,
            slots: vec![Vec::new(); slots],
            residuals: Vec::new(),
            next_residual: 0,
            points: 0,
            warmup: params.warmup_points,
            min_scale_ratio: params.min_scale_ratio,
        }
    }

    fn slot(&self, at: i64) -> usize {
        usize::try_from(at.rem_euclid(86_400) / self.slot_secs).unwrap_or(0).min(self.slots.len() - 1)
    }
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

impl BaselineModel for SeasonalMedian {
    fn expect(&self, at: i64) -> Expectation {
        let mut recent = self.slots[self.slot(at)].clone();
        let expected = median(&mut recent);
        let mut abs: Vec<f64> = self.residuals.iter().map(|r| r.abs()).collect();
        let sigma = (MAD_TO_SIGMA * median(&mut abs)).max(self.min_scale_ratio * expected.abs());
        Expectation { expected, sigma, ready: self.points >= self.warmup && !self.slots[self.slot(at)].is_empty() }
    }
    fn learn(&mut self, at: i64, x: f64) {
        let expected = self.expect(at).expected;
        let slot = self.slot(at);
        let recent = &mut self.slots[slot];
        if recent.len() == KEEP {
            recent.remove(0);
        }
        recent.push(x);
        if self.residuals.len() < RESIDUALS {
            self.residuals.push(x - expected);
        } else {
            self.residuals[self.next_residual] = x - expected;
            self.next_residual = (self.next_residual + 1) % RESIDUALS;
        }
        self.points += 1;
    }
    fn points(&self) -> u32 {
        self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_tracks_mean_and_spread() {
        let mut m = EwmaGaussian::new(&ModelParams::default());
        for i in 0..1_000 {
            m.learn(i, if i % 2 == 0 { 9.0 } else { 11.0 });
        }
        let e = m.expect(0);
        assert!((e.expected - 10.0).abs() < 0.1 && (e.sigma - 1.0).abs() < 0.1, "{e:?}");
    }

    #[test]
    fn seasonal_median_ignores_one_outlier_per_slot() {
        let mut m = SeasonalMedian::new(&ModelParams::default(), 3_600);
        for day in 0..6 {
            for hour in 0..24 {
                let v = if day == 3 && hour == 5 { 1_000.0 } else { f64::from(hour) };
                m.learn(day * 86_400 + i64::from(hour) * 3_600, v);
            }
        }
        assert_eq!(m.expect(6 * 86_400 + 5 * 3_600).expected, 5.0);
    }
}
