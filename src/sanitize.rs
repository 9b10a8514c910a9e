//! Strings from backends are untrusted: label values and error messages could carry escape
//! sequences that move the cursor, retitle the window or worse. Everything shown passes here.

/// Remove ANSI escape sequences and control characters (tabs and newlines become spaces) and
/// cap the length at `max_chars` (an ellipsis marks the cut).
pub fn clean(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars));
    let mut chars = s.chars().peekable();
    let mut n = 0;
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC: skip a CSI (ESC [ ... final byte), an OSC (ESC ] ... BEL or ESC \), or one char.
            match chars.peek() {
                Some('[') => {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') | Some('P') | Some('_') | Some('^') => {
                    chars.next();
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                Some(_) => {
                    chars.next();
                }
                None => {}
            }
            continue;
        }
        // C1 controls (U+0080..U+009F) include an 8-bit CSI; drop them with the C0 ones.
        let c = if c == '\n' || c == '\t' || c == '\r' {
            ' '
        } else if c.is_control() {
            continue;
        } else {
            c
        };
        if n == max_chars {
            out.pop();
            out.push('…');
            break;
        }
        out.push(c);
        n += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_are_removed() {
        let evil = "ok\u{1b}[2J\u{1b}]0;pwned\u{7}\u{9b}31m\u{0}done\nnext";
        assert_eq!(clean(evil, 100), "ok31mdone next");
    }

    #[test]
    fn osc_terminated_by_st_is_removed() {
        assert_eq!(clean("a\u{1b}]8;;http://x\u{1b}\\b", 100), "ab");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(clean("abcdef", 4), "abc…");
        assert_eq!(clean("abcd", 4), "abcd");
    }
}
