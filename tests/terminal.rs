//! The terminal is restored on every exit path: quit, SIGTERM, SIGHUP (a dropped SSH link)
//! and a panic in a background task. Each test runs `mltop --demo` in a real pseudo-terminal
//! (util-linux `script`), then checks what mltop wrote to it and the tty settings after it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ENTER_ALT: &str = "\u{1b}[?1049h";
const LEAVE_ALT: &str = "\u{1b}[?1049l";
const SHOW_CURSOR: &str = "\u{1b}[?25h";

struct Session {
    child: Child,
    dir: tempfile::TempDir,
    seed: u64,
}

impl Session {
    /// Start `mltop --demo --seed SEED` in a pty; the shell around it records the tty modes
    /// before and after, and mltop's exit code.
    fn start(seed: u64, env: &[(&str, &str)]) -> Session {
        let dir = tempfile::tempdir().unwrap();
        let bin = env!("CARGO_BIN_EXE_mltop");
        let d = dir.path().display();
        let inner = format!(
            "stty -a > {d}/before; stty cols 100 rows 30; {bin} --demo --seed {seed}; echo $? > {d}/rc; stty -a > {d}/after"
        );
        let mut cmd = Command::new("script");
        cmd.args(["-q", "-f", "-c", &inner])
            .arg(dir.path().join("typescript"))
            .env("MLTOP_LOG_DIR", dir.path())
            .env("TERM", "xterm-256color")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .expect("util-linux `script` is needed for the pty tests");
        let s = Session { child, dir, seed };
        s.wait_for(
            |t| t.contains(ENTER_ALT) && t.contains("recsys"),
            "the first frame",
        );
        s
    }

    fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }

    fn typescript(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.path("typescript")).unwrap_or_default())
            .into_owned()
    }

    fn wait_for(&self, pred: impl Fn(&str) -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if pred(&self.typescript()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "timed out waiting for {what}; output so far: {:?}",
            self.typescript()
        );
    }

    /// The PID of this session's mltop, found by its unique seed.
    fn pid(&self) -> u32 {
        let marker = format!("--seed\0{}\0", self.seed);
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let c = String::from_utf8_lossy(&cmdline);
            if c.starts_with(env!("CARGO_BIN_EXE_mltop")) && c.contains(&marker) {
                return pid;
            }
        }
        panic!("mltop with seed {} not found", self.seed);
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args(["-s", sig, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Wait for the session to end; returns mltop's exit code.
    fn finish(mut self) -> (i32, String, Self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "mltop did not exit: {:?}",
                self.typescript()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let rc: i32 = std::fs::read_to_string(self.path("rc"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let t = self.typescript();
        (rc, t, self)
    }

    fn modes(&self, f: &str) -> Vec<String> {
        let s = std::fs::read_to_string(self.path(f)).unwrap();
        // the flags that raw mode changes
        ["icanon", "echo", "isig", "icrnl", "opost"]
            .iter()
            .map(|flag| {
                s.split_whitespace()
                    .find(|w| w.trim_start_matches('-') == *flag)
                    .unwrap_or("?")
                    .to_string()
            })
            .collect()
    }
}

fn assert_restored(t: &str, s: &Session) {
    let enter = t.rfind(ENTER_ALT).expect("entered the alternate screen");
    let leave = t.rfind(LEAVE_ALT).expect("left the alternate screen");
    assert!(leave > enter, "left the alternate screen after entering it");
    assert!(t[enter..].contains(SHOW_CURSOR), "cursor shown again");
    assert_eq!(
        s.modes("before"),
        s.modes("after"),
        "tty modes restored (raw mode off)"
    );
    assert_eq!(s.modes("after")[0], "icanon");
}

fn send_keys(s: &mut Session, keys: &[u8]) {
    use std::io::Write;
    let stdin = s.child.stdin.as_mut().unwrap();
    stdin.write_all(keys).unwrap();
    stdin.flush().unwrap();
}

#[test]
fn quitting_with_q_restores_the_terminal_and_exits_0() {
    let mut s = Session::start(91_001, &[]);
    send_keys(&mut s, b"1");
    s.wait_for(|t| t.contains("System"), "the system view");
    send_keys(&mut s, b"q");
    let (rc, t, s) = s.finish();
    assert_eq!(rc, 0);
    assert_restored(&t, &s);
}

#[test]
fn sigterm_restores_the_terminal_and_exits_143() {
    let s = Session::start(91_002, &[]);
    s.signal("TERM");
    let (rc, t, s) = s.finish();
    assert_eq!(rc, 128 + 15);
    assert_restored(&t, &s);
}

#[test]
fn sighup_from_a_dropped_link_restores_the_terminal_and_exits_129() {
    let s = Session::start(91_003, &[]);
    s.signal("HUP");
    let (rc, t, s) = s.finish();
    assert_eq!(rc, 128 + 1);
    assert_restored(&t, &s);
}

#[test]
fn a_panic_in_a_background_task_restores_the_terminal_and_exits_nonzero() {
    let s = Session::start(91_004, &[("MLTOP_DEBUG_PANIC_AFTER", "1500ms")]);
    let (rc, t, s) = s.finish();
    assert_eq!(rc, 101);
    assert_restored(&t, &s);
    // the report is printed after the screen was restored, so the user can read it
    let leave = t.rfind(LEAVE_ALT).unwrap();
    assert!(
        t[leave..].contains("deliberate panic"),
        "panic message after restore: {:?}",
        &t[leave..]
    );
    let _ = Path::new("");
}
