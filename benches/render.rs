//! Full-frame render cost: `ui::render` of the fixed fixture app (tests/support/fixture.rs) into
//! a ratatui `TestBackend`, through `Terminal::draw`, so each iteration is what a real frame
//! costs in CPU minus the terminal write: clear the back buffer, lay out and draw every widget,
//! diff against the previous frame, hand the changed cells to the backend, swap buffers.
//!
//! Goal: ≤ 1 ms per frame at 200x50. Run with `cargo bench --bench render` (docs/performance.md).
//!
//! Cases, each at a fixed `now` unless said otherwise:
//! - `overview/200x50`, `overview/80x24`: the default view, redrawn with nothing changed (the
//!   diff finds no cell to send: the steady-state cost of a redraw);
//! - `overview_tick/200x50`: `now` moves by one second per frame, as on the 1 s age/clock tick,
//!   so the clock and age labels change and the diff has cells to send;
//! - `overview_first_frame/200x50`: a fresh terminal per frame, so every cell is new (the
//!   first frame, or a frame after a resize);
//! - `system_layer/200x50`: the system layer in detail (key `1`);
//! - `help_overlay/200x50`: the overview with the help overlay on top.

#[path = "../tests/support/fixture.rs"]
mod fixture;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mltop::app::{App, Msg};
use mltop::ui::{Theme, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn press(app: &mut App, c: char) {
    app.update(
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
        fixture::NOW,
    );
}

fn terminal(w: u16, h: u16) -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(w, h)).expect("a test terminal")
}

/// Redraw `app` at a fixed time, frame after frame, on one terminal.
fn steady(c: &mut Criterion, name: &str, app: &App, w: u16, h: u16) {
    let theme = Theme::dark();
    let mut t = terminal(w, h);
    c.bench_function(name, |b| {
        b.iter(|| {
            t.draw(|f| render(f, black_box(app), &theme, fixture::NOW))
                .expect("draw");
        })
    });
}

fn benches(c: &mut Criterion) {
    let overview = fixture::app();
    steady(c, "overview/200x50", &overview, 200, 50);
    steady(c, "overview/80x24", &overview, 80, 24);

    let theme = Theme::dark();
    {
        let mut t = terminal(200, 50);
        let mut now = fixture::NOW;
        c.bench_function("overview_tick/200x50", |b| {
            b.iter(|| {
                now += 1.0;
                t.draw(|f| render(f, black_box(&overview), &theme, now))
                    .expect("draw");
            })
        });
    }
    c.bench_function("overview_first_frame/200x50", |b| {
        b.iter_batched_ref(
            || terminal(200, 50),
            |t| {
                t.draw(|f| render(f, black_box(&overview), &theme, fixture::NOW))
                    .expect("draw");
            },
            BatchSize::SmallInput,
        )
    });

    let mut system = fixture::app();
    press(&mut system, '1');
    steady(c, "system_layer/200x50", &system, 200, 50);

    let mut help = fixture::app();
    press(&mut help, '?');
    steady(c, "help_overlay/200x50", &help, 200, 50);
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = frames;
    config = config();
    targets = benches
}
criterion_main!(frames);
