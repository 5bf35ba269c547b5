//! Ansible host ranges: `node[1:3]`, `worker-[01:03].dc1`, `w-[a:c]`, `s[01:07:3]`.

/// Expand every `[beg:end(:stride)]` in a host pattern, as Ansible does before vars attach.
pub fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_string()]);
    };
    let Some(close_rel) = pattern[open..].find(']') else {
        return Err(format!("host pattern `{pattern}` has `[` without a closing `]`"));
    };
    let close = open + close_rel;
    let (head, inner, tail) = (&pattern[..open], &pattern[open + 1..close], &pattern[close + 1..]);
    let parts: Vec<&str> = inner.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return Err(format!("host range `[{inner}]` in `{pattern}` must be `[begin:end]` or `[begin:end:stride]`"));
    }
    let (beg, end) = (parts[0], parts[1]);
    let stride: usize = match parts.get(2) {
        Some(s) => s.parse().ok().filter(|s| *s > 0).ok_or_else(|| format!("host range stride `{s}` in `{pattern}` is not a positive number"))?,
        None => 1,
    };
    if end.is_empty() {
        return Err(format!("host range `[{inner}]` in `{pattern}` has no end"));
    }
    let items: Vec<String> = if end.chars().all(|c| c.is_ascii_digit()) && beg.chars().all(|c| c.is_ascii_digit()) {
        let b: u64 = if beg.is_empty() { 0 } else { beg.parse().map_err(|_| format!("bad range start `{beg}`"))? };
        let e: u64 = end.parse().map_err(|_| format!("bad range end `{end}`"))?;
        if b > e {
            return Err(format!("host range `[{inner}]` in `{pattern}` starts after it ends"));
        }
        if e - b > 100_000 {
            return Err(format!("host range `[{inner}]` in `{pattern}` expands to more than 100000 hosts"));
        }
        let width = if beg.len() > 1 && beg.starts_with('0') {
            if beg.len() != end.len() {
                return Err(format!("host range `[{inner}]` in `{pattern}`: padded begin and end must have the same width"));
            }
            beg.len()
        } else {
            0
        };
        (b..=e).step_by(stride).map(|i| format!("{i:0width$}")).collect()
    } else if beg.len() == 1 && end.len() == 1 && beg.chars().all(|c| c.is_ascii_alphabetic()) && end.chars().all(|c| c.is_ascii_alphabetic()) {
        let (b, e) = (beg.as_bytes()[0], end.as_bytes()[0]);
        if b > e {
            return Err(format!("host range `[{inner}]` in `{pattern}` starts after it ends"));
        }
        (b..=e).step_by(stride).map(|c| (c as char).to_string()).collect()
    } else {
        return Err(format!("host range `[{inner}]` in `{pattern}` mixes letters and digits or is not a range"));
    };
    let tails = expand(tail)?;
    let mut out = Vec::with_capacity(items.len() * tails.len());
    for i in &items {
        for t in &tails {
            out.push(format!("{head}{i}{t}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn ranges() {
        assert_eq!(expand("node[1:3]").unwrap(), ["node1", "node2", "node3"]);
        assert_eq!(expand("worker-[01:03].dc1.example.com").unwrap()[2], "worker-03.dc1.example.com");
        assert_eq!(expand("w-[a:c]").unwrap(), ["w-a", "w-b", "w-c"]);
        assert_eq!(expand("s[01:07:3]").unwrap(), ["s01", "s04", "s07"]);
        assert_eq!(expand("plain").unwrap(), ["plain"]);
        assert!(expand("bad[1:").is_err());
        assert!(expand("bad[01:100]").is_err());
        assert_eq!(expand("r[1:2]-[a:b]").unwrap().len(), 4);
    }
}
