//! The audit log: one JSON line per attempt to change production (refused, cancelled,
//! succeeded, failed, unknown), appended and fsync'd, with who, from where, what, when and the
//! outcome. Never a secret: records hold names, versions and server messages only.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Stopped by the guard (read-only, wallboard) before any request was built.
    Refused,
    /// The operator said no at the confirmation.
    Cancelled,
    Succeeded,
    /// The server refused or the request failed before it could have taken effect.
    Failed,
    /// No answer in time: the change may or may not have happened; state was re-read.
    Unknown,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Refused => "refused",
            Outcome::Cancelled => "cancelled",
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Unknown => "unknown",
        }
    }
}

/// Who is at the keyboard, and from where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operator {
    pub user: String,
    /// `SSH_CONNECTION`'s client address and port, when over SSH.
    pub ssh_client: Option<String>,
    pub host: String,
}

impl Operator {
    /// Read from the environment of this process.
    pub fn current() -> Operator {
        let user = ["MLTOP_USER", "USER", "LOGNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .or_else(user_from_passwd)
            .unwrap_or_else(|| "unknown".into());
        let ssh_client = std::env::var("SSH_CONNECTION").ok().and_then(|s| {
            let mut it = s.split_whitespace();
            Some(format!("{}:{}", it.next()?, it.next()?))
        });
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown".into());
        Operator {
            user,
            ssh_client,
            host,
        }
    }
}

/// The login name of this process's user, from /etc/passwd (when USER is not set, as under
/// cron or some service managers).
fn user_from_passwd() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
    })
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// RFC 3339, UTC.
    pub time: String,
    pub user: String,
    pub ssh_client: Option<String>,
    pub host: String,
    pub environment: String,
    /// `promote`, `rollback`, ...
    pub command: String,
    /// What it acts on: `recsys-ranker@mlflow-prod`.
    pub target: String,
    /// The exact effect as the confirmation stated it.
    pub effect: String,
    /// Aliases (or state) before, as shown at the confirmation.
    pub before: serde_json::Value,
    /// What the command was to produce (null when nothing was planned).
    #[serde(default)]
    pub planned: serde_json::Value,
    /// What the server showed afterwards (null when cancelled, refused or not re-read).
    pub after: serde_json::Value,
    pub outcome: Outcome,
    /// The server's message, the refusal reason, or what was re-read after an unknown outcome.
    pub detail: String,
    /// The operator confirmed past a failed validation gate.
    #[serde(default)]
    pub gate_override: bool,
    /// `console` or `cli`.
    pub via: String,
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// The append-only log file.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: PathBuf) -> AuditLog {
        AuditLog { path }
    }

    /// `$MLTOP_AUDIT_LOG`, else `audit.jsonl` in the XDG data dir (`~/.local/share/mltop/`).
    pub fn default_path() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("MLTOP_AUDIT_LOG").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        directories::ProjectDirs::from("", "", "mltop").map(|d| d.data_dir().join("audit.jsonl"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record and fsync it: when this returns Ok, the line is on disk.
    pub fn append(&self, record: &AuditRecord) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(line.as_bytes())?;
        f.sync_all()
    }

    /// Every record, oldest first. Lines that do not parse are reported, not dropped silently.
    pub fn read(&self) -> std::io::Result<(Vec<AuditRecord>, Vec<String>)> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Vec::new(), Vec::new()));
            }
            Err(e) => return Err(e),
        };
        let mut records = Vec::new();
        let mut bad = Vec::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            match serde_json::from_str(line) {
                Ok(r) => records.push(r),
                Err(e) => bad.push(format!("{}:{}: {e}", self.path.display(), i + 1)),
            }
        }
        Ok((records, bad))
    }
}

/// `mltop audit` filters: target substring and a time lower bound (RFC 3339 or "2h" ago).
pub fn filter<'a>(
    records: &'a [AuditRecord],
    target: Option<&str>,
    since: Option<SystemTime>,
) -> Vec<&'a AuditRecord> {
    records
        .iter()
        .filter(|r| target.is_none_or(|t| r.target.contains(t)))
        .filter(|r| since.is_none_or(|s| humantime::parse_rfc3339(&r.time).is_ok_and(|t| t >= s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(target: &str, time: &str) -> AuditRecord {
        AuditRecord {
            time: time.into(),
            user: "alice".into(),
            ssh_client: Some("10.1.2.3:52100".into()),
            host: "bastion".into(),
            environment: "prod".into(),
            command: "promote".into(),
            target: target.into(),
            effect: "recsys-ranker: champion v12 → v13".into(),
            before: serde_json::json!({"champion": "12"}),
            planned: serde_json::json!({"champion": "13"}),
            after: serde_json::json!({"champion": "13"}),
            outcome: Outcome::Succeeded,
            detail: String::new(),
            gate_override: false,
            via: "console".into(),
        }
    }

    #[test]
    fn records_append_as_json_lines_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("sub/audit.jsonl"));
        log.append(&record("recsys-ranker@prod", "2026-12-04T10:00:00Z"))
            .unwrap();
        log.append(&record("fraud-detector@prod", "2026-12-04T11:00:00Z"))
            .unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text.lines().count(), 2);
        let (all, bad) = log.read().unwrap();
        assert!(bad.is_empty());
        assert_eq!(all[1].target, "fraud-detector@prod");
        let since = humantime::parse_rfc3339("2026-12-04T10:30:00Z").unwrap();
        assert_eq!(filter(&all, None, Some(since)).len(), 1);
        assert_eq!(filter(&all, Some("recsys"), None).len(), 1);
    }

    #[test]
    fn a_corrupt_line_is_reported_not_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        log.append(&record("a", "2026-12-04T10:00:00Z")).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"{half a line\n")
            .unwrap();
        let (all, bad) = log.read().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].contains("audit.jsonl:2"));
    }

    #[test]
    fn the_operator_comes_from_the_environment() {
        let op = Operator::current();
        assert!(!op.user.is_empty());
        assert!(!op.host.is_empty());
    }
}
