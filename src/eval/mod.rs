//! `costguard eval`: the production detector (`detect::replay`, with production's fall rule,
//! severity and parameters, without impact floors) over labelled series in the Numenta
//! Anomaly Benchmark layout, scored with NAB's scheme and by incident (recall, delay, false
//! alarms per series-month, re-alerts; per kind when the labels say it). `scenarios` makes
//! labelled hourly cost series of our own to report on.

pub mod incidents;
pub mod nab;
pub mod scenarios;

use crate::detect::replay::{self, Rules};
use crate::detect::series::Series as DetectorSeries;
use crate::detect::DetectSettings;
use crate::domain::detect::alternatives::{EwmaGaussian, SeasonalMedian};
use crate::domain::detect::decision::Floors;
use crate::domain::detect::incident::Tracker;
use crate::domain::detect::model::{Baseline, BaselineModel};
use crate::domain::detect::series::SeriesId;
use chrono::NaiveDateTime;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

pub use nab::{CorpusScore, Profile};

/// Which baseline the tracker runs over; production uses `RobustHw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Method {
    /// Robust Holt-Winters with level / daily / weekly candidates (production).
    #[default]
    RobustHw,
    /// Median of the same hour over the last days, MAD of recent residuals.
    SeasonalMedian,
    /// Exponentially weighted mean and standard deviation (a z-score).
    Ewma,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {problem}")]
    Input { path: String, problem: String },
}

fn input_error(path: &Path, problem: impl ToString) -> EvalError {
    EvalError::Input { path: path.display().to_string(), problem: problem.to_string() }
}

/// One labelled series.
struct Series {
    name: String,
    timestamps: Vec<NaiveDateTime>,
    values: Vec<f64>,
}

/// The result per file and for the corpus.
pub struct Evaluation {
    pub corpus: CorpusScore,
    /// The corpus scored at the threshold on the continuous anomaly score that NAB's own
    /// optimiser would pick (production's threshold is 0.5): (threshold, score).
    pub best_threshold: (f64, CorpusScore),
    pub files: Vec<(String, nab::FileScore)>,
    /// By incident, over every file.
    pub incidents: incidents::IncidentScore,
}

/// What to evaluate: the series, their NAB windows and, optionally, the spans with their
/// kinds (`kinds.json` from `costguard scenarios`).
pub struct Labelled<'a> {
    pub data: &'a Path,
    pub windows: &'a Path,
    pub kinds: Option<&'a Path>,
}

/// Run the detector over every CSV under `input.data`, scored against its windows.
pub fn evaluate(
    input: &Labelled<'_>,
    settings: &DetectSettings,
    method: Method,
    profile: Profile,
    out: Option<&Path>,
) -> Result<Evaluation, EvalError> {
    let labels = read_windows(input.windows)?;
    let kinds = input.kinds.map(read_kinds).transpose()?;
    let mut files = Vec::new();
    let mut scored = Vec::new();
    let mut by_incident = incidents::IncidentScore::default();
    for path in csv_files(input.data)? {
        let series = read_series(input.data, &path)?;
        let Some(raw_windows) = labels.get(&series.name) else {
            return Err(input_error(&path, format!("no entry for {} in {}", series.name, input.windows.display())));
        };
        let windows = window_rows(&series, raw_windows).map_err(|e| input_error(input.windows, e))?;
        let epochs: Vec<i64> = series.timestamps.iter().map(|t| t.and_utc().timestamp()).collect();
        let step = median_step(&epochs);
        let (alerts, scores) = detect(&series, &epochs, step, settings, method);
        let detections: Vec<bool> = epochs.iter().map(|t| alerts.binary_search(t).is_ok()).collect();
        if let Some(dir) = out {
            write_results(dir, &series, &scores, &windows)?;
        }
        let spans = match kinds.as_ref().and_then(|k| k.get(&series.name)) {
            Some(labelled) => labelled.iter().filter_map(incidents::Span::from_label).collect(),
            None => unlabelled_spans(raw_windows),
        };
        by_incident.add(&incidents::score(&alerts, &epochs, step, &spans));
        files.push((series.name, nab::score_file(&detections, &windows, profile)));
        scored.push((scores, windows));
    }
    let scores: Vec<nab::FileScore> = files.iter().map(|(_, s)| s.clone()).collect();
    let corpus = nab::score_corpus(&scores, profile);
    let best_threshold = best_threshold(&scored, profile);
    Ok(Evaluation { corpus, best_threshold, files, incidents: by_incident })
}

/// One file's anomaly scores (one per row) and its windows (inclusive row ranges).
type ScoredFile = (Vec<f64>, Vec<(usize, usize)>);

/// NAB's optimiser: the threshold on the anomaly score that scores the corpus best, over a
/// grid of twentieths (0.5, production's, among them).
fn best_threshold(scored: &[ScoredFile], profile: Profile) -> (f64, CorpusScore) {
    let at = |threshold: f64| {
        let files: Vec<nab::FileScore> = scored
            .iter()
            .map(|(scores, windows)| {
                let detections: Vec<bool> = scores.iter().map(|&s| s >= threshold).collect();
                nab::score_file(&detections, windows, profile)
            })
            .collect();
        nab::score_corpus(&files, profile)
    };
    (1..20)
        .map(|k| f64::from(k) / 20.0)
        .map(|t| (t, at(t)))
        .max_by(|a, b| a.1.score.total_cmp(&b.1.score))
        .unwrap_or_else(|| (0.5, at(0.5)))
}

fn unlabelled_spans(windows: &[(String, String)]) -> Vec<incidents::Span> {
    let epoch = |s: &str| parse_time(s).map(|t| t.and_utc().timestamp());
    windows.iter().filter_map(|(s, e)| Some(incidents::Span { kind: None, start: epoch(s)?, end: epoch(e)? })).collect()
}

/// The epochs (sorted) at which production's replay opened an incident, any direction, and
/// every point's anomaly score.
fn detect(
    series: &Series,
    epochs: &[i64],
    step: i64,
    settings: &DetectSettings,
    method: Method,
) -> (Vec<i64>, Vec<f64>) {
    let params = &settings.detector;
    let points = epochs.iter().zip(&series.values).map(|(&at, &v)| (at, replay::to_units(v))).collect::<Vec<_>>();
    let input = DetectorSeries {
        id: SeriesId::Tag { key: "eval".into(), value: series.name.clone() },
        currency: "USD".into(),
        step_secs: step,
        points,
        last_is_partial: false,
        running: None,
        last_as_of: None,
    };
    // Impact floors are about money; NAB's values are not, and the scenarios are scored on
    // what the statistics see. Everything else is production's.
    let rules = Rules {
        params,
        floors: Some(Floors::NONE),
        severity: &settings.severity,
        drop_to_fraction: settings.drop_to_fraction,
    };
    let replayed = match method {
        Method::RobustHw => run(Baseline::new(params.model, step), &input, &rules),
        Method::SeasonalMedian => run(SeasonalMedian::new(&params.model, step), &input, &rules),
        Method::Ewma => run(EwmaGaussian::new(&params.model), &input, &rules),
    };
    let mut alerts: Vec<i64> = replayed.found.iter().map(|f| f.started_at).collect();
    alerts.sort_unstable();
    alerts.dedup();
    (alerts, replayed.outcomes.iter().map(|o| o.anomaly_score()).collect())
}

/// Production's replay of `input` over `baseline`, keeping every point's outcome.
fn run<B: BaselineModel>(baseline: B, input: &DetectorSeries, rules: &Rules<'_>) -> replay::Replay {
    replay::replay_with(Tracker::with_baseline(*rules.params, baseline, input.step_secs), input, rules, &[], true)
}

fn read_kinds(path: &Path) -> Result<BTreeMap<String, Vec<scenarios::LabelledSpan>>, EvalError> {
    let text = fs::read_to_string(path).map_err(|e| input_error(path, e))?;
    serde_json::from_str(&text).map_err(|e| input_error(path, format!("not a kinds file: {e}")))
}

/// The typical spacing of the points, in seconds.
pub fn median_step(epochs: &[i64]) -> i64 {
    let mut steps: Vec<i64> = epochs.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0).collect();
    if steps.is_empty() {
        return 3_600;
    }
    steps.sort_unstable();
    steps[steps.len() / 2]
}

fn read_windows(path: &Path) -> Result<BTreeMap<String, Vec<(String, String)>>, EvalError> {
    let text = fs::read_to_string(path).map_err(|e| input_error(path, e))?;
    serde_json::from_str(&text).map_err(|e| input_error(path, format!("not a NAB windows file: {e}")))
}

fn csv_files(dir: &Path) -> Result<Vec<PathBuf>, EvalError> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).map_err(|e| input_error(&d, e))? {
            let path = entry.map_err(|e| input_error(&d, e))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "csv") {
                found.push(path);
            }
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(input_error(dir, "no .csv files found"));
    }
    Ok(found)
}

pub(crate) fn parse_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
}

fn read_series(root: &Path, path: &Path) -> Result<Series, EvalError> {
    let name = path.strip_prefix(root).unwrap_or(path).to_string_lossy().replace('\\', "/");
    let mut reader = csv::Reader::from_path(path).map_err(|e| input_error(path, e))?;
    let (mut timestamps, mut values) = (Vec::new(), Vec::new());
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| input_error(path, e))?;
        let line = i + 2;
        let t = record
            .get(0)
            .and_then(parse_time)
            .ok_or_else(|| input_error(path, format!("line {line}: bad timestamp")))?;
        let v: f64 = record
            .get(1)
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| input_error(path, format!("line {line}: bad value")))?;
        timestamps.push(t);
        values.push(v);
    }
    Ok(Series { name, timestamps, values })
}

/// Window limits as inclusive row ranges: the first row at or after the start, the last at or
/// before the end.
fn window_rows(series: &Series, windows: &[(String, String)]) -> Result<Vec<(usize, usize)>, String> {
    let mut rows = Vec::new();
    for (start, end) in windows {
        let (Some(s), Some(e)) = (parse_time(start), parse_time(end)) else {
            return Err(format!("{}: bad window [{start}, {end}]", series.name));
        };
        let left = series.timestamps.partition_point(|t| *t < s);
        let right = series.timestamps.partition_point(|t| *t <= e);
        if right > left {
            rows.push((left, right - 1));
        }
    }
    Ok(rows)
}

fn write_results(dir: &Path, series: &Series, scores: &[f64], windows: &[(usize, usize)]) -> Result<(), EvalError> {
    let rel = Path::new(&series.name);
    let file = format!("costguard_{}", rel.file_name().map(|f| f.to_string_lossy()).unwrap_or_default());
    let target = dir.join(rel.parent().unwrap_or(Path::new(""))).join(file);
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(|e| input_error(parent, e))?;
    }
    let mut w = csv::Writer::from_path(&target).map_err(|e| input_error(&target, e))?;
    let fail = |e: csv::Error| input_error(&target, e);
    w.write_record(["timestamp", "value", "anomaly_score", "label"]).map_err(fail)?;
    for (i, (t, v)) in series.timestamps.iter().zip(&series.values).enumerate() {
        let label = windows.iter().any(|(l, r)| (*l..=*r).contains(&i));
        w.write_record([
            t.format("%Y-%m-%d %H:%M:%S").to_string(),
            v.to_string(),
            format!("{:.4}", scores.get(i).copied().unwrap_or(0.0)),
            if label { "1".into() } else { "0".into() },
        ])
        .map_err(fail)?;
    }
    w.flush().map_err(|e| input_error(&target, e))
}
