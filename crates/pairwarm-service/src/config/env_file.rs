//! The `--env-file` format: dotenv-style `KEY=VALUE` lines.

/// An `--env-file` line that is not `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct EnvFileError {
    /// The file.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

/// Parses a dotenv-style file: `KEY=VALUE` lines, `#` comments, blank lines, optional
/// `export ` prefix, values optionally in single or double quotes (no interpolation).
pub fn parse_env_file(file: &str, text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let fail = |reason: &str| EnvFileError {
            file: file.to_owned(),
            line: i + 1,
            reason: reason.to_owned(),
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(fail("expected KEY=VALUE"));
        };
        let key = key.trim();
        let valid_key = !key.is_empty()
            && key.len() <= 128
            && !key.starts_with(|c: char| c.is_ascii_digit())
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_key {
            return Err(fail(
                "variable names are letters, digits and '_', not starting with a digit",
            ));
        }
        let value = value.trim();
        let value = match value.as_bytes().first() {
            Some(&q @ (b'"' | b'\'')) => {
                let inner = &value[1..];
                match inner.strip_suffix(q as char) {
                    Some(v) if !v.contains(q as char) => v,
                    _ => return Err(fail("unterminated quote")),
                }
            }
            _ => value.split(" #").next().unwrap_or("").trim_end(),
        };
        if value.len() > 64 * 1024 {
            return Err(fail("value longer than 64 KiB"));
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file() {
        let text = "# comment\nexport WARMING_STRATEGY=threshold\nMETRICS_PORT = 9191 # trailing\nX='a b'\nY=\"c=d\"\n\n";
        let vars = parse_env_file("f.env", text).unwrap();
        assert_eq!(
            vars,
            vec![
                ("WARMING_STRATEGY".into(), "threshold".into()),
                ("METRICS_PORT".into(), "9191".into()),
                ("X".into(), "a b".into()),
                ("Y".into(), "c=d".into()),
            ]
        );
        let err = parse_env_file("f.env", "A=1\nnot a line\n").unwrap_err();
        assert_eq!((err.line, err.file.as_str()), (2, "f.env"));
        assert!(parse_env_file("f", "1A=2").is_err());
        assert!(parse_env_file("f", "A=\"open").is_err());
    }
}
