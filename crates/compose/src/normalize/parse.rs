//! Pure parsers for Compose's string mini-languages (ports, volumes, devices, durations,
//! sizes). Kept free of diagnostics plumbing so they are easy to table-test; callers
//! attach the position.

use roost_spec::{DeviceMapping, Port};
use std::time::Duration;

/// Go `time.ParseDuration` syntax (`1m30s`, `500ms`, `1.5h`, `0`), as Compose uses.
pub fn duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration `{s}` (use a number with a unit, like 30s, 1m30s or 500ms)");
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        if n == 0 {
            return Err(bad());
        }
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += num * mult;
        rest = &rest[u..];
    }
    // Go's durations are i64 nanoseconds (about 292 years); Compose refuses longer ones.
    const GO_MAX_SECS: f64 = i64::MAX as f64 / 1e9;
    if !(total <= GO_MAX_SECS) {
        return Err(format!("duration `{s}` is out of range (at most 2562047h)"));
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// docker/go-units `RAMInBytes`: `64m`, `1gb`, `2G`, `512KiB`, plain bytes; 1024-based.
pub fn size(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid size `{s}` (use bytes or a unit like 64m, 1gb)");
    let t = s.trim().to_ascii_lowercase();
    let n = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let num: f64 = t[..n].parse().map_err(|_| bad())?;
    let unit = t[n..].trim_start();
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return Err(bad()),
    };
    Ok((num * mult as f64) as u64)
}

fn range(s: &str) -> Result<(u16, u16), String> {
    let p = |x: &str| x.trim().parse::<u16>().map_err(|_| format!("invalid port `{x}`"));
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (p(a)?, p(b)?);
            if b < a {
                return Err(format!("invalid port range `{s}`"));
            }
            Ok((a, b))
        }
        None => {
            let a = p(s)?;
            Ok((a, a))
        }
    }
}

/// Short port syntax: `[[IP:][HOST]:]CONTAINER[/PROTO]` with ranges, `[::1]:80:80`.
pub fn ports(spec: &str) -> Result<Vec<Port>, String> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_string()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid protocol `{proto}` in port `{spec}` (tcp, udp or sctp)"));
    }
    let (ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, after) = r.split_once(']').ok_or_else(|| format!("invalid port `{spec}`"))?;
        (Some(ip.to_string()), after.strip_prefix(':').unwrap_or(after))
    } else {
        (None, rest)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match (ip, parts.as_slice()) {
        (None, [c]) => (None, None, *c),
        (None, [h, c]) => (None, Some(*h), *c),
        (None, [i, h, c]) => (Some(i.to_string()), Some(*h), *c),
        (Some(i), [h, c]) => (Some(i), Some(*h), *c),
        _ => return Err(format!("invalid port `{spec}`")),
    };
    let ip = ip.filter(|i| !i.is_empty());
    let host = host.filter(|h| !h.is_empty());
    let (c0, c1) = range(container).map_err(|e| format!("{e} in `{spec}`"))?;
    let hr = host.map(range).transpose().map_err(|e| format!("{e} in `{spec}`"))?;
    let n = c1 - c0;
    let mut out = Vec::new();
    for i in 0..=n {
        let published = match (hr, host) {
            (None, _) => None,
            (Some((h0, h1)), _) if n > 0 => {
                if h1 - h0 != n {
                    return Err(format!("host and container port ranges differ in size in `{spec}`"));
                }
                Some((h0 + i).to_string())
            }
            (_, Some(h)) => Some(h.to_string()),
            _ => None,
        };
        out.push(Port { target: c0 + i, published, host_ip: ip.clone(), protocol: proto.clone() });
    }
    Ok(out)
}

/// `/dev/x`, `/dev/x:/dev/y`, `/dev/x:/dev/y:rw`.
pub fn device(spec: &str) -> Result<DeviceMapping, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (h, c, p) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => return Err(format!("invalid device `{spec}`")),
    };
    if h.is_empty() || c.is_empty() || !p.chars().all(|x| "rwm".contains(x)) {
        return Err(format!("invalid device `{spec}` (HOST[:CONTAINER[:rwm]])"));
    }
    Ok(DeviceMapping { host: h.into(), container: c.into(), permissions: p.into() })
}

/// Short volume syntax split into (source, target, options).
pub fn volume_short(spec: &str) -> Result<(Option<String>, String, Vec<String>), String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, tgt, opts) = match parts.as_slice() {
        [t] => (None, *t, ""),
        [s, t] => (Some(*s), *t, ""),
        [s, t, o] => (Some(*s), *t, *o),
        _ => return Err(format!("invalid volume `{spec}` (SOURCE:TARGET[:MODE])")),
    };
    if tgt.is_empty() || src.is_some_and(str::is_empty) {
        return Err(format!("invalid volume `{spec}`: empty source or target (SOURCE:TARGET[:MODE])"));
    }
    let opts = opts.split(',').filter(|o| !o.is_empty()).map(str::to_string).collect();
    Ok((src.map(str::to_string), tgt.to_string(), opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert!(duration("10").is_err());
        // Once a panic (`roost config` exited 101): out of range is an error, as in Compose.
        assert_eq!(duration("99999999999999999999h").unwrap_err(), "duration `99999999999999999999h` is out of range (at most 2562047h)");
        assert!(duration("2562047h").is_ok());
        assert!(duration("1e400s").is_err());
        assert_eq!(size("64m").unwrap(), 64 << 20);
        assert_eq!(size("1gb").unwrap(), 1 << 30);
        assert_eq!(size("2G").unwrap(), 2 << 30);
        assert_eq!(size("1024").unwrap(), 1024);
        assert!(size("1x").is_err());
    }

    #[test]
    fn port_forms() {
        let p = ports("127.0.0.1:8080:80/udp").unwrap();
        assert_eq!(p, vec![Port { target: 80, published: Some("8080".into()), host_ip: Some("127.0.0.1".into()), protocol: "udp".into() }]);
        assert_eq!(ports("80").unwrap()[0].published, None);
        assert_eq!(ports("8000-8001:9000-9001").unwrap().iter().map(|p| (p.target, p.published.clone().unwrap())).collect::<Vec<_>>(), vec![(9000, "8000".into()), (9001, "8001".into())]);
        assert_eq!(ports("8080-8081:80").unwrap()[0].published.as_deref(), Some("8080-8081"));
        assert_eq!(ports("[::1]:53:53").unwrap()[0].host_ip.as_deref(), Some("::1"));
        assert_eq!(ports("127.0.0.1::80").unwrap()[0].published, None);
        assert!(ports("x:80").is_err());
    }

    #[test]
    fn device_forms() {
        assert_eq!(device("/dev/x").unwrap(), DeviceMapping { host: "/dev/x".into(), container: "/dev/x".into(), permissions: "rwm".into() });
        assert_eq!(device("/dev/x:/dev/y:rw").unwrap().permissions, "rw");
        assert!(device("/dev/x:/dev/y:q").is_err());
    }
}
