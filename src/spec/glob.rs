//! The Kinesis Agent's file patterns, matched as it matches them: a glob
//! over the whole path where `*` and `?` stay within one path segment,
//! `**` crosses segments, `[abc]`/`[a-z]`/`[!a]` is a set and `{a,b}`
//! alternatives (not nested). Used to check that a host's generated data
//! file lands where a flow watches, and that its temporary name does not.

/// Whether `path` matches `pattern`.
pub fn matches(pattern: &str, path: &str) -> bool {
    alternatives(pattern).iter().any(|p| here(p.as_bytes(), path.as_bytes()))
}

/// The pattern with one `{a,b}` group expanded, recursively for later groups.
fn alternatives(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else { return vec![pattern.to_string()] };
    let Some(close) = pattern[open..].find('}').map(|c| open + c) else { return vec![pattern.to_string()] };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    pattern[open + 1..close].split(',').flat_map(|alt| alternatives(&format!("{head}{alt}{tail}"))).collect()
}

fn here(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') if p.get(1) == Some(&b'*') => (0..=s.len()).any(|i| here(&p[2..], &s[i..])),
        Some(b'*') => {
            let segment = s.iter().position(|c| *c == b'/').unwrap_or(s.len());
            (0..=segment).any(|i| here(&p[1..], &s[i..]))
        }
        Some(b'?') => s.first().is_some_and(|c| *c != b'/') && here(&p[1..], &s[1..]),
        Some(b'[') => match (p.iter().position(|c| *c == b']'), s.first()) {
            (Some(end), Some(c)) if end > 1 && *c != b'/' => {
                let set = &p[1..end];
                let (negated, set) = match set.first() {
                    Some(b'!') | Some(b'^') => (true, &set[1..]),
                    _ => (false, set),
                };
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == b'-' {
                        hit |= (set[i]..=set[i + 2]).contains(c);
                        i += 3;
                    } else {
                        hit |= set[i] == *c;
                        i += 1;
                    }
                }
                hit != negated && here(&p[end + 1..], &s[1..])
            }
            _ => s.first() == Some(&b'[') && here(&p[1..], &s[1..]),
        },
        Some(c) => s.first() == Some(c) && here(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn star_stays_in_its_segment_and_sets_and_alternatives_match() {
        assert!(matches("/tmp/*.csv*", "/tmp/yellow_tripdata.csv"));
        assert!(matches("/tmp/*.csv*", "/tmp/a.csv.1"));
        assert!(!matches("/tmp/*.csv*", "/tmp/.pipectl-partial/a.csv"), "a subfolder is not watched");
        assert!(!matches("/tmp/*.csv*", "/var/a.csv"));
        assert!(matches("/data/**/*.log", "/data/a/b/c.log"));
        assert!(matches("/data/app-?.log", "/data/app-1.log"));
        assert!(!matches("/data/app-?.log", "/data/app-12.log"));
        assert!(matches("/data/[a-c]x.log", "/data/bx.log"));
        assert!(!matches("/data/[!a-c]x.log", "/data/bx.log"));
        assert!(matches("/data/*.{csv,tsv}", "/data/t.tsv"));
        assert!(!matches("/data/*.{csv,tsv}", "/data/t.json"));
    }
}
