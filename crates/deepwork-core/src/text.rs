//! Untrusted text made safe to store and show: one definition of what a character that
//! must never reach a terminal, a notification or the window is, used by every path.

/// Characters that move a terminal's cursor or reorder what is shown: C0 and C1
/// controls, and the bidirectional controls (U+202E can make "exe.pdf" read as
/// "fdp.exe"). Line breaks and tabs are for [`plain`] to keep.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// Text for an HTML context (a notification body, a chat message's HTML): every markup
/// character escaped, since message text is untrusted.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Message text with unsafe characters dropped; line breaks and tabs stay.
pub fn plain(text: &str) -> String {
    text.chars()
        .filter(|c| !is_unsafe(*c) || *c == '\n' || *c == '\t')
        .collect()
}

/// A name, address or one-line text: unsafe characters (line breaks included) dropped,
/// runs of white space made one space, trimmed.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // A word made only of unsafe characters (a lone U+202E) is no word: it adds no space.
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .map(|word| word.chars().filter(|c| !is_unsafe(*c)).collect::<String>())
        .filter(|word| !word.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    }
    out
}

/// Every unsafe character replaced with U+FFFD, so that a reader sees something was
/// there (error text from a server, printed in a terminal).
pub fn visible(text: &str) -> String {
    text.chars()
        .map(|c| if is_unsafe(c) { '\u{FFFD}' } else { c })
        .collect()
}

/// Shortens to at most `max` bytes on a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bidi_overrides_and_escapes_are_dropped() {
        assert_eq!(plain("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(plain("a\u{2066}b\u{2069}c\u{1b}[31m"), "abc[31m");
        assert_eq!(plain("line one\nline\ttwo"), "line one\nline\ttwo");
    }

    #[test]
    fn one_line_joins_lines_and_spaces() {
        assert_eq!(one_line("  Ann \n\u{202E}Lee\t "), "Ann Lee");
        assert_eq!(one_line("\u{7}\u{7}"), "");
        assert_eq!(one_line("a \u{202E}"), "a");
        assert_eq!(one_line("a \u{202E} b"), "a b");
    }

    #[test]
    fn visible_marks_what_it_replaced() {
        assert_eq!(
            visible("bad\u{1b}[2Jtoken\u{202E}"),
            "bad\u{FFFD}[2Jtoken\u{FFFD}"
        );
    }

    #[test]
    fn truncate_keeps_characters_whole() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }

    proptest! {
        #[test]
        fn nothing_unsafe_survives(text in any::<String>()) {
            let line = one_line(&text);
            prop_assert!(!line.chars().any(|c| is_unsafe(c) || c == '\n'));
            prop_assert_eq!(line.trim(), line.as_str());
            prop_assert!(!line.contains("  "));
            prop_assert!(!plain(&text).chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t'));
            prop_assert!(!visible(&text).chars().any(is_unsafe));
        }

        #[test]
        fn truncate_is_a_prefix_within_the_limit(text in any::<String>(), max in 0usize..64) {
            let cut = truncate(&text, max);
            prop_assert!(cut.len() <= max && text.starts_with(cut));
        }
    }
}
