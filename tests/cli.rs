//! The `mltop` binary as scripts and users meet it: bad configs give one clear error each and
//! exit 2 without touching the terminal; `init`, `check` and `status --json` work end to end
//! against the demo world run headless (`mltop demo`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn mltop() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mltop"));
    c.env_remove("MLTOP_CONFIG").env_remove("NO_COLOR");
    c.env(
        "MLTOP_LOG_DIR",
        std::env::temp_dir().join("mltop-test-logs"),
    );
    c
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Run `mltop --config FILE check` on a bad config and return stderr, after checking the
/// contract: exit 2, nothing on stdout, no terminal escape sequences anywhere.
fn config_error(file: &Path) -> String {
    let out = mltop()
        .arg("--config")
        .arg(file)
        .arg("check")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code for {}: {err}",
        file.display()
    );
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
    assert!(
        !err.contains('\u{1b}'),
        "escape sequences on a config error: {err:?}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("mltop:")).count(),
        1,
        "one error: {err}"
    );
    assert!(err.contains("hint:"), "says what to do: {err}");
    err
}

#[test]
fn unknown_key_is_named_with_its_table_and_place() {
    let e = config_error(&fixture("unknown_key.toml"));
    assert!(e.contains("unknown_key.toml:6:1"), "{e}");
    assert!(e.contains("`metrics.prom.intervall`"), "{e}");
    assert!(e.contains("expected one of"), "{e}");
}

#[test]
fn wrong_type_is_named_with_the_expected_type() {
    let e = config_error(&fixture("wrong_type.toml"));
    assert!(e.contains("wrong_type.toml:14:12"), "{e}");
    assert!(e.contains("services.panels.quantile"), "{e}");
    assert!(
        e.contains("invalid type: string \"p99\", expected f64"),
        "{e}"
    );
}

#[test]
fn bad_url_is_refused() {
    let e = config_error(&fixture("bad_url.toml"));
    assert!(e.contains("bad_url.toml:3:7"), "{e}");
    assert!(e.contains("is not an http(s) URL"), "{e}");
}

#[test]
fn missing_file_says_how_to_make_one() {
    let e = config_error(Path::new("/nonexistent/mltop.toml"));
    assert!(e.contains("config file not found"), "{e}");
    assert!(e.contains("mltop init"), "{e}");
}

#[test]
fn other_bad_configs_each_get_one_specific_error() {
    let cases = [
        ("unknown_source.toml", "no metrics source named `promethus`"),
        ("bad_duration.toml", "is not a duration"),
        ("syntax_error.toml", "syntax_error.toml:1:"),
        (
            "secret_missing.toml",
            "MLTOP_TEST_TOKEN_THAT_IS_NOT_SET is not set",
        ),
    ];
    for (file, want) in cases {
        let e = config_error(&fixture(file));
        assert!(e.contains(want), "{file}: {e}");
    }
}

#[test]
fn no_config_anywhere_points_to_the_demo() {
    let home = tempfile::tempdir().unwrap();
    let out = mltop()
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("mltop --demo"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn init_writes_the_example_once_and_check_pings_each_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sub/mltop.toml");
    let out = mltop()
        .arg("--config")
        .arg(&cfg)
        .arg("init")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        mltop::config::EXAMPLE
    );
    let again = mltop()
        .arg("--config")
        .arg(&cfg)
        .arg("init")
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("already exists"));
    // Point the example at two ports where nothing listens: each endpoint gets one FAIL
    // line and check exits 1.
    let closed = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let example = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("127.0.0.1:9090", &format!("127.0.0.1:{}", closed()))
        .replace("127.0.0.1:8000", &format!("127.0.0.1:{}", closed()));
    std::fs::write(&cfg, example).unwrap();
    let out = mltop()
        .arg("--config")
        .arg(&cfg)
        .arg("check")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("FAIL") && l.contains("cannot connect")),
        "{stdout}"
    );
}

/// `mltop demo --write-config FILE` running headless; killed on drop.
struct HeadlessDemo {
    child: Child,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl HeadlessDemo {
    fn start() -> HeadlessDemo {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("demo.toml");
        let mut child = mltop()
            .args(["demo", "--seed", "3", "--write-config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Wait for "config written to ..." before using the file.
        for line in lines.by_ref() {
            if line.unwrap().starts_with("config written to") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        HeadlessDemo {
            child,
            config,
            _dir: dir,
        }
    }
}

impl Drop for HeadlessDemo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status(config: &Path) -> (Output, serde_json::Value) {
    let out = mltop()
        .arg("--config")
        .arg(config)
        .args(["status", "--json", "--wait", "20s"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status --json printed no JSON ({e}): {}", text(&out.stdout)));
    (out, json)
}

#[test]
fn status_json_reports_every_panel_and_exits_0_when_calm() {
    let demo = HeadlessDemo::start();
    let check = mltop()
        .arg("--config")
        .arg(&demo.config)
        .arg("check")
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check.stdout));
    let lines: Vec<String> = text(&check.stdout).lines().map(String::from).collect();
    // one line per endpoint: metrics, registry, rollouts, pipelines (the password is read
    // from the file written beside the config)
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("ok ")), "{lines:?}");
    assert!(lines[2].contains("1 rollouts in ml"), "{lines:?}");
    assert!(
        lines[3].contains("Airflow answers (2 pipelines: recsys_retrain, fraud_retrain)"),
        "{lines:?}"
    );

    let (out, json) = status(&demo.config);
    assert_eq!(out.status.code(), Some(0), "{json:#}");
    assert_eq!(json["firing"], false);
    let panels = json["panels"].as_array().unwrap();
    let p99 = panels
        .iter()
        .find(|p| p["service"] == "recsys" && p["title"] == "p99 latency")
        .expect("a recsys p99 panel");
    let v = p99["value"].as_f64().expect("p99 has a value");
    assert!((0.05..0.3).contains(&v), "calm p99 is ~120 ms, got {v}");
    assert_eq!(p99["unit"], "seconds");
    assert_eq!(p99["state"], "ok");
    assert!(p99["age_seconds"].as_f64().unwrap() < 10.0);
    // a drift panel: its PSI is the value, its method and sample size in the display
    let psi = panels
        .iter()
        .find(|p| p["title"] == "PSI price")
        .expect("a PSI panel");
    assert!(psi["value"].as_f64().unwrap() < 0.1, "{psi}");
    assert!(
        psi["display"].as_str().unwrap().contains("(stable, n "),
        "{psi}"
    );
    for p in panels {
        assert!(p["error"].is_null(), "panel error: {p}");
        assert_ne!(p["state"], "error");
    }
    assert!(
        panels
            .iter()
            .any(|p| p["service"] == "fraud" && p["title"] == "Flag rate")
    );
}

#[test]
fn status_json_exits_1_when_a_panel_fires_and_2_when_a_source_is_down() {
    let demo = HeadlessDemo::start();
    let base = std::fs::read_to_string(&demo.config).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Any traffic at all breaches crit = 1 req/s, with no `for:` → fires at once.
    let firing = dir.path().join("firing.toml");
    let extra = "\n[[services.panels]]\ntitle = \"Requests\"\nlayer = \"system\"\nkind = \"rate\"\nmetric = \"model_requests_total\"\ncrit = 1.0\n";
    std::fs::write(&firing, format!("{base}{extra}")).unwrap();
    let (out, json) = status(&firing);
    assert_eq!(out.status.code(), Some(1), "{json:#}");
    assert_eq!(json["firing"], true);
    assert!(
        json["panels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["title"] == "Requests" && p["state"] == "firing")
    );

    // A source that refuses connections: every panel errors, exit 2.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down = dir.path().join("down.toml");
    let url_line = base.lines().find(|l| l.starts_with("url = ")).unwrap();
    std::fs::write(
        &down,
        base.replace(
            url_line,
            &format!("url = \"http://127.0.0.1:{port}/metrics\""),
        ),
    )
    .unwrap();
    let (out, json) = status(&down);
    assert_eq!(out.status.code(), Some(2), "{json:#}");
    let src = &json["sources"][0];
    assert_eq!(src["ok"], false);
    assert!(
        src["error"].as_str().unwrap().contains("cannot connect"),
        "{src}"
    );
    assert!(
        json["panels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["state"] == "error")
    );
}

fn with_audit<'a>(cmd: &'a mut Command, log: &Path) -> &'a mut Command {
    cmd.env("MLTOP_AUDIT_LOG", log).env("USER", "ci-operator")
}

#[test]
fn cli_twins_gate_promote_rollback_and_audit_through_the_command_layer() {
    let demo = HeadlessDemo::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let run = |args: &[&str]| {
        let out = with_audit(mltop().arg("--config").arg(&demo.config), &log)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (out.status.code(), text(&out.stdout))
    };
    // The demo challenger passes the +1 % gate.
    let (code, out) = run(&["gate", "recsys-ranker"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("ndcg_at_10 0.412 → 0.419 (+1.7 %, needs +1.0 %) PASS"),
        "{out}"
    );

    // Without --yes and with nothing typed, nothing happens.
    let (code, out) = run(&["promote", "recsys-ranker"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("cancelled"), "{out}");

    let (code, out) = run(&["promote", "recsys-ranker", "--yes"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("succeeded") && out.contains("now champion = v13"),
        "{out}"
    );
    // No challenger left: the gate has nothing to judge.
    assert_eq!(run(&["gate", "recsys-ranker"]).0, Some(1));

    let (code, out) = run(&["rollback", "recsys-ranker", "--yes"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("now champion = v12"), "{out}");
    let (code, out) = run(&["rollback", "recsys-ranker", "--yes"]);
    assert_eq!(code, Some(1));
    assert!(out.contains("no previous champion recorded"), "{out}");

    // Read-only refuses before anything is sent, and says so.
    let (code, out) = run(&["--readonly", "promote", "fraud-detector", "--yes"]);
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with("refused: nothing was sent: mltop runs read-only"),
        "{out}"
    );

    let (code, out) = run(&["audit", "--json"]);
    assert_eq!(code, Some(0));
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["command"].as_str().unwrap().into(),
                r["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    // The second rollback had nowhere to go: audited as failed before anything was planned.
    let want = [
        ("promote", "cancelled"),
        ("promote", "succeeded"),
        ("rollback", "succeeded"),
        ("rollback", "failed"),
        ("promote", "refused"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(c, o)| (c.to_string(), o.to_string()))
        .collect();
    assert_eq!(summary, want, "{out}");
    assert!(
        records
            .iter()
            .all(|r| r["user"] == "ci-operator" && r["via"] == "cli")
    );
    let (_, filtered) = run(&["audit", "--target", "fraud"]);
    assert_eq!(filtered.lines().count(), 1, "{filtered}");
    assert!(filtered.contains("refused"));
}

#[test]
fn cli_rollout_twin_promotes_aborts_and_refuses_what_argo_would_not_offer() {
    let demo = HeadlessDemo::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let run = |args: &[&str]| {
        let out = with_audit(mltop().arg("--config").arg(&demo.config), &log)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (out.status.code(), text(&out.stdout))
    };
    // At the start the canary is in its first pause: retry is not offered.
    let (code, out) = run(&["rollout", "retry", "recsys", "--yes"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("retry is possible only when the rollout is Degraded"),
        "{out}"
    );

    let (code, out) = run(&["rollout", "promote", "recsys", "--yes"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("PUT /rollouts/api/v1/rollouts/ml/recsys/promote {\"full\":false}"),
        "{out}"
    );
    assert!(out.contains("succeeded: promote sent · now"), "{out}");
    // The impact preview: one check of canary vs stable from the demo's /metrics page.
    assert!(out.contains("(one check from the CLI"), "{out}");
    assert!(
        out.contains("p99 latency v12 ") && out.contains(" → v13 "),
        "{out}"
    );
    assert!(out.contains("measured canary share of requests"), "{out}");

    let (code, out) = run(&["rollout", "abort", "recsys", "--yes"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("now Degraded") && out.contains("weight 0 %"),
        "{out}"
    );

    let (code, out) = run(&["--readonly", "rollout", "retry", "recsys", "--yes"]);
    assert_eq!(code, Some(1));
    assert!(out.contains("refused: nothing was sent"), "{out}");

    let (_, out) = run(&["audit", "--json"]);
    let outcomes: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["outcome"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        outcomes,
        ["failed", "succeeded", "succeeded", "refused"],
        "{out}"
    );
}

/// The confirmation steps of the CLI twins: `--full --yes` answers both of promote --full's
/// confirmations; typed answers confirm (or, when wrong, cancel) a retrain.
#[test]
fn cli_confirmations_by_flag_and_by_typing() {
    let demo = HeadlessDemo::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let run = |args: &[&str], input: &str| {
        let mut child = with_audit(mltop().arg("--config").arg(&demo.config), &log)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.code(), text(&out.stdout))
    };
    let (code, out) = run(&["rollout", "promote", "recsys", "--full", "--yes"], "");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("now Healthy") && out.contains("weight 100 %"),
        "{out}"
    );

    // a wrong answer cancels and sends nothing
    let (code, out) = run(&["retrain", "recsys-ranker"], "recsys\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("type the model name (recsys-ranker) to confirm"),
        "{out}"
    );
    assert!(out.contains("cancelled: not confirmed"), "{out}");
    // the right one triggers one run
    let (code, out) = run(&["retrain", "recsys-ranker"], "recsys-ranker\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("succeeded: run manual__"), "{out}");
    // a run is now queued: a second retrain needs `again`, and without it nothing is sent
    let (code, out) = run(&["retrain", "recsys-ranker"], "recsys-ranker\nno\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("already queued"), "{out}");
    assert!(out.contains("type `again`"), "{out}");

    let (_, out) = run(&["audit", "--json"], "");
    let outcomes: Vec<String> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {}",
                v["command"].as_str().unwrap(),
                v["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "rollout succeeded",
            "retrain cancelled",
            "retrain succeeded",
            "retrain cancelled"
        ],
        "{out}"
    );
}
