//! One set of message templates for every destination. The templates are written in
//! Slack's mrkdwn (`*bold*`, `` `code` ``, `:emoji:` shortcodes); this turns a rendered
//! text into what the other destinations read: plain text (e-mail, PagerDuty summaries),
//! HTML (e-mail) and the Markdown subset of Adaptive Cards (Teams).
//!
//! User data reaches a text through the payload, so each format renders from a payload
//! whose strings were escaped for it first ([`escaped`]): `<b>` in a series label stays
//! text in an e-mail.

use serde_json::Value;

/// The shortcodes the built-in templates use, as the characters Slack shows for them.
/// Unknown shortcodes (from a user's template) are left as written.
const EMOJI: [(&str, &str); 9] = [
    (":rotating_light:", "🚨"),
    (":arrow_double_up:", "⏫"),
    (":large_green_circle:", "🟢"),
    (":raised_hand:", "✋"),
    (":white_check_mark:", "✅"),
    (":x:", "❌"),
    (":shield:", "🛡️"),
    (":thumbsup:", "👍"),
    (":moneybag:", "💰"),
];

/// The payload with every string passed through `escape`, to render a template into.
pub fn escaped(payload: &Value, escape: &dyn Fn(&str) -> String) -> Value {
    match payload {
        Value::String(s) => Value::String(escape(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| escaped(v, escape)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), escaped(v, escape))).collect()),
        other => other.clone(),
    }
}

/// HTML's five special characters as entities.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The text as plain text: emoji as characters, no markers.
pub fn plain(text: &str) -> String {
    convert(text, ("", ""), ("", ""))
}

/// The text as an HTML fragment (rendered from an HTML-escaped payload): bold and code as
/// elements, lines as `<br>`.
pub fn html(text: &str) -> String {
    convert(text, ("<strong>", "</strong>"), ("<code>", "</code>")).replace('\n', "<br>\n")
}

/// The text in the Markdown of Adaptive Card text blocks (no inline code there).
pub fn adaptive_card(text: &str) -> String {
    convert(text, ("**", "**"), ("", ""))
}

/// The first line of the plain text: a subject or a summary.
pub fn headline(text: &str) -> String {
    plain(text).lines().next().unwrap_or("").trim().to_string()
}

/// Replaces the emoji shortcodes and each `*span*` and `` `span` `` on one line with the
/// given opening and closing markers. A marker without its closing partner on the same
/// line is left as written.
fn convert(text: &str, bold: (&str, &str), code: (&str, &str)) -> String {
    let mut with_emoji = text.to_string();
    for (code, emoji) in EMOJI {
        with_emoji = with_emoji.replace(code, emoji);
    }
    let lines: Vec<String> = with_emoji.lines().map(|line| spans(&spans(line, '`', code), '*', bold)).collect();
    lines.join("\n")
}

fn spans(line: &str, marker: char, (open, close): (&str, &str)) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find(marker) {
        let after = &rest[start + marker.len_utf8()..];
        // A span has content that does not start with a space ("a * b" is no emphasis).
        match after.find(marker) {
            Some(end) if end > 0 && !after.starts_with(' ') => {
                out.push_str(&rest[..start]);
                out.push_str(open);
                out.push_str(&after[..end]);
                out.push_str(close);
                rest = &after[end + marker.len_utf8()..];
            }
            _ => {
                out.push_str(&rest[..start + marker.len_utf8()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEXT: &str = ":rotating_light: *HIGH cost anomaly*: BigQuery\nMostly resource `proj:US.job_7` (+390.00).";

    #[test]
    fn each_format_reads_the_same_template() {
        assert_eq!(plain(TEXT), "🚨 HIGH cost anomaly: BigQuery\nMostly resource proj:US.job_7 (+390.00).");
        assert_eq!(
            html(TEXT),
            "🚨 <strong>HIGH cost anomaly</strong>: BigQuery<br>\nMostly resource <code>proj:US.job_7</code> (+390.00)."
        );
        assert_eq!(adaptive_card(TEXT), "🚨 **HIGH cost anomaly**: BigQuery\nMostly resource proj:US.job_7 (+390.00).");
        assert_eq!(headline(TEXT), "🚨 HIGH cost anomaly: BigQuery");
    }

    #[test]
    fn every_shortcode_of_the_built_in_templates_has_its_character() {
        // An e-mail or a Teams card would otherwise show ":moneybag:" as written.
        for (event, template) in super::super::templates::BUILT_IN {
            for word in template.split_whitespace().filter(|w| w.len() > 2 && w.starts_with(':') && w.ends_with(':')) {
                assert!(EMOJI.iter().any(|(code, _)| code == &word), "{event}: {word} has no character in EMOJI");
            }
        }
    }

    #[test]
    fn lone_markers_and_unknown_shortcodes_stay_as_written() {
        assert_eq!(plain("2 * 3 = 6 :tada: *open"), "2 * 3 = 6 :tada: *open");
        assert_eq!(plain("**"), "**");
    }

    #[test]
    fn user_text_is_escaped_before_it_meets_markup() {
        let payload = escaped(&json!({"label": "<b>x</b> & 'y'", "n": 2, "list": ["<i>"]}), &escape_html);
        assert_eq!(payload, json!({"label": "&lt;b&gt;x&lt;/b&gt; &amp; &#39;y&#39;", "n": 2, "list": ["&lt;i&gt;"]}));
    }
}
