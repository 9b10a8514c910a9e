//! Themes: TOML files of named styles, built into the binary and overridable from the config
//! dir. `NO_COLOR` forces the monochrome theme. Meaning never rests on colour alone: states
//! carry words and symbols too.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::path::Path;
use std::str::FromStr;

pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("monochrome", include_str!("../../themes/monochrome.toml")),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub text: Style,
    pub dim: Style,
    pub title: Style,
    pub accent: Style,
    pub ok: Style,
    pub warn: Style,
    pub crit: Style,
    pub pending: Style,
    pub stale: Style,
    pub header: Style,
    pub badge: Style,
    pub key: Style,
    pub spark: Style,
    pub bar: Style,
    pub border: Style,
}

/// A theme file: every key optional, missing ones come from the dark theme.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    text: Option<String>,
    dim: Option<String>,
    title: Option<String>,
    accent: Option<String>,
    ok: Option<String>,
    warn: Option<String>,
    crit: Option<String>,
    pending: Option<String>,
    stale: Option<String>,
    header: Option<String>,
    badge: Option<String>,
    key: Option<String>,
    spark: Option<String>,
    bar: Option<String>,
    border: Option<String>,
}

/// Parse "FG [on BG] [bold] [dim] [italic] [underlined] [reversed]".
pub fn parse_style(spec: &str) -> Result<Style, String> {
    let mut style = Style::default();
    let mut words = spec.split_whitespace().peekable();
    let color = |w: &str| -> Result<Color, String> {
        Color::from_str(w).map_err(|_| format!("`{w}` is not a colour"))
    };
    if let Some(first) = words.peek()
        && !is_modifier(first)
        && *first != "on"
    {
        style = style.fg(color(first)?);
        words.next();
    }
    while let Some(w) = words.next() {
        match w {
            "on" => {
                let bg = words.next().ok_or("`on` needs a background colour")?;
                style = style.bg(color(bg)?);
            }
            "bold" => style = style.add_modifier(Modifier::BOLD),
            "dim" => style = style.add_modifier(Modifier::DIM),
            "italic" => style = style.add_modifier(Modifier::ITALIC),
            "underlined" => style = style.add_modifier(Modifier::UNDERLINED),
            "reversed" => style = style.add_modifier(Modifier::REVERSED),
            other => return Err(format!("`{other}` is neither a modifier nor `on COLOUR`")),
        }
    }
    Ok(style)
}

fn is_modifier(w: &str) -> bool {
    matches!(w, "bold" | "dim" | "italic" | "underlined" | "reversed")
}

impl Theme {
    fn from_file(name: &str, f: ThemeFile, base: Option<&Theme>) -> Result<Theme, String> {
        let pick = |v: &Option<String>,
                    key: &str,
                    fallback: Option<Style>|
         -> Result<Style, String> {
            match (v, fallback) {
                (Some(s), _) => parse_style(s).map_err(|e| format!("theme {name}: `{key}`: {e}")),
                (None, Some(f)) => Ok(f),
                (None, None) => Err(format!("theme {name}: `{key}` is missing")),
            }
        };
        Ok(Theme {
            name: name.to_string(),
            text: pick(&f.text, "text", base.map(|b| b.text))?,
            dim: pick(&f.dim, "dim", base.map(|b| b.dim))?,
            title: pick(&f.title, "title", base.map(|b| b.title))?,
            accent: pick(&f.accent, "accent", base.map(|b| b.accent))?,
            ok: pick(&f.ok, "ok", base.map(|b| b.ok))?,
            warn: pick(&f.warn, "warn", base.map(|b| b.warn))?,
            crit: pick(&f.crit, "crit", base.map(|b| b.crit))?,
            pending: pick(&f.pending, "pending", base.map(|b| b.pending))?,
            stale: pick(&f.stale, "stale", base.map(|b| b.stale))?,
            header: pick(&f.header, "header", base.map(|b| b.header))?,
            badge: pick(&f.badge, "badge", base.map(|b| b.badge))?,
            key: pick(&f.key, "key", base.map(|b| b.key))?,
            spark: pick(&f.spark, "spark", base.map(|b| b.spark))?,
            bar: pick(&f.bar, "bar", base.map(|b| b.bar))?,
            border: pick(&f.border, "border", base.map(|b| b.border))?,
        })
    }

    fn parse(name: &str, text: &str, base: Option<&Theme>) -> Result<Theme, String> {
        let f: ThemeFile =
            toml::from_str(text).map_err(|e| format!("theme {name}: {}", e.message()))?;
        Theme::from_file(name, f, base)
    }

    pub fn builtin(name: &str) -> Option<Theme> {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, t)| Theme::parse(n, t, None).expect("built-in themes are valid"))
    }

    pub fn dark() -> Theme {
        Theme::builtin("dark").expect("dark theme is built in")
    }

    /// Resolve a theme by name: `NO_COLOR` → monochrome; then `DIR/NAME.toml` in the user's
    /// themes dir (missing keys from the built-in of that name, or dark); then a built-in.
    pub fn resolve(
        name: Option<&str>,
        user_dir: Option<&Path>,
        no_color: bool,
    ) -> Result<Theme, String> {
        if no_color {
            return Ok(Theme::builtin("monochrome").expect("built in"));
        }
        let name = name.unwrap_or("dark");
        if let Some(dir) = user_dir {
            let path = dir.join(format!("{name}.toml"));
            if let Ok(text) = std::fs::read_to_string(&path) {
                let base = Theme::builtin(name).unwrap_or_else(Theme::dark);
                return Theme::parse(name, &text, Some(&base))
                    .map_err(|e| format!("{}: {e}", path.display()));
            }
        }
        Theme::builtin(name).ok_or_else(|| {
            let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
            format!(
                "no theme named `{name}`; built-in themes: {}, or put {name}.toml in the themes directory",
                names.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_theme_is_complete() {
        for (name, _) in BUILTIN {
            assert!(Theme::builtin(name).is_some(), "{name}");
        }
    }

    #[test]
    fn style_specs_parse() {
        let s = parse_style("black on #ffcc00 bold").unwrap();
        assert_eq!(s.fg, Some(Color::Black));
        assert_eq!(s.bg, Some(Color::Rgb(0xff, 0xcc, 0x00)));
        assert!(s.add_modifier.contains(Modifier::BOLD));
        assert!(parse_style("blurple").is_err());
    }

    #[test]
    fn no_color_forces_monochrome_whatever_was_asked() {
        let t = Theme::resolve(Some("dark"), None, true).unwrap();
        assert_eq!(t.name, "monochrome");
        assert_eq!(t.crit.fg, Some(Color::Reset));
    }

    #[test]
    fn a_user_theme_overrides_only_what_it_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.toml"), "crit = \"magenta bold\"\n").unwrap();
        let t = Theme::resolve(Some("mine"), Some(dir.path()), false).unwrap();
        assert_eq!(t.crit.fg, Some(Color::Magenta));
        assert_eq!(t.ok, Theme::dark().ok);
        let e = Theme::resolve(Some("nope"), Some(dir.path()), false).unwrap_err();
        assert!(e.contains("no theme named `nope`"));
    }
}
