//! Deployment artefacts, checked without a Docker engine or a cluster: the Dockerfile passes
//! hadolint and keeps its runtime contract (non-root, /data volume, health check through the
//! binary, SIGTERM), the binary behaves as that contract says when run with the image's
//! environment, and the Helm chart lints and renders what each kind of install needs.

use crate::helpers::{tool, until};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The runtime stage's instructions (after the last FROM).
fn runtime_stage() -> Vec<String> {
    let text = std::fs::read_to_string(repo("Dockerfile")).unwrap();
    // Join continuation lines.
    let joined = text.replace("\\\n", " ");
    let lines: Vec<String> =
        joined.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect();
    let last_from = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    lines[last_from..].to_vec()
}

#[test]
fn the_dockerfile_lints_and_keeps_its_runtime_contract() {
    let stage = runtime_stage();
    let has = |prefix: &str| stage.iter().find(|l| l.starts_with(prefix)).cloned();
    assert_eq!(has("USER ").as_deref(), Some("USER 10001:10001"), "runs as a numeric non-root user");
    assert_eq!(has("VOLUME ").as_deref(), Some("VOLUME [\"/data\"]"));
    assert_eq!(has("STOPSIGNAL ").as_deref(), Some("STOPSIGNAL SIGTERM"));
    let health = has("HEALTHCHECK ").unwrap();
    assert!(health.contains("CMD [\"/usr/local/bin/costguard\", \"healthcheck\"]"), "{health}");
    assert!(has("LABEL ").unwrap().contains("org.opencontainers.image.revision=\"${GIT_SHA}\""));
    let whole = std::fs::read_to_string(repo("Dockerfile")).unwrap();
    assert!(whole.contains("ENV COSTGUARD_BUILD_SHA=${GIT_SHA}"), "the build records its commit");
    assert!(!stage.iter().any(|l| l.contains(" curl")), "no curl in the runtime image");
    if let Some(hadolint) = tool("CG_HADOLINT") {
        let out = Command::new(hadolint).arg(repo("Dockerfile")).current_dir(repo("")).output().unwrap();
        assert!(out.status.success(), "hadolint: {}", String::from_utf8_lossy(&out.stdout));
    }
}

/// The image's ENV, with the paths that only exist inside the image replaced.
fn image_env(data: &Path, port: u16) -> Vec<(String, String)> {
    let stage = runtime_stage();
    let env = stage.iter().find(|l| l.starts_with("ENV ")).unwrap();
    env.trim_start_matches("ENV ")
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let v = match k {
                "COSTGUARD_CONFIG" => repo("config.toml").display().to_string(),
                "COSTGUARD_DATA__DIR" => data.display().to_string(),
                "COSTGUARD_SERVER__BIND" => v.replace("8080", &port.to_string()),
                _ => v.to_string(),
            };
            (k.to_string(), v)
        })
        .collect()
}

/// The binary run as the image runs it: `serve` with the image's environment (and the demo
/// off); the health check fails before it is up and passes after; SIGTERM stops it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_keeps_the_images_contract() {
    let data = tempfile::tempdir().unwrap();
    let port = crate::peers::free_port();
    let env = image_env(data.path(), port);
    assert!(env.iter().any(|(k, v)| k == "COSTGUARD_SERVER__BIND" && v.starts_with("0.0.0.0:")), "{env:?}");
    let binary = env!("CARGO_BIN_EXE_costguard");
    let run = |args: &[&str]| {
        let mut c = Command::new(binary);
        c.args(args).envs(env.iter().cloned()).env("COSTGUARD_PROVIDERS__SIMULATED__ENABLED", "false");
        c
    };
    assert!(!run(&["healthcheck"]).output().unwrap().status.success(), "nothing is serving yet");
    let mut server = run(&["serve"]).stderr(Stdio::piped()).spawn().unwrap();
    until("the health check to pass", Duration::from_secs(30), async || {
        run(&["healthcheck"]).output().unwrap().status.success().then_some(())
    })
    .await;
    assert!(data.path().join("costguard.db").exists(), "the data lives on the volume");
    let term = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(term.success());
    let stopped = until("a clean stop", Duration::from_secs(30), async || server.try_wait().unwrap()).await;
    assert!(stopped.success(), "SIGTERM ends with exit 0");
}

fn helm(args: &[&str]) -> Option<std::process::Output> {
    let helm = tool("CG_HELM")?;
    Some(Command::new(helm).args(args).current_dir(repo("deploy/helm")).output().unwrap())
}

fn render(values: &[&str]) -> Result<String, String> {
    let mut args = vec!["template", "cg", "costguard"];
    for v in values {
        args.extend(["--set", v]);
    }
    let out = helm(&args).unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

fn render_file(file: &str) -> String {
    let out = helm(&["template", "cg", "costguard", "-f", file]).unwrap();
    assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The documents of one kind in a rendered manifest.
fn kind<'a>(manifest: &'a str, kind: &str) -> Vec<&'a str> {
    manifest.split("\n---").filter(|d| d.contains(&format!("\nkind: {kind}\n"))).collect()
}

/// The ConfigMap's config.toml, unindented.
fn config_toml(manifest: &str) -> String {
    let map = kind(manifest, "ConfigMap")[0];
    let start = map.find("config.toml: |").unwrap();
    map[start..].lines().skip(1).map(|l| l.strip_prefix("    ").unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The values files CI renders: the chart's defaults and every file in ci/.
fn values_files() -> Vec<Option<String>> {
    let mut files: Vec<String> = std::fs::read_dir(repo("deploy/helm/costguard/ci"))
        .unwrap()
        .map(|e| format!("costguard/ci/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".yaml"))
        .collect();
    files.sort();
    std::iter::once(None).chain(files.into_iter().map(Some)).collect()
}

#[test]
fn every_values_file_lints_and_renders_objects_kubernetes_accepts() {
    let (Some(_), Some(validate)) = (helm(&["version"]), tool("CG_KUBE_VALIDATE")) else { return };
    let files = values_files();
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        let mut args = vec!["lint", "--strict", "costguard"];
        args.extend(file.iter().flat_map(|f| ["-f", f.as_str()]));
        let out = helm(&args).unwrap();
        assert!(out.status.success(), "helm lint {file:?}: {}", String::from_utf8_lossy(&out.stdout));
        let manifest = match &file {
            Some(f) => render_file(f),
            None => render(&[]).unwrap(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.yaml");
        std::fs::write(&path, &manifest).unwrap();
        // --strict: an unknown field (a misspelt key in a template) is an error, not ignored.
        let out = Command::new(&validate).args(["--strict", "--quiet"]).arg(&path).output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && !report.contains("ERROR"), "{file:?}: {report}");
        // Only the Prometheus Operator's kinds have no schema there (rules.yml is checked by promtool).
        let unknown: Vec<&str> = report.lines().filter(|l| l.contains("Couldn't find schema")).collect();
        assert!(
            unknown.iter().all(|l| l.contains("PrometheusRule") || l.contains("ServiceMonitor")),
            "{file:?}: {unknown:?}"
        );
    }
}

#[test]
fn the_chart_installs_with_no_values_on_one_sqlite_replica() {
    if helm(&["version"]).is_none() {
        return;
    }
    let manifest = render(&[]).expect("helm template with no values");
    let deployment = kind(&manifest, "Deployment")[0];
    assert!(deployment.contains("replicas: 1") && deployment.contains("type: Recreate"));
    assert!(deployment.contains("claimName: cg-costguard"), "SQLite on the volume");
    assert!(deployment.contains("serviceAccountName: cg-costguard"));
    assert!(deployment.contains("automountServiceAccountToken: false"));
    assert!(deployment.contains("startupProbe:") && deployment.contains("failureThreshold: 60"));
    assert!(!deployment.contains("topologySpreadConstraints"), "nothing to spread with one replica");
    let account = kind(&manifest, "ServiceAccount")[0];
    assert!(account.contains("automountServiceAccountToken: false"));
    assert!(kind(&manifest, "PodDisruptionBudget")[0].contains("maxUnavailable: 1"), "a drain still works");
    let policy = kind(&manifest, "NetworkPolicy")[0];
    assert!(policy.contains("- port: http") && !policy.contains("Egress"), "ingress on HTTP; egress open");
    assert!(kind(&manifest, "Ingress").is_empty());

    // The encryption key is generated: 32 random bytes, base64, kept on uninstall.
    let secret = kind(&manifest, "Secret")[0];
    assert!(secret.contains("helm.sh/resource-policy: keep"));
    let key = secret.lines().find_map(|l| l.trim().strip_prefix("ENCRYPTION_KEY: ")).unwrap().trim_matches('"');
    use base64::Engine;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(key).unwrap().len(), 32, "{key}");
    let again = render(&[]).unwrap();
    assert!(!again.contains(key), "a fresh key per install (upgrades keep the cluster's through lookup)");

    // `helm test`: a pod of the image's own health check against the Service.
    let test = kind(&manifest, "Pod")[0];
    assert!(test.contains("helm.sh/hook: test"));
    assert!(test.contains(r#"args: ["healthcheck", "--url", "http://cg-costguard:8080/readyz"]"#), "{test}");

    // The values schema is closed: a misspelt key fails the install, at any depth.
    for typo in
        ["resorces.limits.memory=1Gi", "resources.limit.memory=1Gi", "ingress.host=x", "postgresql.auth.pasword=x"]
    {
        let err = render(&[typo]).unwrap_err();
        assert!(err.contains("Additional property"), "{typo}: {err}");
    }
}

#[test]
fn the_helm_chart_renders_each_kind_of_install() {
    if helm(&["version"]).is_none() {
        return;
    }
    // Several replicas on an external PostgreSQL.
    let pg = render_file("costguard/ci/postgres-values.yaml");
    let deployment = kind(&pg, "Deployment")[0];
    assert!(deployment.contains("replicas: 3"));
    assert!(deployment.contains("name: COSTGUARD_DATABASE__URL") && deployment.contains("name: costguard-database"));
    assert!(deployment.contains("name: costguard-keys") && deployment.contains("name: costguard-providers"));
    assert!(deployment.contains(":3f2a9c1d0b7e4f5a6c8d9e0f1a2b3c4d5e6f7a8b\""), "the image by SHA");
    assert!(deployment.contains("runAsNonRoot: true") && deployment.contains("readOnlyRootFilesystem: true"));
    assert!(deployment.contains("path: /readyz") && deployment.contains("terminationGracePeriodSeconds: 60"));
    assert!(
        deployment.contains("topologyKey: kubernetes.io/hostname") && deployment.contains("ScheduleAnyway"),
        "replicas spread over nodes by default"
    );
    assert!(kind(&pg, "PersistentVolumeClaim").is_empty() && kind(&pg, "Secret").is_empty(), "secrets are the user's");
    assert!(kind(&pg, "ServiceMonitor")[0].contains("path: /metrics"));
    // The alerting rules, as a PrometheusRule: every alert of deploy/prometheus/rules.yml.
    let rule = kind(&pg, "PrometheusRule")[0];
    let rules = std::fs::read_to_string(repo("deploy/prometheus/rules.yml")).unwrap();
    let alerts: Vec<&str> = rules.lines().map(str::trim).filter(|l| l.starts_with("- alert: ")).collect();
    assert!(alerts.len() >= 8, "{alerts:?}");
    assert!(alerts.iter().all(|a| rule.contains(a)), "the PrometheusRule renders rules.yml");
    assert!(
        rule.contains("release: prometheus") && rule.contains("{{ $labels.source }}"),
        "labels, and Prometheus's own templates left alone"
    );
    // The ConfigMap holds a config.toml the binary accepts.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, config_toml(&pg)).unwrap();
    let settings = costguard::config::Settings::load(Some(&config)).unwrap();
    assert_eq!((settings.cluster.lease_secs, settings.providers.simulated.enabled), (20, false));

    // One replica on SQLite: a volume, never two pods at once, no database URL.
    let sqlite = render_file("costguard/ci/sqlite-values.yaml");
    let deployment = kind(&sqlite, "Deployment")[0];
    assert!(deployment.contains("replicas: 1") && deployment.contains("type: Recreate"));
    assert!(!deployment.contains("COSTGUARD_DATABASE__URL") && deployment.contains("claimName: cg-costguard"));
    assert!(kind(&sqlite, "PersistentVolumeClaim")[0].contains("storage: 2Gi"));
    assert!(kind(&sqlite, "ServiceMonitor").is_empty());
    assert!(kind(&sqlite, "PrometheusRule").is_empty());

    // Behind an Ingress: TLS, the identity on the ServiceAccount, egress rules, the user's spread.
    let ingress = render_file("costguard/ci/ingress-values.yaml");
    let rule = kind(&ingress, "Ingress")[0];
    assert!(rule.contains("ingressClassName: nginx") && rule.contains("secretName: costguard-tls"));
    assert!(rule.contains("host: \"costguard.example.com\"") && rule.contains("name: cg-costguard"));
    assert!(kind(&ingress, "ServiceAccount")[0].contains("eks.amazonaws.com/role-arn"));
    let policy = kind(&ingress, "NetworkPolicy")[0];
    assert!(policy.contains("- Egress") && policy.contains("port: 443") && policy.contains("ingress-nginx"));
    let deployment = kind(&ingress, "Deployment")[0];
    assert!(deployment.contains("topology.kubernetes.io/zone") && !deployment.contains("ScheduleAnyway"));

    // The bundled PostgreSQL: hardened, reachable only from the release, the URL pointing at it.
    let bundled = render_file("costguard/ci/bundled-values.yaml");
    let statefulset = kind(&bundled, "StatefulSet")[0];
    for part in ["runAsUser: 999", "readOnlyRootFilesystem: true", "livenessProbe:", "startupProbe:", "memory: 1Gi"] {
        assert!(statefulset.contains(part), "the bundled PostgreSQL has {part}");
    }
    assert!(kind(&bundled, "NetworkPolicy").iter().any(|p| p.contains("name: cg-postgresql")));
    assert!(bundled.contains("DATABASE_URL: \"postgres://costguard:try-it-out-only@cg-postgresql:5432/costguard\""));
    // With no password given, one is generated, and both Secrets hold the same one.
    let generated = render(&["postgresql.enabled=true", "replicaCount=2"]).unwrap();
    let password = generated.lines().find_map(|l| l.trim().strip_prefix("POSTGRES_PASSWORD: ")).unwrap();
    let password = password.trim_matches('"');
    assert_eq!(password.len(), 32);
    assert!(generated.contains(&format!("postgres://costguard:{password}@cg-postgresql:5432/costguard")));

    // Mistakes stop the render with a message.
    let err = render(&["encryptionKey=k", "replicaCount=2"]).unwrap_err();
    assert!(err.contains("several replicas need PostgreSQL"), "{err}");
    let err = render(&["encryptionKey=k", "replicaCount=1", "service.port=0"]).unwrap_err();
    assert!(err.contains("service.port") || err.contains("minimum"), "the values schema: {err}");
    let err = render(&["encryptionKey=k", "database.url=mysql://x"]).unwrap_err();
    assert!(err.contains("database.url") || err.contains("pattern"), "{err}");
}

/// The Compose file's Prometheus config is valid and its CostGuard settings are ones the
/// binary knows (a typo would stop start-up).
#[test]
fn the_compose_setup_names_real_settings() {
    let compose = std::fs::read_to_string(repo("deploy/compose/compose.yaml")).unwrap();
    let keys: Vec<&str> = compose
        .lines()
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k))
        .filter(|k| k.starts_with("COSTGUARD_") && *k != "COSTGUARD_IMAGE")
        .collect();
    assert!(keys.len() >= 3, "{keys:?}");
    let mut run = Command::new(env!("CARGO_BIN_EXE_costguard"));
    run.args(["healthcheck", "--url", "http://127.0.0.1:9/readyz"]).env("COSTGUARD_CONFIG", repo("config.toml"));
    for key in &keys {
        let value = match *key {
            "COSTGUARD_DATABASE__URL" => "postgres://u:p@127.0.0.1:9/db",
            "COSTGUARD_SECRETS__ENCRYPTION_KEY" => "q2bD0Wc9mWc5lq1QhYdV0d9x8V2J4y6Nn3e3nK1bq8Y=",
            _ => "true",
        };
        run.env(key, value);
    }
    let out = run.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("configuration"), "{stderr}");
    if let Some(promtool) =
        Command::new("promtool").arg("--version").output().ok().filter(|o| o.status.success()).map(|_| "promtool")
    {
        let out = Command::new(promtool)
            .args(["check", "config"])
            .arg(repo("deploy/compose/prometheus.yml"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }
}
