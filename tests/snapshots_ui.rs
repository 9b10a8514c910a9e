//! Whole-screen snapshots of the console from fixed data (tests/support/fixture.rs), at the
//! SSH size (80x24) and a large terminal (200x50). Review changes with `cargo insta review`.

#[path = "support/fixture.rs"]
mod fixture;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mltop::app::Msg;
use mltop::ui::{Theme, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn screen(app: &mltop::app::App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(f, app, &Theme::dark(), fixture::NOW))
        .unwrap();
    t.backend().to_string()
}

fn press(app: &mut mltop::app::App, c: char) {
    app.update(
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
        fixture::NOW,
    );
}

#[test]
fn overview_at_80x24() {
    insta::assert_snapshot!(screen(&fixture::app(), 80, 24));
}

#[test]
fn overview_at_200x50() {
    insta::assert_snapshot!(screen(&fixture::app(), 200, 50));
}

#[test]
fn system_layer_detail_at_80x24() {
    let mut app = fixture::app();
    press(&mut app, '1');
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn model_layer_detail_at_200x50() {
    let mut app = fixture::app();
    press(&mut app, '2');
    insta::assert_snapshot!(screen(&app, 200, 50));
}

#[test]
fn alerts_view_at_80x24() {
    let mut app = fixture::app();
    press(&mut app, 'a');
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn help_overlay_is_generated_from_the_keymap() {
    let mut app = fixture::app();
    press(&mut app, '?');
    let s = screen(&app, 80, 24);
    for b in mltop::keymap::KEYMAP
        .iter()
        .filter(|b| b.mode == mltop::keymap::Mode::Normal)
    {
        assert!(s.contains(b.description), "help lacks {:?}", b.description);
    }
    insta::assert_snapshot!(s);
}

#[test]
fn second_service_and_read_only_badge() {
    let mut app = fixture::app();
    app.readonly = true;
    press(&mut app, 's');
    let s = screen(&app, 80, 24);
    assert!(s.contains("fraud · demo (2/2)"));
    assert!(s.contains("READ-ONLY"));
    insta::assert_snapshot!(s);
}

#[test]
fn states_are_written_in_words_not_only_colour() {
    let s = screen(&fixture::app(), 80, 24);
    for word in ["✗ FIRING", "? stale", "· n/a", "✓ ok"] {
        assert!(s.contains(word), "missing {word:?} in\n{s}");
    }
}

#[test]
fn short_screens_cut_the_largest_layers_and_say_so() {
    let s = screen(&fixture::app(), 80, 16);
    assert!(s.contains("more: press 1"), "{s}");
    // the firing panels survive the cut
    assert!(s.contains("p99 latency") && s.contains("✗ FIRING"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn tiny_and_odd_sizes_render_without_panicking() {
    let mut app = fixture::app();
    for view in ['0', '1', '2', '3', '4', 'a', '?'] {
        press(&mut app, view);
        for (w, h) in [
            (1, 1),
            (10, 3),
            (20, 5),
            (40, 12),
            (119, 15),
            (120, 16),
            (300, 80),
        ] {
            screen(&app, w, h);
        }
        if view == '?' {
            press(&mut app, '?');
        }
    }
}

#[test]
fn registry_view_at_80x24() {
    let mut app = fixture::app_with_registry();
    press(&mut app, 'm');
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("ndcg_at_10 0.412 → 0.419 (+1.7 %, needs +1.0 %) PASS"),
        "{s}"
    );
    insta::assert_snapshot!(s);
}

#[test]
fn promote_confirmation_states_the_exact_change_at_80x24() {
    let mut app = fixture::app_with_registry();
    press(&mut app, 'm');
    app.update(
        Msg::Key(KeyEvent::new(KeyCode::Char('P'), KeyModifiers::SHIFT)),
        fixture::NOW,
    );
    assert!(app.confirm.is_some());
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("POST /api/2.0/mlflow/registered-models/alias"),
        "{s}"
    );
    assert!(
        s.contains("Enter: send · Esc: cancel"),
        "the keys are never cut off: {s}"
    );
    insta::assert_snapshot!(s);
}

#[test]
fn registry_view_at_200x50() {
    let mut app = fixture::app_with_registry();
    press(&mut app, 'm');
    insta::assert_snapshot!(screen(&app, 200, 50));
}

#[test]
fn a_held_alert_on_data_that_stopped_coming_is_marked_stale() {
    let mut app = fixture::app();
    let p99 = app.services[0]
        .panels
        .iter_mut()
        .find(|p| p.spec.title == "p99 latency")
        .unwrap();
    p99.fail("cannot connect".into());
    let s = screen(&app, 200, 50);
    assert!(s.contains("recsys/p99 latency ✗ FIRING (stale 5s)"), "{s}");
}

#[test]
fn rollouts_view_with_canary_verdict_at_80x24() {
    let mut app = fixture::app_with_rollout();
    press(&mut app, 'o');
    let s = screen(&app, 80, 24);
    for want in [
        "v13 vs v12",
        "✗ FAIL 1m52s",
        "✗ ROLL BACK  roll back suggested — press A to abort (traffic back to v12)",
        "p99 latency +42 % vs stable (max +20 %), for 1m52s ≥ 1m",
        "measured 24.6 %",
    ] {
        assert!(s.contains(want), "missing {want:?} in\n{s}");
    }
    insta::assert_snapshot!(s);
}

#[test]
fn rollout_promote_confirmation_shows_the_impact_at_80x24() {
    let mut app = fixture::app_with_rollout();
    press(&mut app, 'o');
    app.update(
        Msg::Key(KeyEvent::new(KeyCode::Char('P'), KeyModifiers::SHIFT)),
        fixture::NOW,
    );
    let s = screen(&app, 80, 24);
    assert!(s.contains("canary verdict now: ROLL BACK"), "{s}");
    assert!(
        s.contains("p99 latency v12 124 ms → v13 176 ms (+42 %)"),
        "{s}"
    );
    assert!(
        s.contains("Enter: continue to a second confirmation"),
        "{s}"
    );
    insta::assert_snapshot!(s);
}

#[test]
fn rollouts_view_at_200x50() {
    let mut app = fixture::app_with_rollout();
    press(&mut app, 'o');
    insta::assert_snapshot!(screen(&app, 200, 50));
}

#[test]
fn drift_view_ranks_features_and_pairs_the_bins_at_80x24() {
    let mut app = fixture::app();
    press(&mut app, 'd');
    let s = screen(&app, 80, 24);
    for want in [
        "▸ recsys/price",
        "significant",
        "n reference",
        "≤ 50",
        "> 500",
    ] {
        assert!(s.contains(want), "missing {want:?} in\n{s}");
    }
    insta::assert_snapshot!(s);
}

#[test]
fn drift_view_at_200x50() {
    let mut app = fixture::app();
    press(&mut app, 'd');
    insta::assert_snapshot!(screen(&app, 200, 50));
}

#[test]
fn pipelines_view_shows_runs_tasks_and_last_trained_at_80x24() {
    let mut app = fixture::app_with_pipelines();
    press(&mut app, 'p');
    let s = screen(&app, 80, 24);
    for want in [
        "▸ recsys-ranker",
        "trained 2d ago",
        "PAUSED",
        "tasks 1/3: validate_data ✓ · train ▶ · register ·",
        "drift (price) by alice",
        "2025-11-24 15:59:10",
    ] {
        assert!(s.contains(want), "missing {want:?} in\n{s}");
    }
    insta::assert_snapshot!(s);
}

#[test]
fn the_demo_badge_carries_the_story_clock() {
    let mut app = fixture::app();
    app.demo_clock = Some((fixture::NOW - 25.2, 10.0));
    let s = screen(&app, 80, 24);
    assert!(s.lines().next().unwrap().contains("DEMO t=4:12 ×10"), "{s}");
}
