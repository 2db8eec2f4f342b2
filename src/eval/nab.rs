//! The Numenta Anomaly Benchmark scoring scheme (Lavin & Ahmad, 2015), for binary detections.
//!
//! Per file: the first 15% of rows (at most 750) are probationary and not scored. Each labelled
//! window earns the scaled sigmoid of its first detection's position (1.0 at the window's left
//! edge, falling towards 0 at its right edge) times the TP weight, or loses the FN weight when it
//! has no detection. Every detection outside a window costs the FP weight times a sigmoid of its
//! distance past the previous window (a full point when there is none or it is far away).
//! The corpus score is normalised so that detecting nothing scores 0 and detecting every window
//! at its first point scores 100.

use serde::Serialize;

/// The three application profiles of NAB's `config/profiles.json`.
#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum)]
pub enum Profile {
    Standard,
    #[value(name = "reward_low_FP_rate")]
    RewardLowFpRate,
    #[value(name = "reward_low_FN_rate")]
    RewardLowFnRate,
}

impl Profile {
    fn weights(self) -> (f64, f64, f64) {
        // (tp, fp, fn)
        match self {
            Profile::Standard => (1.0, 0.11, 1.0),
            Profile::RewardLowFpRate => (1.0, 0.22, 1.0),
            Profile::RewardLowFnRate => (1.0, 0.11, 2.0),
        }
    }
}

fn scaled_sigmoid(relative_position: f64) -> f64 {
    if relative_position > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * relative_position).exp()) - 1.0
    }
}

/// One file's detections scored against its windows (row indices, inclusive).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FileScore {
    pub raw: f64,
    pub windows: usize,
    pub detected_windows: usize,
    pub true_positive_detections: usize,
    pub false_positives: usize,
    pub delays: Vec<usize>,
}

/// Score `detections` (one flag per row) against `windows` (inclusive row ranges, sorted).
pub fn score_file(detections: &[bool], windows: &[(usize, usize)], profile: Profile) -> FileScore {
    let (tp_weight, fp_weight, fn_weight) = profile.weights();
    let rows = detections.len();
    let probation = ((0.15 * rows as f64).floor()).min(750.0) as usize;
    let max_tp = scaled_sigmoid(-1.0);
    let mut score = FileScore::default();
    let mut window_best: Vec<Option<f64>> = vec![None; windows.len()];
    let mut first_detection: Vec<Option<usize>> = vec![None; windows.len()];
    let mut previous: Option<(usize, usize)> = None; // (right index, width)
    let mut next_window = 0;
    for (i, &detected) in detections.iter().enumerate() {
        while next_window < windows.len() && windows[next_window].1 < i {
            let (left, right) = windows[next_window];
            previous = Some((right, right - left + 1));
            next_window += 1;
        }
        let inside = windows.get(next_window).filter(|(left, _)| *left <= i);
        if !detected || i < probation {
            continue;
        }
        match inside {
            Some(&(left, right)) => {
                let width = (right - left + 1) as f64;
                let position = -((right - i + 1) as f64) / width;
                let weighted = scaled_sigmoid(position) * tp_weight / max_tp;
                let best = &mut window_best[next_window];
                *best = Some(best.map_or(weighted, |b: f64| b.max(weighted)));
                first_detection[next_window].get_or_insert(i - left);
                score.true_positive_detections += 1;
            }
            None => {
                let unweighted = match previous {
                    None => -1.0,
                    Some((right, width)) => scaled_sigmoid((i - right) as f64 / (width as f64 - 1.0).max(1.0)),
                };
                score.raw += unweighted * fp_weight;
                score.false_positives += 1;
            }
        }
    }
    for (w, &(_, right)) in windows.iter().enumerate() {
        // A window that ends inside the probationary period is not scored at all.
        if right < probation {
            continue;
        }
        score.windows += 1;
        match window_best[w] {
            Some(best) => {
                score.raw += best;
                score.detected_windows += 1;
                score.delays.extend(first_detection[w]);
            }
            None => score.raw -= fn_weight,
        }
    }
    score
}

/// The corpus summary `costguard eval` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorpusScore {
    pub score: f64,
    pub precision: f64,
    pub recall: f64,
    pub false_positives: usize,
    pub mean_delay_points: f64,
    pub files: usize,
}

pub fn score_corpus(files: &[FileScore], profile: Profile) -> CorpusScore {
    let (tp_weight, _, fn_weight) = profile.weights();
    let raw: f64 = files.iter().map(|f| f.raw).sum();
    let windows: usize = files.iter().map(|f| f.windows).sum();
    let detected: usize = files.iter().map(|f| f.detected_windows).sum();
    let tp: usize = files.iter().map(|f| f.true_positive_detections).sum();
    let fp: usize = files.iter().map(|f| f.false_positives).sum();
    let delays: Vec<usize> = files.iter().flat_map(|f| f.delays.iter().copied()).collect();
    let null = -(windows as f64) * fn_weight;
    let perfect = windows as f64 * tp_weight;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    CorpusScore {
        score: 100.0 * ratio(raw - null, perfect - null),
        precision: ratio(tp as f64, (tp + fp) as f64),
        recall: ratio(detected as f64, windows as f64),
        false_positives: fp,
        mean_delay_points: ratio(delays.iter().sum::<usize>() as f64, delays.len() as f64),
        files: files.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(rows: usize, at: &[usize]) -> Vec<bool> {
        (0..rows).map(|i| at.contains(&i)).collect()
    }

    #[test]
    fn the_sigmoid_matches_the_papers_reference_points() {
        assert!((scaled_sigmoid(-1.0) - 0.98661).abs() < 1e-5);
        assert!((scaled_sigmoid(-0.5) - 0.84828).abs() < 1e-5);
        assert!(scaled_sigmoid(0.0).abs() < 1e-12);
        assert_eq!(scaled_sigmoid(3.5), -1.0);
    }

    #[test]
    fn a_detection_at_the_left_edge_is_perfect_and_nothing_is_null() {
        let windows = [(500, 599)];
        let perfect = score_file(&flags(1000, &[500]), &windows, Profile::Standard);
        assert!((perfect.raw - 1.0).abs() < 1e-12);
        let null = score_file(&flags(1000, &[]), &windows, Profile::Standard);
        assert_eq!(null.raw, -1.0);
        assert_eq!(score_corpus(&[perfect], Profile::Standard).score, 100.0);
        assert_eq!(score_corpus(&[null], Profile::Standard).score, 0.0);
    }

    #[test]
    fn only_the_best_detection_in_a_window_counts_and_later_ones_are_not_false_positives() {
        let s = score_file(&flags(1000, &[550, 560, 590]), &[(500, 599)], Profile::Standard);
        assert_eq!(s.detected_windows, 1);
        assert_eq!(s.false_positives, 0);
        assert_eq!(s.delays, vec![50]);
        let expected = scaled_sigmoid(-50.0 / 100.0) / scaled_sigmoid(-1.0);
        assert!((s.raw - expected).abs() < 1e-12);
    }

    #[test]
    fn false_positives_cost_by_profile_and_distance() {
        let lone = score_file(&flags(1000, &[300]), &[], Profile::Standard);
        assert!((lone.raw + 0.11).abs() < 1e-12);
        let strict = score_file(&flags(1000, &[300]), &[], Profile::RewardLowFpRate);
        assert!((strict.raw + 0.22).abs() < 1e-12);
        // Right after a window the penalty is small.
        let near = score_file(&flags(1000, &[500, 601]), &[(500, 599)], Profile::Standard);
        assert!(near.raw > 1.0 - 0.11 && near.raw < 1.0, "{}", near.raw);
    }

    #[test]
    fn probationary_rows_are_ignored() {
        let s = score_file(&flags(1000, &[10]), &[], Profile::Standard);
        assert_eq!(s.false_positives, 0);
        assert_eq!(s.raw, 0.0);
    }

    #[test]
    fn missing_windows_cost_double_under_the_low_fn_profile() {
        let s = score_file(&flags(1000, &[]), &[(500, 599)], Profile::RewardLowFnRate);
        assert_eq!(s.raw, -2.0);
    }
}
