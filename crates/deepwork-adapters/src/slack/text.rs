//! Slack's message text as people read it. Slack escapes `&`, `<` and `>` as entities
//! and writes mentions, channels, broadcasts, dates and links as `<…>` sequences
//! ("Formatting text for app surfaces": `<@U123>`, `<#C123|general>`, `<!here>`,
//! `<!subteam^S123|@design>`, `<!date^1392734382^{date}|Feb 18, 2014>`,
//! `<https://example.com|label>`, `<mailto:bob@example.com|Bob>`).

use std::collections::HashMap;

/// A user or channel a text names by id only, to look up before [`decode`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Named {
    /// `<@U123>`.
    User(String),
    /// `<#C123>`.
    Channel(String),
}

/// The users and channels `text` names without a label.
pub(crate) fn unlabelled(text: &str) -> Vec<Named> {
    let mut named = Vec::new();
    for (target, label) in sequences(text) {
        if label.is_some() {
            continue;
        }
        let id = |rest: &str| rest.to_owned();
        let found = if let Some(rest) = target.strip_prefix('@') {
            Named::User(id(rest))
        } else if let Some(rest) = target.strip_prefix('#') {
            Named::Channel(id(rest))
        } else {
            continue;
        };
        if !named.contains(&found) {
            named.push(found);
        }
    }
    named
}

/// The text with its sequences written out and its entities decoded; `names` gives
/// names for the ids [`unlabelled`] listed (an id with no name stays an id).
pub(crate) fn decode(text: &str, names: &HashMap<Named, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&unescape(&rest[..open]));
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            out.push_str(&unescape(&rest[open..]));
            return out;
        };
        let inner = &after[..close];
        let (target, label) = split(inner);
        out.push_str(&unescape(&written(target, label, names)));
        rest = &after[close + 1..];
    }
    out.push_str(&unescape(rest));
    out
}

fn written(target: &str, label: Option<&str>, names: &HashMap<Named, String>) -> String {
    let name_of =
        |named: Named, id: &str| names.get(&named).cloned().unwrap_or_else(|| id.to_owned());
    if let Some(id) = target.strip_prefix('@') {
        let name = label
            .map(str::to_owned)
            .unwrap_or_else(|| name_of(Named::User(id.to_owned()), id));
        return format!("@{}", name.trim_start_matches('@'));
    }
    if let Some(id) = target.strip_prefix('#') {
        let name = label
            .map(str::to_owned)
            .unwrap_or_else(|| name_of(Named::Channel(id.to_owned()), id));
        return format!("#{}", name.trim_start_matches('#'));
    }
    if let Some(command) = target.strip_prefix('!') {
        return match (command, label) {
            ("here" | "channel" | "everyone", _) => format!("@{command}"),
            (_, Some(label)) => label.to_owned(),
            (command, None) if command.starts_with("subteam^") => "@team".to_owned(),
            (command, None) => command.split('^').next().unwrap_or_default().to_owned(),
        };
    }
    match label {
        Some(label) => label.to_owned(),
        None => target.strip_prefix("mailto:").unwrap_or(target).to_owned(),
    }
}

/// Every `<target|label>` in `text`.
fn sequences(text: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    text.split('<').skip(1).filter_map(|piece| {
        let (inner, _) = piece.split_once('>')?;
        Some(split(inner))
    })
}

fn split(inner: &str) -> (&str, Option<&str>) {
    match inner.split_once('|') {
        Some((target, label)) => (target, Some(label)),
        None => (inner, None),
    }
}

/// Slack's three entities; anything else that starts with `&` stays as written.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> HashMap<Named, String> {
        HashMap::from([
            (Named::User("U1".into()), "ann".into()),
            (Named::Channel("C9".into()), "general".into()),
        ])
    }

    #[test]
    fn entities_are_decoded_once() {
        assert_eq!(
            decode(
                "&lt;script&gt;alert(1)&lt;/script&gt; Q&amp;A &amp;lt;",
                &names()
            ),
            "<script>alert(1)</script> Q&A &lt;"
        );
    }

    #[test]
    fn mentions_channels_and_broadcasts_read_as_names() {
        assert_eq!(
            decode(
                "<@U1> and <@U2|bob> in <#C9> and <#C8|random>, <!here>",
                &names()
            ),
            "@ann and @bob in #general and #random, @here"
        );
        assert_eq!(
            decode("<@U7> asked", &names()),
            "@U7 asked",
            "unknown ids stay"
        );
        assert_eq!(
            decode(
                "<!subteam^S1|@design> <!subteam^S2> <!date^1392734382^{date}|Feb 18, 2014>",
                &names()
            ),
            "@design @team Feb 18, 2014"
        );
    }

    #[test]
    fn links_read_as_their_label_or_address() {
        assert_eq!(
            decode(
                "see <https://example.com/a?b=1&amp;c=2|the doc> or <https://example.com> or <mailto:bob@example.com|Bob>",
                &names()
            ),
            "see the doc or https://example.com or Bob"
        );
    }

    #[test]
    fn a_lone_angle_bracket_is_kept() {
        assert_eq!(decode("a <b", &names()), "a <b");
    }

    #[test]
    fn only_unlabelled_ids_are_looked_up() {
        assert_eq!(
            unlabelled("<@U1> <@U1> <@U2|bob> <#C9> <https://x.example>"),
            vec![Named::User("U1".into()), Named::Channel("C9".into())]
        );
    }
}
