//! What a FOCUS import refuses, and how it says so: a column named twice, an empty file, a
//! value or a line past `[import]`'s limits, a gzip bomb (with the importing process's own
//! peak memory bounded), and errors whose line is the file's physical line as `grep -n`
//! counts it, in LF and CRLF files alike. Nothing from a refused file is stored.

use crate::both_backends;
use crate::helpers::{shared_data, TestApp};
use std::path::Path;

const SAMPLE: &str = "focus/focus_sample.csv";

/// The sample's header and records, as text.
fn sample(csv: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(csv).unwrap();
    let headers = reader.headers().unwrap().iter().map(str::to_string).collect();
    let records = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    (headers, records)
}

fn column(headers: &[String], name: &str) -> usize {
    headers.iter().position(|h| h == name).unwrap()
}

/// Writes `headers` and `records` as a CSV ending its lines with `crlf` or `\n`, with a blank
/// line after the `blank_after`th record.
fn written(headers: &[String], records: &[Vec<String>], crlf: bool, blank_after: usize) -> Vec<u8> {
    let terminator = if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
    let write = |rows: &mut dyn Iterator<Item = &Vec<String>>| {
        let mut writer = csv::WriterBuilder::new().flexible(true).terminator(terminator).from_writer(Vec::new());
        rows.for_each(|row| writer.write_record(row).unwrap());
        writer.into_inner().unwrap()
    };
    let split = blank_after.min(records.len());
    let mut bytes = write(&mut std::iter::once(&headers.to_vec()).chain(&records[..split]));
    if blank_after > 0 {
        bytes.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    }
    bytes.extend(write(&mut records[split..].iter()));
    bytes
}

/// The line `grep -a -n -F needle` reports first.
fn grep_line(bytes: &[u8], needle: &str) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file.csv");
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("grep").args(["-a", "-n", "-m1", "-F", needle]).arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split(':').next().unwrap().parse().unwrap_or_else(|_| panic!("grep found no {needle}: {text}"))
}

async fn refused(app: &TestApp, body: Vec<u8>) -> (u16, serde_json::Value) {
    let response = app.post_csv(body).await;
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(app.count_costs().await, 0, "a refused file stores nothing: {body}");
    (status, body["detail"].clone())
}

async fn error_lines_are_the_lines_grep_counts(app: TestApp) {
    let Some(csv) = shared_data(SAMPLE) else { return };
    let (headers, records) = sample(&csv);
    let (billed, start, description) =
        (column(&headers, "BilledCost"), column(&headers, "ChargePeriodStart"), column(&headers, "ChargeDescription"));
    let resource = column(&headers, "ResourceId");
    for crlf in [false, true] {
        // Every case has a newline quoted inside a value and a blank line above its bad row,
        // which a count of records (rather than of lines) gets wrong.
        let with = |at: usize, edit: &dyn Fn(&mut Vec<String>)| {
            let mut records = records.clone();
            records[20][description] = "two\nlines".to_string();
            edit(&mut records[at]);
            written(&headers, &records, crlf, 100)
        };
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("a bad number", with(300, &|r| r[billed] = "12,5x".into()), "12,5x"),
            ("a bad timestamp", with(310, &|r| r[start] = "soon-ish".into()), "soon-ish"),
            (
                "a short row",
                with(320, &|r| {
                    r[resource] = "short-row-marker".into();
                    r.remove(usize::from(resource == 0));
                }),
                "short-row-marker",
            ),
            ("not UTF-8", with(330, &|r| r[resource] = "UTF8MARK".into()), "UTF8"),
        ];
        for (what, mut body, needle) in cases {
            if what == "not UTF-8" {
                let at = body.windows(8).position(|w| w == b"UTF8MARK").unwrap();
                body[at + 4..at + 6].copy_from_slice(&[0xff, 0xfe]);
            }
            let expected = grep_line(&body, needle);
            let (status, detail) = refused(&app, body).await;
            assert!(status == 400 || status == 422, "{what}: {status} {detail}");
            assert_eq!(detail["line"].as_u64(), Some(expected), "{what} (crlf: {crlf}): {detail}");
        }
        // A repeated record is reported at its own line, the file's last.
        let mut records = records.clone();
        records.push(records[5].clone());
        let body = written(&headers, &records, crlf, 100);
        let last_line = body.iter().filter(|&&b| b == b'\n').count() as u64;
        let (_, detail) = refused(&app, body).await;
        assert_eq!(detail["line"].as_u64(), Some(last_line), "repeat (crlf: {crlf}): {detail}");
        assert!(detail["message"].as_str().unwrap().contains(&format!("line {}", 5 + 2)), "{detail}");
    }
}

async fn a_column_named_twice_is_refused_naming_both(app: TestApp) {
    let Some(csv) = shared_data(SAMPLE) else { return };
    let (mut headers, records) = sample(&csv);
    let (billed, list) = (column(&headers, "BilledCost"), column(&headers, "ListCost"));
    headers[list] = "BilledCost".into();
    let (status, detail) = refused(&app, written(&headers, &records, false, 0)).await;
    assert_eq!(status, 422);
    assert_eq!(detail["line"].as_u64(), Some(1), "{detail}");
    let expected = format!("column BilledCost appears twice, at positions {} and {}", billed + 1, list + 1);
    assert!(detail["message"].as_str().unwrap().contains(&expected), "{detail}");

    headers[list] = "billedcost".into();
    let (status, detail) = refused(&app, written(&headers, &records, false, 0)).await;
    assert_eq!(status, 422);
    assert!(detail["message"].as_str().unwrap().contains("differ only in case"), "{detail}");
}

async fn an_empty_file_says_it_is_empty(app: TestApp) {
    for body in [Vec::new(), b"\n".to_vec(), b"\r\n\r\n".to_vec()] {
        let (status, detail) = refused(&app, body).await;
        assert_eq!(status, 422);
        assert!(detail["message"].as_str().unwrap().contains("the file is empty"), "{detail}");
    }
}

async fn values_and_lines_past_the_limits_are_refused(app: TestApp) {
    let Some(csv) = shared_data(SAMPLE) else { return };
    let (headers, records) = sample(&csv);
    let description = column(&headers, "ChargeDescription");
    let with_description = |text: String| {
        let mut records = records.clone();
        records[9][description] = text;
        written(&headers, &records, false, 0)
    };
    let (status, detail) = refused(&app, with_description("x".repeat(100_000))).await;
    assert_eq!(status, 422);
    assert_eq!((detail["line"].as_u64(), detail["column"].as_str()), (Some(11), Some("ChargeDescription")), "{detail}");
    assert!(detail["message"].as_str().unwrap().contains("import.max_field_bytes = 65536"), "{detail}");

    let (status, detail) = refused(&app, with_description("x".repeat(10 * 1024 * 1024))).await;
    assert_eq!(status, 422);
    assert_eq!(detail["line"].as_u64(), Some(11), "{detail}");
    assert!(detail["message"].as_str().unwrap().contains("import.max_record_bytes = 1048576"), "{detail}");

    let mut long_header = headers.clone();
    long_header.push("x".repeat(2 * 1024 * 1024));
    let (status, detail) = refused(&app, written(&long_header, &records[..1], false, 0)).await;
    assert_eq!((status, detail["line"].as_u64()), (422, Some(1)), "{detail}");
}

/// 1 GiB of zeros gzipped to a few MB: refused at its first line, and the process that
/// imports it never holds more than the limits allow (its own peak RSS, read while it runs).
async fn a_gzip_bomb_is_refused_with_memory_bounded(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.csv.gz");
    let made = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("head -c 1073741824 /dev/zero | gzip -1 > {}", bomb.display()))
        .status()
        .unwrap();
    assert!(made.success());
    let compressed = std::fs::read(&bomb).unwrap();
    assert!(compressed.len() < 8 << 20, "a bomb: {} bytes", compressed.len());

    let (status, detail) = refused(&app, compressed).await;
    assert_eq!((status, detail["line"].as_u64()), (422, Some(1)), "{detail}");
    assert!(detail["message"].as_str().unwrap().contains("import.max_record_bytes"), "{detail}");

    let mut child = app
        .cli()
        .args(["import", "focus"])
        .arg(&bomb)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let exit = loop {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            let hwm = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(|v| v.trim().trim_end_matches(" kB"));
            peak_kb = peak_kb.max(hwm.and_then(|v| v.parse().ok()).unwrap_or(0));
        }
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!exit.success() && stderr.contains("import.max_record_bytes"), "{stderr}");
    eprintln!("gzip bomb: the importing process peaked at {} MB", peak_kb / 1024);
    assert!(peak_kb > 0 && peak_kb < 150 * 1024, "peak RSS {peak_kb} kB");
    assert_eq!(app.count_costs().await, 0);
}

both_backends!(
    error_lines_are_the_lines_grep_counts,
    a_column_named_twice_is_refused_naming_both,
    an_empty_file_says_it_is_empty,
    values_and_lines_past_the_limits_are_refused,
    a_gzip_bomb_is_refused_with_memory_bounded
);
