//! Parsers of setting values. Each returns the typed value or the accepted form (the
//! caller adds the variable and the value to make a [`super::ConfigError`]).

use std::time::Duration;

/// `Ok(value)` or `Err(accepted form)`.
pub type Parsed<T> = Result<T, String>;

/// `true`/`false`/`1`/`0`/`yes`/`no`/`on`/`off`, case-insensitive.
pub fn boolean(value: &str) -> Parsed<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("true or false".into()),
    }
}

/// An integer in `min..=max`.
pub fn int<T>(value: &str, min: T, max: T) -> Parsed<T>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let expected = || format!("an integer in {min}..={max}");
    let n: T = value.trim().parse().map_err(|_| expected())?;
    if n < min || n > max {
        return Err(expected());
    }
    Ok(n)
}

/// A finite number in `min..=max`.
pub fn number(value: &str, min: f64, max: f64) -> Parsed<f64> {
    let expected = || format!("a number in [{min}, {max}]");
    let n: f64 = value.trim().parse().map_err(|_| expected())?;
    if !n.is_finite() || n < min || n > max {
        return Err(expected());
    }
    Ok(n)
}

/// `250ms`, `5s`, `2m`, `1h`, or a bare number of seconds; at most a day.
pub fn duration(value: &str) -> Parsed<Duration> {
    const EXPECTED: &str = "a duration such as 250ms, 5s, 2m or 1h (a bare number is seconds)";
    let s = value.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num.parse().map_err(|_| EXPECTED.to_owned())?;
    let secs = match unit.trim() {
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(EXPECTED.into()),
    };
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return Err(EXPECTED.into());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The contents of a PEM file (read at start, so a missing file is a configuration error).
pub fn pem_file(path: &str) -> Parsed<Vec<u8>> {
    let pem = std::fs::read(path).map_err(|e| format!("a readable PEM file ({path}: {e})"))?;
    if !pem.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(format!("a PEM file ({path} has no -----BEGIN line)"));
    }
    Ok(pem)
}

/// Comma-separated items, trimmed, empty items dropped.
pub fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A name of `[a-z0-9_:.-]` (streams, groups, consumers, tokens, DEXes), at most 128 bytes.
pub fn name(value: &str) -> Parsed<String> {
    let v = value.trim();
    let ok = !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'-'));
    if ok {
        Ok(v.to_owned())
    } else {
        Err("1-128 characters of letters, digits, '_', ':', '.' or '-'".into())
    }
}

/// Comma-separated [`name`]s, at least one.
pub fn names(value: &str) -> Parsed<Vec<String>> {
    let items = list(value);
    if items.is_empty() {
        return Err("a comma-separated list of names".into());
    }
    items
        .iter()
        .map(|i| name(i))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("a comma-separated list of names, each {e}"))
}

/// The comma-separated items of `value` (at least one), each accepted by `ok`; otherwise
/// `expected`.
fn checked_list(value: &str, expected: &str, ok: impl Fn(&str) -> bool) -> Parsed<Vec<String>> {
    let items = list(value);
    if items.is_empty() || !items.iter().all(|item| ok(item)) {
        return Err(expected.to_owned());
    }
    Ok(items)
}

/// Comma-separated stream names: [`name`]s that may also hold one Redis Cluster hash tag
/// (`stream:price-updates:{ethereum}`), at least one.
pub fn stream_names(value: &str) -> Parsed<Vec<String>> {
    const EXPECTED: &str = "a comma-separated list of names, each 1-128 characters of letters, digits, '_', ':', '.' or '-', with at most one non-empty {hash tag}";
    checked_list(value, EXPECTED, |item| {
        let plain: String = item.chars().filter(|c| !matches!(c, '{' | '}')).collect();
        let tag_ok = match (item.find('{'), item.find('}')) {
            (None, None) => true,
            (Some(open), Some(close)) => {
                open + 1 < close && item.matches('{').count() == 1 && item.matches('}').count() == 1
            }
            _ => false,
        };
        tag_ok && item.len() <= 128 && name(&plain).is_ok()
    })
}

/// Comma-separated `host:port` pairs, at least one (Redis Cluster seed nodes).
pub fn host_ports(value: &str) -> Parsed<Vec<String>> {
    const EXPECTED: &str = "comma-separated host:port seed nodes, e.g. 10.0.0.2:6379,10.0.0.3:6379";
    checked_list(value, EXPECTED, |item| {
        let Some((host, port)) = item.rsplit_once(':') else {
            return false;
        };
        let host_ok = !host.is_empty()
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':')
            });
        host_ok && port.parse::<u16>().is_ok_and(|p| p > 0)
    })
}

/// `<dex>=<basis points>` pairs, comma-separated; DEX names are lowercased.
pub fn dex_fees(value: &str) -> Parsed<Vec<(String, f64)>> {
    const EXPECTED: &str = "comma-separated <dex>=<basis points> pairs, e.g. uniswap-v3=5,curve=4";
    list(value)
        .iter()
        .map(|item| {
            let (dex, bps) = item.split_once('=').ok_or(EXPECTED)?;
            let dex = name(dex).map_err(|_| EXPECTED)?.to_ascii_lowercase();
            let bps = number(bps, 0.0, 10_000.0).map_err(|_| EXPECTED)?;
            Ok((dex, bps))
        })
        .collect::<Result<_, &str>>()
        .map_err(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        for bad in ["", "5x", "-1s", "2d", "inf", "1e9"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fees_and_names() {
        assert_eq!(
            dex_fees("Uniswap-V3=5, curve=4"),
            Ok(vec![("uniswap-v3".into(), 5.0), ("curve".into(), 4.0)])
        );
        assert_eq!(dex_fees(""), Ok(vec![]));
        for bad in ["curve", "curve=x", "=5", "curve=-1", "a b=1"] {
            assert!(dex_fees(bad).is_err(), "{bad}");
        }
        assert_eq!(names("a, b:c"), Ok(vec!["a".into(), "b:c".into()]));
        assert!(names(" , ").is_err());
        assert!(names("a,b c").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(int::<u16>("9090", 1, 65_535), Ok(9090));
        assert!(int::<u16>("0", 1, 65_535).is_err());
        assert!(int::<u64>("1.5", 1, 10).is_err());
        assert_eq!(number("0.5", 0.0, 1.0), Ok(0.5));
        assert!(number("NaN", 0.0, 1.0).is_err());
        assert_eq!(boolean(" YES "), Ok(true));
        assert!(boolean("maybe").is_err());
    }
}
