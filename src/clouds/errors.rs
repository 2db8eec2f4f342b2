//! A provider failure as one line a person can act on: the provider's own error code and
//! message when it answered, or what stopped the call before it could (no credentials, a
//! refused connection, a timeout). SDK errors carry nested structures whose Debug output
//! (`DispatchFailure(DispatchFailure { source: ConnectorError { ...`) is useless in a log or
//! on the Sources page; this walks the error chain instead.

use aws_credential_types::provider::error::CredentialsError;
use gcp_bigquery_client::error::BQError;
use std::error::Error;

/// The error and its causes in one line, each part once.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let part = match known(cause) {
            Some(known) => {
                push(&mut parts, known);
                break; // A recognised cause already says what its own causes would.
            }
            None => first_line(&cause.to_string()),
        };
        push(&mut parts, part);
    }
    parts.join(": ")
}

/// The AWS SDK's wrappers that say only which layer failed, not what: left out.
const WRAPPERS: [&str; 3] = ["dispatch failure", "other", "unhandled error"];

/// Adds a part unless it repeats what the line already says (SDKs often wrap an error in one
/// whose message includes the inner one) or is a bare wrapper.
fn push(parts: &mut Vec<String>, part: String) {
    let part = part.trim().trim_end_matches(':').trim().to_string();
    if part.is_empty() || WRAPPERS.contains(&part.as_str()) || parts.iter().any(|p| p.contains(&part)) {
        return;
    }
    parts.push(part);
}

/// The causes worth their own wording.
fn known(cause: &(dyn Error + 'static)) -> Option<String> {
    if let Some(credentials) = cause.downcast_ref::<CredentialsError>() {
        return Some(aws_credentials(credentials));
    }
    if let Some(BQError::ResponseError { error }) = cause.downcast_ref::<BQError>() {
        let e = &error.error;
        return Some(format!("BigQuery refused ({} {}): {}", e.code, e.status, first_line(&e.message)));
    }
    None
}

fn aws_credentials(error: &CredentialsError) -> String {
    match error {
        CredentialsError::CredentialsNotLoaded(_) => "no AWS credentials found (tried the environment, the profile, \
             web identity, ECS and instance metadata): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
             AWS_PROFILE or a role, or enter keys in Settings → Providers"
            .to_string(),
        CredentialsError::ProviderTimedOut(_) => "AWS credentials: the credential provider timed out".to_string(),
        other => format!("AWS credentials could not be loaded: {}", innermost(other)),
    }
}

/// The deepest cause's message: the specific one.
fn innermost(error: &(dyn Error + 'static)) -> String {
    let mut inner = error;
    while let Some(next) = inner.source() {
        inner = next;
    }
    first_line(&inner.to_string())
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_becomes_one_line_without_repeats() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused\n(details)");
        let e = anyhow::Error::new(inner).context("tcp connect error: Connection refused").context("calling Azure");
        assert_eq!(one_line(&e), "calling Azure: tcp connect error: Connection refused");
    }

    #[test]
    fn missing_aws_credentials_say_what_to_set() {
        let e = anyhow::Error::new(CredentialsError::not_loaded("no credentials in the chain"))
            .context("calling Cost Explorer");
        let line = one_line(&e);
        assert!(line.starts_with("calling Cost Explorer: no AWS credentials found"), "{line}");
        assert!(line.contains("AWS_ACCESS_KEY_ID") && !line.contains('\n'), "{line}");
    }

    #[test]
    fn a_bigquery_refusal_keeps_its_code_status_and_message() {
        let body = serde_json::json!({"error": {"code": 404, "errors": [], "message": "Not found: Job p:US.bquxjob_1", "status": "NOT_FOUND"}});
        let error = serde_json::from_value(body).unwrap();
        let e = anyhow::Error::new(BQError::ResponseError { error }).context("cancelling the job");
        assert_eq!(one_line(&e), "cancelling the job: BigQuery refused (404 NOT_FOUND): Not found: Job p:US.bquxjob_1");
    }
}
