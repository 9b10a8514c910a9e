//! The `mltop` command: parses the command line, loads the config, and runs the console or one
//! of the headless commands. The terminal is restored on every exit path (see `tui`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use color_eyre::eyre::{Result, WrapErr};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use mltop::app::App;
use mltop::config::{self, Config};
use mltop::demo::{self, DemoOptions};
use mltop::ui::Theme;
use mltop::{sources, status, tui};

/// A terminal operations console for machine-learning systems in production.
#[derive(Parser, Debug)]
#[command(name = "mltop", version, about, long_about = None)]
struct Cli {
    /// Config file (default: $MLTOP_CONFIG, then ~/.config/mltop/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Run against a built-in simulated production on 127.0.0.1 (no setup needed).
    #[arg(long)]
    demo: bool,
    /// Colour theme: dark, light, high-contrast, monochrome, or a file in the themes dir.
    #[arg(long, global = true, value_name = "NAME")]
    theme: Option<String>,
    /// Refuse every command that changes production.
    #[arg(long, global = true)]
    readonly: bool,
    /// Demo: seed of the simulation's randomness.
    #[arg(long, global = true, default_value_t = 42)]
    seed: u64,
    /// Demo: how many demo seconds pass per real second.
    #[arg(long, global = true, default_value_t = 1.0)]
    speed: f64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write the commented example config to the config path.
    Init {
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Validate the config and ping every endpoint (one line each).
    Check,
    /// Print one snapshot of every panel; exit 0 nothing fires, 1 something fires, 2 error.
    Status {
        /// JSON output (the only format for now).
        #[arg(long)]
        json: bool,
        /// How long to wait for every panel to have a reading.
        #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
        wait: Duration,
    },
    /// Promote a model's challenger to champion (through the command layer and audit log).
    Promote {
        model: String,
        /// The [registry.NAME] to use when several are configured.
        #[arg(long)]
        registry: Option<String>,
        /// Confirm without asking.
        #[arg(long)]
        yes: bool,
        /// Second confirmation: promote even though the challenger fails the validation gate.
        #[arg(long)]
        override_gate: bool,
    },
    /// Move a model's champion back to the recorded previous champion.
    Rollback {
        model: String,
        #[arg(long)]
        registry: Option<String>,
        #[arg(long)]
        yes: bool,
    },
    /// Print the validation gate's verdict for a model: exit 0 pass, 1 fail, 2 error.
    Gate {
        model: String,
        #[arg(long)]
        registry: Option<String>,
    },
    /// Trigger a model's retraining pipeline (Airflow), through the command layer.
    Retrain {
        /// The model (as mapped in [[pipelines.NAME.models]]).
        model: String,
        /// Why: drift | performance | schedule | manual (recorded in the run's conf).
        #[arg(long, default_value = "manual", value_parser = ["drift", "performance", "schedule", "manual"])]
        reason: String,
        /// The [pipelines.NAME] to use when several map the model.
        #[arg(long)]
        pipeline: Option<String>,
        /// Confirm without asking (also the second confirmation when a run is already active).
        #[arg(long)]
        yes: bool,
    },
    /// Promote, abort, retry or undo a canary rollout (Argo Rollouts), through the command layer.
    Rollout {
        /// promote | abort | retry | undo
        #[arg(value_parser = ["promote", "abort", "retry", "undo"])]
        action: String,
        /// The rollout's name.
        name: String,
        /// Its namespace (needed when the controller watches several).
        #[arg(long)]
        namespace: Option<String>,
        /// The [rollouts.NAME] to use when several are configured.
        #[arg(long)]
        controller: Option<String>,
        /// promote: skip every remaining step and analysis.
        #[arg(long)]
        full: bool,
        /// Confirm without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Print the audit log (oldest first).
    Audit {
        /// Only records whose target contains this text.
        #[arg(long)]
        target: Option<String>,
        /// Only records since this time: RFC 3339 or a duration ago ("2h").
        #[arg(long)]
        since: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Run the simulated production headless (for other consoles or a real Prometheus).
    Demo {
        /// Write a config pointing at the running demo to FILE.
        #[arg(long, value_name = "FILE")]
        write_config: Option<PathBuf>,
        /// Port of the model server on 127.0.0.1 (default: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

/// Exit code for configuration and usage errors.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let _ = color_eyre::install();
    tui::install_panic_hook();
    sources::http::install_crypto();
    let cli = Cli::parse();
    let _log_guard = init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mltop: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            tui::restore();
            // Not eprintln!: after a dropped SSH link stderr is gone, and printing must not panic.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "mltop: {e:?}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to a file (never the screen): $MLTOP_LOG_DIR, else the XDG state/data dir.
fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = std::env::var_os("MLTOP_LOG_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            directories::ProjectDirs::from("", "", "mltop").map(|d| {
                d.state_dir()
                    .unwrap_or_else(|| d.data_local_dir())
                    .to_path_buf()
            })
        })?;
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::never(&dir, "mltop.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("MLTOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}

fn load_config(cli: &Cli) -> Result<Config, ExitCode> {
    let Some(path) = config::locate(cli.config.as_deref()) else {
        eprintln!(
            "mltop: no config file: there is no home directory to look in\n  hint: pass --config FILE, or try `mltop --demo`"
        );
        return Err(ExitCode::from(EXIT_CONFIG));
    };
    if !path.exists() && cli.config.is_none() && std::env::var_os("MLTOP_CONFIG").is_none() {
        eprintln!(
            "mltop: no config at {}\n  hint: `mltop --demo` shows a simulated production with no setup; `mltop init` writes a commented example config there",
            path.display()
        );
        return Err(ExitCode::from(EXIT_CONFIG));
    }
    Config::load(&path).map_err(|e| {
        eprintln!("mltop: {e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

fn theme_for(cli: &Cli, cfg: &Config) -> Result<Theme, ExitCode> {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let name = cli.theme.as_deref().or(cfg.theme.as_deref());
    Theme::resolve(name, config::themes_dir().as_deref(), no_color).map_err(|e| {
        eprintln!("mltop: {e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Some(Command::Init { force }) => return init(&cli, *force),
        Some(Command::Demo { write_config, port }) => {
            return run_demo(&cli, write_config.clone(), *port).await;
        }
        _ => {}
    }
    let cancel = CancellationToken::new();
    let (mut cfg, demo_handle) = if cli.demo {
        let handle = demo::start(
            DemoOptions {
                seed: cli.seed,
                speed: cli.speed,
            },
            cancel.clone(),
        )
        .await?;
        let sims = start_demo_backends(&handle, cli.speed, &cancel).await?;
        let text = demo::config_toml(&handle.metrics_url)
            + &demo::registry_toml(&sims.registry)
            + &demo::rollouts_toml(&sims.rollouts)
            + &demo::canary_toml()
            + &demo::pipelines_toml(&sims.pipelines, None);
        let mut cfg =
            Config::parse(&text, "<demo config>").map_err(|e| color_eyre::eyre::eyre!("{e}"))?;
        // The demo's commands change nothing real: audit them apart from the real log.
        if cfg.audit_log.is_none() && std::env::var_os("MLTOP_AUDIT_LOG").is_none() {
            cfg.audit_log = mltop::audit::AuditLog::default_path()
                .map(|p| p.with_file_name("demo-audit.jsonl"));
        }
        // The demo Airflow's login, known here rather than read from the environment.
        for p in &mut cfg.pipelines {
            p.auth = config::Auth::Basic {
                username: demo::pipeline::USERNAME.into(),
                password: config::Secret::new(demo::pipeline::PASSWORD),
            };
        }
        // `for:` holds are wall-clock; in a time-lapse demo they shrink with it so the story's
        // timing (pending, then firing a demo minute later) holds at any --speed.
        // So do the windows (a 1-minute window at --speed 20 would otherwise span 20 demo
        // minutes and blur the story's drift); no shorter than two scrapes.
        let speed = cli.speed.max(0.001);
        let floor = 2.0
            * cfg
                .metrics
                .iter()
                .map(|m| m.interval.as_secs_f64())
                .fold(0.0, f64::max);
        for p in cfg.services.iter_mut().flat_map(|s| s.panels.iter_mut()) {
            p.thresholds.hold_secs /= speed;
            p.measure = p.measure.time_lapse(speed, floor);
        }
        for c in &mut cfg.canaries {
            for m in c.metrics.iter_mut().chain(c.traffic.iter_mut()) {
                m.rule.hold_secs /= speed;
                m.measure = m.measure.time_lapse(speed, floor);
            }
        }
        (cfg, Some(handle))
    } else {
        match load_config(&cli) {
            Ok(c) => (c, None),
            Err(code) => return Ok(code),
        }
    };
    cfg.readonly |= cli.readonly;
    match &cli.command {
        Some(Command::Check) => {
            let ok = status::check(&cfg, &mut std::io::stdout()).await?;
            return Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        Some(Command::Promote {
            model,
            registry,
            yes,
            override_gate,
        }) => {
            let mut stdin = std::io::stdin().lock();
            let answers = mltop::cli::Answers::from_flags(*yes, *override_gate, &mut stdin);
            let code = mltop::cli::change(
                &cfg,
                true,
                model,
                registry.as_deref(),
                answers,
                &mut std::io::stdout(),
            )
            .await;
            return Ok(ExitCode::from(code as u8));
        }
        Some(Command::Rollback {
            model,
            registry,
            yes,
        }) => {
            let mut stdin = std::io::stdin().lock();
            let answers = mltop::cli::Answers::from_flags(*yes, false, &mut stdin);
            let code = mltop::cli::change(
                &cfg,
                false,
                model,
                registry.as_deref(),
                answers,
                &mut std::io::stdout(),
            )
            .await;
            return Ok(ExitCode::from(code as u8));
        }
        Some(Command::Retrain {
            model,
            reason,
            pipeline,
            yes,
        }) => {
            let reason = mltop::domain::pipeline::RetrainReason::parse(reason)
                .unwrap_or(mltop::domain::pipeline::RetrainReason::Manual);
            let mut stdin = std::io::stdin().lock();
            let answers = mltop::cli::Answers::from_flags(*yes, *yes, &mut stdin);
            let code = mltop::cli::retrain(
                &cfg,
                model,
                reason,
                pipeline.as_deref(),
                answers,
                &mut std::io::stdout(),
            )
            .await;
            return Ok(ExitCode::from(code as u8));
        }
        Some(Command::Rollout {
            action,
            name,
            namespace,
            controller,
            full,
            yes,
        }) => {
            use mltop::domain::rollout::RolloutCommand;
            let cmd = match (action.as_str(), full) {
                ("promote", true) => RolloutCommand::PromoteFull,
                ("promote", false) => RolloutCommand::Promote,
                ("abort", _) => RolloutCommand::Abort,
                ("retry", _) => RolloutCommand::Retry,
                _ => RolloutCommand::Undo,
            };
            let mut stdin = std::io::stdin().lock();
            let answers = mltop::cli::Answers::from_flags(*yes, *yes, &mut stdin);
            let code = mltop::cli::rollout(
                &cfg,
                cmd,
                name,
                namespace.as_deref(),
                controller.as_deref(),
                answers,
                &mut std::io::stdout(),
            )
            .await;
            return Ok(ExitCode::from(code as u8));
        }
        Some(Command::Gate { model, registry }) => {
            let code =
                mltop::cli::gate(&cfg, model, registry.as_deref(), &mut std::io::stdout()).await;
            return Ok(ExitCode::from(code as u8));
        }
        Some(Command::Audit {
            target,
            since,
            json,
        }) => {
            let since = match since.as_deref().map(parse_since).transpose() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("mltop: {e}");
                    return Ok(ExitCode::from(EXIT_CONFIG));
                }
            };
            let code = mltop::cli::audit(
                &cfg,
                target.as_deref(),
                since,
                *json,
                &mut std::io::stdout(),
            );
            return Ok(ExitCode::from(code as u8));
        }
        Some(Command::Status { json: _, wait }) => {
            let report = match status::snapshot(&cfg, *wait).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("mltop: {e}");
                    return Ok(ExitCode::from(EXIT_CONFIG));
                }
            };
            println!("{}", serde_json::to_string_pretty(&report)?);
            return Ok(ExitCode::from(report.exit_code() as u8));
        }
        _ => {}
    }
    let theme = match theme_for(&cli, &cfg) {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let (tx, rx) = mpsc::channel(256);
    let tasks = TaskTracker::new();
    let runtime = mltop::runtime::Runtime::new(&cfg, tx.clone());
    if let Err(e) = sources::spawn_all(&cfg, tx, &cancel, &tasks) {
        eprintln!("mltop: {e}");
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    let mut app = App::new(&cfg);
    app.demo = demo_handle.is_some();
    if let Some(h) = &demo_handle {
        let speed = cli.speed.max(0.001);
        app.demo_clock = Some((mltop::sources::unix_now() - h.demo_secs() / speed, speed));
    }
    debug_panic_hook();
    let exit = tui::run(app, theme, rx, runtime, cancel.clone()).await?;
    cancel.cancel();
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), tasks.wait()).await;
    Ok(match exit {
        tui::Exit::Quit => ExitCode::SUCCESS,
        tui::Exit::Signal(n) => ExitCode::from(128 + n as u8),
    })
}

/// Fault injection for the terminal-restore tests: `MLTOP_DEBUG_PANIC_AFTER=2s` makes a
/// background task panic after that long, as a bug in any task would.
fn debug_panic_hook() {
    if let Some(d) = std::env::var("MLTOP_DEBUG_PANIC_AFTER")
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
    {
        tokio::spawn(async move {
            tokio::time::sleep(d).await;
            panic!("deliberate panic requested by MLTOP_DEBUG_PANIC_AFTER");
        });
    }
}

/// `--since`: RFC 3339, or a duration ago ("2h").
fn parse_since(s: &str) -> Result<std::time::SystemTime, String> {
    humantime::parse_rfc3339_weak(s)
        .or_else(|_| humantime::parse_duration(s).map(|d| std::time::SystemTime::now() - d))
        .map_err(|_| {
            format!(
                "--since `{s}`: give an RFC 3339 time (2026-12-04T10:00:00Z) or a duration (2h)"
            )
        })
}

fn init(cli: &Cli, force: bool) -> Result<ExitCode> {
    let Some(path) = config::locate(cli.config.as_deref()) else {
        eprintln!("mltop: no home directory; pass --config FILE");
        return Ok(ExitCode::from(EXIT_CONFIG));
    };
    if path.exists() && !force {
        eprintln!(
            "mltop: {} already exists; not overwriting it\n  hint: pass --force to replace it",
            path.display()
        );
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, config::EXAMPLE)
        .wrap_err_with(|| format!("writing {}", path.display()))?;
    println!("wrote {}\nedit it, then run `mltop check`", path.display());
    Ok(ExitCode::SUCCESS)
}

async fn run_demo(cli: &Cli, write_config: Option<PathBuf>, port: u16) -> Result<ExitCode> {
    let cancel = CancellationToken::new();
    let handle = demo::start_on(
        DemoOptions {
            seed: cli.seed,
            speed: cli.speed,
        },
        port,
        cancel.clone(),
    )
    .await?;
    let sims = start_demo_backends(&handle, cli.speed, &cancel).await?;
    println!("demo model server: {}", handle.metrics_url);
    println!("demo registry (MLflow API): {}", sims.registry);
    println!(
        "demo rollouts (Argo Rollouts dashboard API): {}",
        sims.rollouts
    );
    println!(
        "demo pipelines (Airflow 3 API): {} (login {} / {})",
        sims.pipelines,
        demo::pipeline::USERNAME,
        demo::pipeline::PASSWORD
    );
    if let Some(path) = write_config {
        // The demo Airflow's password, beside the config (secrets never go in the config).
        let abs = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        let password_file = abs.with_file_name(format!(
            "{}.airflow-password",
            abs.file_stem().unwrap_or_default().to_string_lossy()
        ));
        write_private(&password_file, demo::pipeline::PASSWORD).wrap_err_with(|| {
            format!(
                "writing the demo Airflow password to {}",
                password_file.display()
            )
        })?;
        // The demo's commands are audited beside its config, not in the real audit log.
        let audit = abs.with_file_name(format!(
            "{}.audit.jsonl",
            abs.file_stem().unwrap_or_default().to_string_lossy()
        ));
        let text = format!("audit_log = {:?}\n", audit.display().to_string())
            + &demo::config_toml(&handle.metrics_url)
            + &demo::registry_toml(&sims.registry)
            + &demo::rollouts_toml(&sims.rollouts)
            + &demo::canary_toml()
            + &demo::pipelines_toml(&sims.pipelines, Some(&password_file));
        std::fs::write(&path, text)
            .wrap_err_with(|| format!("writing the demo config to {}", path.display()))?;
        println!(
            "config written to {} (run: mltop --config {})",
            path.display(),
            path.display()
        );
    }
    println!("seed {} · speed {}x · Ctrl-C stops it", cli.seed, cli.speed);
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let code = tokio::select! {
        _ = tokio::signal::ctrl_c() => 0,
        _ = term.recv() => 0,
        _ = hup.recv() => 0,
    };
    cancel.cancel();
    Ok(ExitCode::from(code))
}

/// The demo's simulated backends, by base URL.
struct DemoBackends {
    registry: String,
    rollouts: String,
    pipelines: String,
}

/// Start the demo registry (MLflow API), rollout controller (Argo Rollouts) and pipeline
/// server (Airflow), each on its own loopback port, driving the same world.
async fn start_demo_backends(
    handle: &demo::DemoHandle,
    speed: f64,
    cancel: &CancellationToken,
) -> color_eyre::Result<DemoBackends> {
    let registry = demo::registry::Registry::demo();
    let pipelines = demo::pipeline::serve(
        demo::pipeline::PipelineSim::demo(handle.world.clone(), Some(registry.clone()), speed),
        cancel.clone(),
    )
    .await?;
    let registry_addr = demo::registry::serve(registry, cancel.clone()).await?;
    let rollouts = demo::rollout::serve(
        demo::rollout::RolloutSim::demo(handle.world.clone()),
        cancel.clone(),
    )
    .await?;
    Ok(DemoBackends {
        registry: format!("http://{registry_addr}"),
        rollouts: format!("http://{rollouts}"),
        pipelines: format!("http://{pipelines}"),
    })
}

/// Write a file only its owner can read (a secret).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}
