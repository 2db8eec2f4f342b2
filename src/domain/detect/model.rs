//! The baseline: a robust, streaming Holt-Winters with optional daily and weekly seasonality.
//!
//! Each series runs three candidate models side by side (level only; level + time-of-day;
//! level + time-of-day + day-of-week) and scores against whichever currently predicts best,
//! so a flat series is not penalised by a seasonal model's noise and a strongly daily one gets
//! its profile. Updates use Huber-clipped residuals (Gelper, Fried & Croux, 2010), so a single
//! spike moves the baseline by at most `huber_k` scales; while an incident is open the caller
//! stops learning altogether, so a runaway never becomes the new normal.
//!
//! O(1) time and a few hundred bytes per series; see docs/DETECTION.md for the comparison
//! with the other methods tried.

use serde::{Deserialize, Serialize};

const SECONDS_PER_DAY: i64 = 86_400;
/// Mean absolute deviation to standard deviation for a normal distribution.
const MAD_TO_SIGMA: f64 = 1.2533;
/// A slot's own band is trusted as if the series-wide one were worth this many visits...
const BAND_PRIOR_VISITS: f64 = 4.0;
/// ...and follows its slot's residuals at this rate per visit.
const BAND_SLOT_RATE: f64 = 0.1;

/// Tuning of the baseline; the defaults are what the evaluation chose.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelParams {
    /// Level smoothing per point (0..1).
    pub alpha: f64,
    /// Time-of-day profile smoothing per visit of a slot (0..1).
    pub gamma_daily: f64,
    /// Day-of-week profile smoothing per visit of a slot (0..1).
    pub gamma_weekly: f64,
    /// Scale (mean absolute residual) smoothing per point (0..1).
    pub scale_rate: f64,
    /// Residuals are clipped at this many scales before they update the baseline.
    pub huber_k: f64,
    /// Points before the series may alert at all.
    pub warmup_points: u32,
    /// The time-of-day profile's slot width never goes below this many seconds.
    pub min_slot_secs: i64,
    /// A floor on the scale, as a fraction of the level, so a perfectly flat series does not
    /// turn every rounding wobble into an infinite z-score.
    pub min_scale_ratio: f64,
    /// Also run a candidate with one profile slot per hour of the week.
    pub hour_of_week: bool,
    /// Each profile slot (time of day, or hour of the week) has a band of its own, learnt
    /// from its residuals, instead of one width for every hour: spend's noise grows with its
    /// level, so a nightly batch at ten times the day's rate wobbles ten times as much.
    pub band_per_slot: bool,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams {
            alpha: 0.02,
            gamma_daily: 0.15,
            gamma_weekly: 0.1,
            scale_rate: 0.02,
            huber_k: 2.5,
            warmup_points: 48,
            min_slot_secs: 3_600,
            min_scale_ratio: 0.01,
            hour_of_week: true,
            band_per_slot: true,
        }
    }
}

/// What the baseline expected for one point, before it learns from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expectation {
    pub expected: f64,
    /// One standard deviation of the residual, floored.
    pub sigma: f64,
    /// False while the series is still in warm-up: no alert may be raised from it.
    pub ready: bool,
}

impl Expectation {
    /// Signed distance of `actual` from the expectation, in standard deviations.
    pub fn z(&self, actual: f64) -> f64 {
        if self.sigma > 0.0 {
            (actual - self.expected) / self.sigma
        } else if actual == self.expected {
            0.0
        } else {
            f64::INFINITY.copysign(actual - self.expected)
        }
    }
}

/// What the incident tracker needs from a baseline.
pub trait BaselineModel {
    /// The expectation for a point, before learning from it.
    fn expect(&self, at_epoch_secs: i64) -> Expectation;
    /// Learn from a normal point.
    fn learn(&mut self, at_epoch_secs: i64, actual: f64);
    /// Learn from a point inside an open incident (by default: not at all).
    fn learn_immature(&mut self, _at_epoch_secs: i64, _actual: f64) {}
    /// Points learnt so far.
    fn points(&self) -> u32;
}

impl BaselineModel for Baseline {
    fn expect(&self, at: i64) -> Expectation {
        Baseline::expect(self, at)
    }
    fn learn(&mut self, at: i64, actual: f64) {
        Baseline::learn(self, at, actual)
    }
    fn learn_immature(&mut self, at: i64, actual: f64) {
        Baseline::learn_immature(self, at, actual)
    }
    fn points(&self) -> u32 {
        Baseline::points(self)
    }
}

/// One candidate: level plus optional seasonal profiles, each slot with its own visit count so
/// early estimates are plain averages and later ones exponential.
#[derive(Debug, Clone)]
struct Candidate {
    level: f64,
    daily: Vec<(f64, u32)>,
    weekly: Option<[(f64, u32); 7]>,
    /// Exponentially weighted mean absolute one-step residual: the band's width.
    mad: f64,
    /// The same per profile slot, with its visits (`band_per_slot`).
    slot_mad: Vec<(f64, u32)>,
    /// Exponentially weighted mean squared one-step residual over about a day: which candidate
    /// fits best. Squared, so a model that misses every daily ramp loses to one that does not.
    fit: f64,
    /// Seconds of history a seasonal profile needs before this candidate may be chosen.
    needs_span: i64,
    /// `daily` holds one slot per hour of the week (weekday × time of day), not per time of day.
    hour_of_week: bool,
}

impl Candidate {
    /// Level plus one profile slot per time of day of each weekday: a business-hours or
    /// nightly-batch series whose weekends look nothing like its weekdays, which one additive
    /// offset per weekday cannot express.
    fn hour_of_week(daily_slots: usize) -> Self {
        Candidate { needs_span: 14 * SECONDS_PER_DAY, hour_of_week: true, ..Candidate::new(daily_slots * 7, false) }
    }

    fn new(daily_slots: usize, weekly: bool) -> Self {
        let needs_span = if weekly {
            14 * SECONDS_PER_DAY
        } else if daily_slots > 0 {
            2 * SECONDS_PER_DAY
        } else {
            0
        };
        Candidate {
            level: 0.0,
            daily: vec![(0.0, 0); daily_slots],
            weekly: weekly.then_some([(0.0, 0); 7]),
            mad: 0.0,
            slot_mad: vec![(0.0, 0); daily_slots],
            fit: 0.0,
            needs_span,
            hour_of_week: false,
        }
    }

    fn profile_slot(&self, slot: Slot) -> usize {
        if self.hour_of_week {
            slot.hour_of_week
        } else {
            slot.daily
        }
    }

    fn predict(&self, slot: Slot) -> f64 {
        let daily = self.daily.get(self.profile_slot(slot)).map_or(0.0, |s| s.0);
        let weekly = self.weekly.as_ref().map_or(0.0, |w| w[slot.weekday].0);
        self.level + daily + weekly
    }

    /// One standard deviation of the residual in `slot`, unfloored: the slot's own mean
    /// absolute residual, shrunk towards the series-wide one while the slot has few visits.
    fn sigma(&self, slot: Slot, p: &ModelParams) -> f64 {
        let mad = match self.slot_mad.get(self.profile_slot(slot)) {
            Some(&(own, visits)) if p.band_per_slot => {
                let w = f64::from(visits) / (f64::from(visits) + BAND_PRIOR_VISITS);
                w * own + (1.0 - w) * self.mad
            }
            _ => self.mad,
        };
        mad * MAD_TO_SIGMA
    }

    fn learn(&mut self, slot: Slot, actual: f64, n: u32, learning: bool, fit_rate: f64, p: &ModelParams) {
        let residual = actual - self.predict(slot);
        let limit = p.huber_k * self.sigma(slot, p);
        // Until its profiles have seen their history, a candidate learns unclipped: clipping a
        // daily ramp it has never seen would stop it from ever learning the ramp.
        let clipped = if !learning && limit > 0.0 { residual.clamp(-limit, limit) } else { residual };
        let alpha = p.alpha.max(1.0 / f64::from(n.max(1)));
        self.level += alpha * clipped;
        let rest = (1.0 - alpha) * clipped;
        let profile_slot = self.profile_slot(slot);
        if let Some(s) = self.daily.get_mut(profile_slot) {
            s.1 = s.1.saturating_add(1);
            s.0 += p.gamma_daily.max(1.0 / f64::from(s.1)) * rest;
        }
        if let Some(w) = self.weekly.as_mut() {
            let s = &mut w[slot.weekday];
            s.1 = s.1.saturating_add(1);
            s.0 += p.gamma_weekly.max(1.0 / f64::from(s.1)) * rest;
        }
        let rate = p.scale_rate.max(1.0 / f64::from(n.max(1)));
        let bounded = if limit > 0.0 { residual.abs().min(limit * 1.5) } else { residual.abs() };
        self.mad += rate * (bounded - self.mad);
        if let Some(s) = self.slot_mad.get_mut(profile_slot) {
            s.1 = s.1.saturating_add(1);
            s.0 += BAND_SLOT_RATE.max(1.0 / f64::from(s.1)) * (bounded - s.0);
        }
        self.fit += fit_rate.max(1.0 / f64::from(n.max(1))) * (residual * residual - self.fit);
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    daily: usize,
    weekday: usize,
    hour_of_week: usize,
}

/// The per-series streaming baseline.
#[derive(Debug, Clone)]
pub struct Baseline {
    params: ModelParams,
    slot_secs: i64,
    daily_slots: usize,
    candidates: Vec<Candidate>,
    points: u32,
    first_at: Option<i64>,
    fit_rate: f64,
    /// Exponentially weighted mean of |actual|: the scale floor's reference, so a series that
    /// is mostly zero with occasional bursts still has a finite z-score.
    magnitude: f64,
}

impl Baseline {
    /// A baseline for a series sampled every `step_secs` seconds. Daily seasonality is
    /// modelled when a day holds at least two points; weekly when a week holds at least two.
    pub fn new(params: ModelParams, step_secs: i64) -> Self {
        let step = step_secs.max(1);
        let slot_secs = step.max(params.min_slot_secs).min(SECONDS_PER_DAY);
        let daily_slots = usize::try_from(SECONDS_PER_DAY / slot_secs).unwrap_or(1);
        let mut candidates = vec![Candidate::new(0, false)];
        if daily_slots >= 2 {
            candidates.push(Candidate::new(daily_slots, false));
            candidates.push(Candidate::new(daily_slots, true));
            if params.hour_of_week {
                candidates.push(Candidate::hour_of_week(daily_slots));
            }
        } else if step <= SECONDS_PER_DAY {
            candidates.push(Candidate::new(0, true));
        }
        let fit_rate = (step as f64 / SECONDS_PER_DAY as f64).clamp(0.002, 0.05);
        Baseline { params, slot_secs, daily_slots, candidates, points: 0, first_at: None, fit_rate, magnitude: 0.0 }
    }

    pub fn points(&self) -> u32 {
        self.points
    }

    fn slot(&self, at_epoch_secs: i64) -> Slot {
        let daily_slots = self.daily_slots.max(1);
        let second_of_day = at_epoch_secs.rem_euclid(SECONDS_PER_DAY);
        // 1970-01-01 was a Thursday; weekday 0 is Monday.
        let weekday = usize::try_from((at_epoch_secs.div_euclid(SECONDS_PER_DAY) + 3).rem_euclid(7)).unwrap_or(0);
        let daily = usize::try_from(second_of_day / self.slot_secs).unwrap_or(0).min(daily_slots - 1);
        Slot { daily, weekday, hour_of_week: weekday * daily_slots + daily }
    }

    /// The candidate that currently fits best among those with enough history for their profiles.
    fn best(&self, at_epoch_secs: i64) -> &Candidate {
        let span = self.first_at.map_or(0, |first| at_epoch_secs - first);
        let mut best = &self.candidates[0];
        for c in &self.candidates[1..] {
            if span >= c.needs_span && c.fit < best.fit {
                best = c;
            }
        }
        best
    }

    /// The expectation for a point at `at_epoch_secs`, without learning from it.
    pub fn expect(&self, at_epoch_secs: i64) -> Expectation {
        let slot = self.slot(at_epoch_secs);
        let best = self.best(at_epoch_secs);
        let expected = best.predict(slot);
        let floor = self.params.min_scale_ratio * self.magnitude.max(expected.abs());
        Expectation {
            expected,
            sigma: best.sigma(slot, &self.params).max(floor),
            ready: self.points >= self.params.warmup_points,
        }
    }

    /// Learn from a point inside an open incident: only candidates whose profiles are still
    /// too young to be chosen learn (they are not the ones scoring the incident), so a daily
    /// ramp first seen on day one does not stay an "incident" forever.
    ///
    /// The mature candidates still score themselves on the point (their fit), so the choice
    /// between them stays fair: a level-only model that misses every daily ramp must not look
    /// good just because the ramps were incidents it never had to learn from.
    pub fn learn_immature(&mut self, at_epoch_secs: i64, actual: f64) {
        let Some(first) = self.first_at else { return };
        if !actual.is_finite() {
            return;
        }
        let span = at_epoch_secs - first;
        let slot = self.slot(at_epoch_secs);
        let (n, params, fit_rate) = (self.points.max(1), self.params, self.fit_rate);
        for c in self.candidates.iter_mut() {
            if span < c.needs_span {
                c.learn(slot, actual, n, true, fit_rate, &params);
            } else {
                let residual = actual - c.predict(slot);
                c.fit += fit_rate * (residual * residual - c.fit);
            }
        }
    }

    /// Learn from one observed point.
    pub fn learn(&mut self, at_epoch_secs: i64, actual: f64) {
        if !actual.is_finite() {
            return;
        }
        let slot = self.slot(at_epoch_secs);
        self.points = self.points.saturating_add(1);
        self.first_at.get_or_insert(at_epoch_secs);
        let (n, params, fit_rate) = (self.points, self.params, self.fit_rate);
        let rate = params.scale_rate.max(1.0 / f64::from(n.max(1)));
        self.magnitude += rate * (actual.abs() - self.magnitude);
        let span = self.first_at.map_or(0, |first| at_epoch_secs - first);
        let warming = n <= params.warmup_points / 2;
        for c in &mut self.candidates {
            let learning = warming || span < c.needs_span;
            c.learn(slot, actual, n, learning, fit_rate, &params);
        }
    }
}

#[cfg(test)]
mod tests;
