//! The data commands: `eval`, `ingest --once` and `import focus`.

use super::*;
use crate::ingest::Ingestor;

pub(super) fn eval(
    settings: &Settings,
    input: &crate::eval::Labelled<'_>,
    (method, profile): (crate::eval::Method, crate::eval::Profile),
    out: Option<&std::path::Path>,
    json: bool,
) -> anyhow::Result<()> {
    let result = crate::eval::evaluate(input, &settings.detect, method, profile, out)?;
    for (name, f) in &result.files {
        println!(
            "{name:<60} windows {:>2}  detected {:>2}  false positives {:>3}  raw {:>7.3}",
            f.windows, f.detected_windows, f.false_positives, f.raw
        );
    }
    let i = &result.incidents;
    for (kind, k) in &i.by_kind {
        println!(
            "{kind:<16} incidents {:>4}  found {:>4} ({:.2})  within 1 h {:>4}  mean delay {:>6.1} h  re-alerts {:>4}",
            k.incidents,
            k.found,
            k.recall(),
            k.found_within_hour,
            k.mean_delay_hours(),
            k.re_alerts
        );
    }
    if i.benign_charges > 0 {
        println!("benign charges {}  alerted on {}", i.benign_charges, i.benign_charges_alerted);
    }
    println!(
        "{method:?}: incidents {}  recall {:.3}  within 1 h {:.3}  mean delay {:.1} h  false alarms {} ({:.3} per series-month)  re-alerts {:.2} per incident",
        i.all.incidents,
        i.all.recall(),
        i.all.found_within_hour as f64 / i.all.incidents.max(1) as f64,
        i.all.mean_delay_hours(),
        i.false_alarms,
        i.false_alarms_per_series_month(),
        i.all.re_alerts as f64 / i.all.incidents.max(1) as f64,
    );
    let c = &result.corpus;
    println!(
        "{method:?}: NAB score ({profile:?}) {:.1}  precision {:.3}  recall {:.3}  false positives {}  mean delay {:.1} points  files {}",
        c.score, c.precision, c.recall, c.false_positives, c.mean_delay_points, c.files
    );
    let (threshold, best) = &result.best_threshold;
    println!(
        "{method:?}: NAB score ({profile:?}) at NAB's optimised threshold {threshold:.2} on the anomaly score (production's: 0.50) {:.1}  false positives {}",
        best.score, best.false_positives
    );
    if json {
        let mut summary = serde_json::to_value(c)?;
        summary["best_threshold"] = serde_json::json!({ "threshold": threshold, "score": best.score });
        summary["incidents"] = serde_json::json!({
            "incidents": i.all.incidents,
            "recall": i.all.recall(),
            "within_hour": i.all.found_within_hour,
            "mean_delay_hours": i.all.mean_delay_hours(),
            "false_alarms": i.false_alarms,
            "false_alarms_per_series_month": i.false_alarms_per_series_month(),
            "re_alerts": i.all.re_alerts,
            "benign_charges": i.benign_charges,
            "benign_charges_alerted": i.benign_charges_alerted,
            "by_kind": i.by_kind,
        });
        println!("{summary}");
    }
    Ok(())
}

/// `--provider`: a provider of the registry, or one of its sources (named `<provider>-…`).
pub(super) async fn ingest_once(settings: &Settings, provider: Option<&str>) -> anyhow::Result<()> {
    let db = open_database(settings).await?;
    let cipher = settings.cipher()?;
    let vault = crate::clouds::Vault::new(db.clone(), cipher);
    let chosen: Vec<_> = crate::providers::connect(&settings.providers, &db, &vault)
        .sources
        .into_iter()
        .filter(|c| provider.is_none_or(|p| c.source.name() == p || c.source.name().starts_with(&format!("{p}-"))))
        .collect();
    if chosen.is_empty() {
        anyhow::bail!("no enabled provider matches {} (turn one on in config.toml)", provider.unwrap_or("any"));
    }
    // No serve process listens to this one's bus; a running server finds the rows in the database.
    let ingestor = Ingestor::new(db, crate::bus::channels(1).0);
    let mut failed = Vec::new();
    for configured in chosen {
        let name = configured.source.name().to_string();
        match crate::ingest::runner::run_once(&ingestor, configured.source.as_ref()).await {
            Ok(s) => println!("{name}: {} records read, {} new, {} updated", s.received, s.inserted, s.updated),
            Err(e) => {
                eprintln!("{name}: failed: {}", crate::clouds::errors::one_line(&e));
                failed.push(name);
            }
        }
    }
    anyhow::ensure!(failed.is_empty(), "ingestion failed for {}", failed.join(", "));
    Ok(())
}

pub(super) async fn import_focus(settings: &Settings, file: &str, source: &str) -> anyhow::Result<()> {
    let db = open_database(settings).await?;
    // The file's size makes the progress bar determinate; standard input has none.
    let (input, size): (Box<dyn std::io::Read + Send>, Option<u64>) = if file == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        let opened = std::fs::File::open(file).map_err(|e| anyhow::anyhow!("cannot open {file}: {e}"))?;
        let size = opened.metadata().ok().map(|m| m.len());
        (Box::new(opened), size)
    };
    let progress = super::progress::ImportProgress::new(size);
    let input = progress.reading(input);
    let started = std::time::Instant::now();
    // No serve process listens to this one's bus; a running server finds the rows in the database.
    let ingestor = Ingestor::new(db, crate::bus::channels(1).0).with_import_limits(settings.import);
    let rows = progress.clone();
    let report = ingestor.import_csv(source, input, move |n| rows.rows_done(n)).await?;
    progress.finish();
    let secs = started.elapsed().as_secs_f64();
    let s = &report.summary;
    println!(
        "imported {} rows from {file}: {} new, {} updated, {} unchanged in {secs:.1}s ({:.0} rows/s)",
        report.rows,
        s.inserted,
        s.updated,
        s.received - s.changed(),
        report.rows as f64 / secs.max(1e-9)
    );
    Ok(())
}
