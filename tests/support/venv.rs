//! Python servers pinned from PyPI, each in a venv under `<target>/test-venvs/` that the tests
//! install themselves when it is missing (cached between local runs; CI's `.ci/run` installs
//! the same venvs first, with the same path, pin and marker file). A venv counts as installed
//! only when its marker file holds exactly `package==version`: an interrupted install is redone.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// One pinned PyPI package in its own venv.
pub struct PinnedVenv {
    /// What the messages call it: "Airflow".
    pub name: &'static str,
    /// The PyPI package: "apache-airflow".
    pub package: &'static str,
    pub version: &'static str,
    /// The command the venv must provide in `bin/`: "airflow".
    pub command: &'static str,
    /// Overrides the venv's path when set.
    pub env_var: &'static str,
    /// Written into the venv after a complete install.
    pub marker: &'static str,
    /// The venv's directory under `test-venvs/`: "airflow-3.3.2".
    pub dir: &'static str,
    /// Rough cost, for the progress line: "~1 min, ~300 MB".
    pub cost: &'static str,
}

/// Write a progress line straight to the process's stderr (not captured by the test harness).
pub fn progress(msg: &str) {
    let _ = writeln!(std::io::stderr(), "[mltop test support] {msg}");
}

impl PinnedVenv {
    fn marker_content(&self) -> String {
        format!("{}=={}\n", self.package, self.version)
    }

    /// `$env_var` if set, else `<CARGO_TARGET_DIR or <manifest>/target>/test-venvs/<dir>`.
    pub fn path(&self) -> PathBuf {
        if let Some(v) = std::env::var_os(self.env_var).filter(|v| !v.is_empty()) {
            return PathBuf::from(v);
        }
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => manifest.join(dir), // absolute paths replace the base
            _ => manifest.join("target"),
        };
        target.join("test-venvs").join(self.dir)
    }

    fn is_complete(&self, venv: &Path) -> bool {
        venv.join("bin").join(self.command).is_file()
            && fs::read_to_string(venv.join(self.marker)).is_ok_and(|m| m == self.marker_content())
    }

    /// The venv, installed first when its marker is missing (serialised across test binaries
    /// by `flock`). Panics loudly, saying which step failed and how to fix it.
    pub fn ensure(&self) -> PathBuf {
        let venv = self.path();
        if self.is_complete(&venv) {
            return venv;
        }
        let started = Instant::now();
        if let Err(e) = self.install(&venv) {
            panic!(
                "{name} {version} is required for this test and could not be installed into \
                 {venv}: {e}\n(the tests install it with `python3 -m venv {venv} && \
                 {venv}/bin/pip install {package}=={version}`; they need python3 with the venv \
                 module — on Debian `apt-get install python3-venv` — and access to PyPI; or \
                 point {env} at a venv that has {package}=={version} and a {marker} file \
                 containing `{package}=={version}`)",
                name = self.name,
                version = self.version,
                venv = venv.display(),
                package = self.package,
                env = self.env_var,
                marker = self.marker,
            );
        }
        if !self.is_complete(&venv) {
            panic!(
                "the {} install into {} reported success but the venv is still incomplete \
                 (no bin/{} or no {})",
                self.name,
                venv.display(),
                self.command,
                self.marker
            );
        }
        progress(&format!(
            "{} {} venv ready at {} after {:.1} s",
            self.name,
            self.version,
            venv.display(),
            started.elapsed().as_secs_f64()
        ));
        venv
    }

    /// Create the venv and pip-install the pin, under `flock` on `<venv>.lock` (a kernel lock:
    /// released even if the holder dies). The marker is checked again under the lock, so only
    /// the first test binary installs; the others wait and reuse its venv.
    fn install(&self, venv: &Path) -> Result<(), String> {
        let parent = venv
            .parent()
            .ok_or_else(|| format!("{} has no parent directory", venv.display()))?;
        fs::create_dir_all(parent).map_err(|e| format!("create {}: {e}", parent.display()))?;
        let mut lock = venv.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        let pin = format!("{}=={}", self.package, self.version);
        progress(&format!(
            "{} {} venv missing or incomplete at {}: installing it (python3 -m venv; pip \
             install {pin}; {}), serialised by flock on {}",
            self.name,
            self.version,
            venv.display(),
            self.cost,
            lock.display()
        ));
        // The version check asks the package metadata, not the command: `airflow version`
        // would create ~/airflow on its first run.
        let script = format!(
            r#"V="$1"
if [ -x "$V/bin/{command}" ] && [ "$(cat "$V/{marker}" 2>/dev/null)" = "{pin}" ]; then
    echo "[mltop test support] another process installed {name} meanwhile" >&2
    exit 0
fi
if [ -e "$V" ]; then
    if [ -f "$V/pyvenv.cfg" ] || [ -z "$(ls -A "$V")" ]; then
        echo "[mltop test support] removing the half-made venv $V" >&2
        rm -rf "$V" || exit 20
    else
        exit 21
    fi
fi
mkdir -p "$(dirname "$V")" || exit 22
python3 -m venv "$V" || exit 10
"$V/bin/python" -m pip install --disable-pip-version-check -q "{pin}" || exit 11
[ "$("$V/bin/python" -c 'import importlib.metadata as m; print(m.version("{package}"))')" = "{version}" ] || exit 12
[ -x "$V/bin/{command}" ] || exit 12
printf '%s\n' "{pin}" > "$V/{marker}" || exit 13
"#,
            command = self.command,
            marker = self.marker,
            name = self.name,
            package = self.package,
            version = self.version,
        );
        // pip's output goes to our stderr so that a CI log shows what happened.
        let to_stderr = || {
            std::os::fd::AsFd::as_fd(&std::io::stderr())
                .try_clone_to_owned()
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::inherit())
        };
        let status = Command::new("flock")
            .arg(&lock)
            .args(["sh", "-c", &script, "sh"])
            .arg(venv)
            .env("PIP_NO_INPUT", "1")
            .stdin(Stdio::null())
            .stdout(to_stderr())
            .stderr(to_stderr())
            .status()
            .map_err(|e| format!("could not run `flock ... sh` (is util-linux installed?): {e}"))?;
        if status.success() {
            return Ok(());
        }
        let step = match status.code().unwrap_or(-1) {
            10 => "`python3 -m venv` failed (is python3 installed, with its venv module? On \
                 Debian: apt-get install python3-venv)"
                .to_string(),
            11 => format!("`pip install {pin}` failed (is PyPI reachable? see pip's output above)"),
            12 => format!(
                "the installed {} is not version {} or has no bin/{}",
                self.package, self.version, self.command
            ),
            13 => "could not write the marker file".into(),
            20 => "could not remove a half-made venv".into(),
            21 => "the path exists and is not a venv: refusing to delete it".into(),
            22 => "could not create the parent directory".into(),
            _ => "the install script failed".into(),
        };
        Err(format!("{step} ({status})"))
    }
}
