//! The terminal: raw mode and the alternate screen in, and out again on every exit path
//! (quit, error, panic in any task, SIGTERM, SIGHUP from a dropped SSH link); and the event
//! loop that feeds messages to `App::update` and redraws only when something changed.

use std::io::{Stdout, Write, stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use crossterm::event::{Event, EventStream};
use crossterm::terminal::{
    BeginSynchronizedUpdate, Clear, ClearType, EndSynchronizedUpdate, EnterAlternateScreen,
    LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::app::{App, Msg};
use crate::runtime::Runtime;
use crate::sources::{SourceEvent, unix_now};
use crate::ui::{self, Theme};

static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Put the terminal back as we found it. Safe to call from a panic hook, twice, or when the
/// terminal is already gone (SIGHUP): errors are ignored because there is nobody to tell.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = stdout();
        let _ = execute!(
            out,
            EndSynchronizedUpdate,
            LeaveAlternateScreen,
            cursor::Show
        );
        let _ = disable_raw_mode();
        let _ = out.flush();
    }
}

/// Restore the terminal before any panic report is printed, then end the process: a panic in
/// a spawned task must not leave a half-alive app drawing on a cooked terminal.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        tracing::error!(%info, "panic");
        previous(info);
        std::process::exit(101);
    }));
}

fn enter() -> Result<Terminal<CrosstermBackend<Stdout>>> {
    enable_raw_mode().wrap_err("switching the terminal to raw mode (is stdin a terminal?)")?;
    ACTIVE.store(true, Ordering::SeqCst);
    // Clear with a plain escape sequence: ratatui's `Terminal::clear` asks the terminal for the
    // cursor position and waits for the answer, which some terminals and slow links never send.
    execute!(
        stdout(),
        EnterAlternateScreen,
        cursor::Hide,
        Clear(ClearType::All)
    )
    .wrap_err("entering the alternate screen")?;
    Terminal::new(CrosstermBackend::new(stdout())).wrap_err("setting up the terminal")
}

/// The signals that end the console: SIGTERM, SIGHUP (a dropped SSH link), SIGINT.
struct Signals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Quit,
    /// Ended by a signal: the process should exit with 128 + this number.
    Signal(i32),
}

/// Run the console until the user quits or a signal arrives. Sources must already be sending
/// on `rx`; `cancel` stops them when the loop ends.
pub async fn run(
    mut app: App,
    theme: Theme,
    mut rx: mpsc::Receiver<SourceEvent>,
    runtime: Runtime,
    cancel: CancellationToken,
) -> Result<Exit> {
    // The latest audit records, for the audit view (read once, off the async threads).
    if let Some(log) = runtime.audit_log().cloned()
        && let Ok(Ok((records, _))) = tokio::task::spawn_blocking(move || log.read()).await
    {
        let skip = records.len().saturating_sub(200);
        app.audit_tail = records.into_iter().skip(skip).collect();
    }
    let mut signals = Signals {
        term: signal(SignalKind::terminate()).wrap_err("listening for SIGTERM")?,
        hup: signal(SignalKind::hangup()).wrap_err("listening for SIGHUP")?,
        int: signal(SignalKind::interrupt()).wrap_err("listening for SIGINT")?,
    };
    let mut terminal = enter()?;
    let result = event_loop(
        &runtime,
        &mut app,
        &theme,
        &mut terminal,
        &mut rx,
        &mut signals,
    )
    .await;
    cancel.cancel();
    restore();
    result
}

async fn event_loop(
    runtime: &Runtime,
    app: &mut App,
    theme: &Theme,
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    rx: &mut mpsc::Receiver<SourceEvent>,
    signals: &mut Signals,
) -> Result<Exit> {
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;
    loop {
        if dirty {
            draw(terminal, app, theme)?;
            dirty = false;
        }
        let msg = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) => Msg::Key(k),
                Some(Ok(Event::Resize(..))) => Msg::Resize,
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e).wrap_err("reading terminal input"),
                None => return Ok(Exit::Signal(1)), // the terminal went away
            },
            Some(ev) = rx.recv() => Msg::Source(ev),
            _ = tick.tick() => Msg::Tick,
            _ = signals.term.recv() => return Ok(Exit::Signal(15)),
            _ = signals.hup.recv() => return Ok(Exit::Signal(1)),
            _ = signals.int.recv() => return Ok(Exit::Signal(2)),
        };
        dirty |= app.update(msg, unix_now());
        for effect in app.effects.drain(..) {
            runtime.handle(effect);
        }
        if app.quit {
            return Ok(Exit::Quit);
        }
    }
}

/// One frame, inside a synchronized update so slow links (SSH) never show a half-drawn screen.
fn draw(terminal: &mut Terminal<CrosstermBackend<Stdout>>, app: &App, theme: &Theme) -> Result<()> {
    let now = unix_now();
    execute!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    terminal.draw(|f| ui::render(f, app, theme, now))?;
    execute!(terminal.backend_mut(), EndSynchronizedUpdate)?;
    Ok(())
}
