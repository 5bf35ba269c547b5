//! Ansible host ranges: `node[1:3]`, `worker-[01:03].dc1`, `w-[a:c]`, `s[01:07:3]`.

/// `host:port` as Ansible's parse_address reads it: a port is digits after the last `:` that is
/// outside brackets, when no other `:` is (an IPv6 address has several). A pattern ending in `:`
/// is an error (ansible-core lib/ansible/parsing/utils/addresses.py, plugins/inventory/ini.py).
pub fn split_port(pattern: &str) -> Result<(&str, Option<u16>), String> {
    let mut depth = 0i32;
    let mut colons = Vec::new();
    for (i, c) in pattern.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => colons.push(i),
            _ => {}
        }
    }
    if colons.len() != 1 {
        return Ok((pattern, None));
    }
    let (head, port) = (&pattern[..colons[0]], &pattern[colons[0] + 1..]);
    if port.is_empty() {
        return Err(format!("host `{pattern}` ends in `:`; a `:` after a host name gives its SSH port, e.g. `{head}:22`"));
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) || head.is_empty() {
        return Ok((pattern, None));
    }
    match port.parse::<u16>() {
        Ok(p) => Ok((head, Some(p))),
        Err(_) => Err(format!("host `{pattern}`: port {port} is above 65535")),
    }
}

/// Expand every `[beg:end(:stride)]` in a host pattern, as Ansible does before vars attach.
/// The product of all ranges is checked against `MAX_HOSTS` before anything is built.
pub fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let mut parts: Vec<Vec<String>> = Vec::new();
    let mut rest = pattern;
    let mut total: usize = 1;
    while let Some(open) = rest.find('[') {
        let Some(close_rel) = rest[open..].find(']') else {
            return Err(format!("host pattern `{pattern}` has `[` without a closing `]`"));
        };
        let close = open + close_rel;
        parts.push(vec![rest[..open].to_string()]);
        let items = range(&rest[open + 1..close], pattern)?;
        total = total.saturating_mul(items.len());
        if total > super::MAX_HOSTS {
            return Err(format!("host pattern `{pattern}` expands to more than {} hosts; bundler reads at most that many", super::MAX_HOSTS));
        }
        parts.push(items);
        rest = &rest[close + 1..];
    }
    parts.push(vec![rest.to_string()]);
    let mut out = vec![String::new()];
    for p in parts {
        let mut next = Vec::with_capacity(out.len() * p.len());
        for o in &out {
            for x in &p {
                next.push(format!("{o}{x}"));
            }
        }
        out = next;
    }
    Ok(out)
}

fn range(inner: &str, pattern: &str) -> Result<Vec<String>, String> {
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
    let limit = super::MAX_HOSTS as u64;
    if end.chars().all(|c| c.is_ascii_digit()) && beg.chars().all(|c| c.is_ascii_digit()) {
        let b: u64 = if beg.is_empty() { 0 } else { beg.parse().map_err(|_| format!("bad range start `{beg}` in `{pattern}`"))? };
        let e: u64 = end.parse().map_err(|_| format!("bad range end `{end}` in `{pattern}`"))?;
        if b > e {
            return Err(format!("host range `[{inner}]` in `{pattern}` starts after it ends"));
        }
        if (e - b) / stride as u64 >= limit {
            return Err(format!("host range `[{inner}]` in `{pattern}` expands to more than {limit} hosts; bundler reads at most that many"));
        }
        let width = if beg.len() > 1 && beg.starts_with('0') {
            if beg.len() != end.len() {
                return Err(format!("host range `[{inner}]` in `{pattern}`: padded begin and end must have the same width"));
            }
            beg.len()
        } else {
            0
        };
        Ok((b..=e).step_by(stride).map(|i| format!("{i:0width$}")).collect())
    } else if beg.len() == 1 && end.len() == 1 && beg.chars().all(|c| c.is_ascii_alphabetic()) && end.chars().all(|c| c.is_ascii_alphabetic()) {
        let (b, e) = (beg.as_bytes()[0], end.as_bytes()[0]);
        if b > e {
            return Err(format!("host range `[{inner}]` in `{pattern}` starts after it ends"));
        }
        Ok((b..=e).step_by(stride).map(|c| (c as char).to_string()).collect())
    } else {
        Err(format!("host range `[{inner}]` in `{pattern}` mixes letters and digits or is not a range"))
    }
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
        assert_eq!(expand("r[1:2]-[a:b]").unwrap(), ["r1-a", "r1-b", "r2-a", "r2-b"]);
        // The product is bounded before anything is built (issue 15: this aborted the process).
        assert!(expand("n[0:99999][0:99999]").unwrap_err().contains("more than"));
        assert!(expand("node[1:100000]").unwrap_err().contains("more than"));
        assert!(expand("n[0:18446744073709551615]").is_err());
        assert_eq!(expand("n[1:10000]").unwrap().len(), 10_000);
    }

    #[test]
    fn ports() {
        use super::split_port;
        assert_eq!(split_port("node1:2222").unwrap(), ("node1", Some(2222)));
        assert_eq!(split_port("node[1:3]:22").unwrap(), ("node[1:3]", Some(22)));
        assert_eq!(split_port("node[1:3]").unwrap(), ("node[1:3]", None));
        assert_eq!(split_port("fe80::1").unwrap(), ("fe80::1", None));
        assert!(split_port("node1:").is_err());
        assert!(split_port("node1:99999").is_err());
    }
}
