//! Entry signatures, exactly as the original signs its streams.
//!
//! `sig` = lowercase hex of HMAC-SHA256(key, `<stream name>` + `:` + `<data exactly as
//! stored>`), key = `STREAM_SIGNING_KEY` as UTF-8 bytes. The stream name is in the input,
//! so an entry cannot be replayed onto another stream. During a key rotation
//! `STREAM_SIGNING_KEY_PREVIOUS` is accepted too. Verification compares in constant time
//! (`hmac`'s `verify_slice`, built on `subtle`).
//!
//! pairwarm's flat entries have no `data` field; they are signed over
//! `<stream>:` + their other fields as `<name>=<value>` joined by `\n`, in stored order
//! (flat values never contain a newline: every field's value is checked for its charset).

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of a `sig` value: 32 bytes as hex.
pub const SIG_HEX_LEN: usize = 64;

/// Why an entry's signature was refused (with a key set).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `sig` field.
    #[error("entry is unsigned, and STREAM_SIGNING_KEY is set")]
    Unsigned,
    /// `sig` is not 64 hex digits.
    #[error("`sig` is not {SIG_HEX_LEN} hex digits ({len} bytes)")]
    Malformed {
        /// Its length.
        len: usize,
    },
    /// `sig` does not match (neither key).
    #[error("`sig` does not match the entry (wrong key, altered data, or another stream)")]
    Mismatch,
}

impl SignatureError {
    /// The dead-letter reason: `unsigned` or `bad_signature`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unsigned => "unsigned",
            Self::Malformed { .. } | Self::Mismatch => "bad_signature",
        }
    }
}

/// The signing key, and the previous one during a rotation. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeys {
    current: Vec<u8>,
    previous: Option<Vec<u8>>,
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeys")
            .field("current", &"<hidden>")
            .field("previous", &self.previous.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

impl SigningKeys {
    /// Keys from `STREAM_SIGNING_KEY` and `STREAM_SIGNING_KEY_PREVIOUS`.
    pub fn new(current: &str, previous: Option<&str>) -> Self {
        Self {
            current: current.as_bytes().to_vec(),
            previous: previous.map(|p| p.as_bytes().to_vec()),
        }
    }

    fn mac(key: &[u8], stream: &str) -> HmacSha256 {
        // HMAC takes keys of any length.
        let mut mac = HmacSha256::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        mac.update(stream.as_bytes());
        mac.update(b":");
        mac
    }

    /// The `sig` of `data` on `stream` with the current key (what pairwarm publishes).
    ///
    /// ```
    /// use pairwarm_service::entry::SigningKeys;
    /// let keys = SigningKeys::new("k", None);
    /// assert_eq!(keys.sign("s", b"{}").len(), 64);
    /// ```
    pub fn sign(&self, stream: &str, data: &[u8]) -> String {
        let mut mac = Self::mac(&self.current, stream);
        mac.update(data);
        hex::encode(mac.finalize().into_bytes())
    }

    /// The `sig` of a flat entry's fields (see the module docs).
    pub fn sign_flat<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        stream: &str,
        fields: &[(K, V)],
    ) -> String {
        let mut mac = Self::mac(&self.current, stream);
        flat_input(&mut mac, fields);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Checks the `sig` of a `data` entry, in constant time, against both keys.
    pub fn verify(
        &self,
        stream: &str,
        data: &[u8],
        sig: Option<&[u8]>,
    ) -> Result<(), SignatureError> {
        self.check(sig, |key| {
            let mut mac = Self::mac(key, stream);
            mac.update(data);
            mac
        })
    }

    /// Checks the `sig` of a flat entry (see the module docs).
    pub fn verify_flat<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        stream: &str,
        fields: &[(K, V)],
        sig: Option<&[u8]>,
    ) -> Result<(), SignatureError> {
        self.check(sig, |key| {
            let mut mac = Self::mac(key, stream);
            flat_input(&mut mac, fields);
            mac
        })
    }

    fn check(
        &self,
        sig: Option<&[u8]>,
        mac_with: impl Fn(&[u8]) -> HmacSha256,
    ) -> Result<(), SignatureError> {
        let sig = sig.ok_or(SignatureError::Unsigned)?;
        let mut expected = [0u8; 32];
        if sig.len() != SIG_HEX_LEN || hex::decode_to_slice(sig, &mut expected).is_err() {
            return Err(SignatureError::Malformed { len: sig.len() });
        }
        let keys = std::iter::once(&self.current).chain(self.previous.as_ref());
        for key in keys {
            if mac_with(key).verify_slice(&expected).is_ok() {
                return Ok(());
            }
        }
        Err(SignatureError::Mismatch)
    }
}

fn flat_input<K: AsRef<[u8]>, V: AsRef<[u8]>>(mac: &mut HmacSha256, fields: &[(K, V)]) {
    let mut first = true;
    for (k, v) in fields {
        if k.as_ref() == b"sig" {
            continue;
        }
        if !first {
            mac.update(b"\n");
        }
        first = false;
        mac.update(k.as_ref());
        mac.update(b"=");
        mac.update(v.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's test vector (original-wire-formats.md §2).
    pub(crate) const VECTOR_DATA: &str = r#"{"chain":"ethereum","dex":"uniswap_v2","pairKey":"uniswap_v2_USDC_WETH","pairAddress":"0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc","token0":"0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48","token1":"0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2","price":2.5e-9,"reserve0":"50000000000000","reserve1":"20000000000000000000000","timestamp":1795923835406,"blockNumber":21000000,"latency":0,"fee":0.003,"pipelineTimestamps":{"wsReceivedAt":0,"publishedAt":1795923835406},"source":"live","_trace_traceId":"01a22566fa0f000000010000b476651f","_trace_spanId":"2566fa0f00000001","_trace_serviceName":"chain-detector:ethereum","_trace_timestamp":"1795923835407"}"#;
    const VECTOR_SIG: &str = "b676f294b89cef1029ab625baa3263b22b83f526e20690119e494ba7e7821bcb";

    #[test]
    fn the_references_test_vector() {
        let keys = SigningKeys::new("interop-signing-key", None);
        assert_eq!(
            keys.sign("stream:price-updates", VECTOR_DATA.as_bytes()),
            VECTOR_SIG
        );
        assert_eq!(
            keys.verify(
                "stream:price-updates",
                VECTOR_DATA.as_bytes(),
                Some(VECTOR_SIG.as_bytes())
            ),
            Ok(())
        );
        // Uppercase hex is the same signature.
        let upper = VECTOR_SIG.to_ascii_uppercase();
        assert_eq!(
            keys.verify(
                "stream:price-updates",
                VECTOR_DATA.as_bytes(),
                Some(upper.as_bytes())
            ),
            Ok(())
        );
    }

    #[test]
    fn refusals_name_their_reason() {
        let keys = SigningKeys::new("interop-signing-key", None);
        let data = VECTOR_DATA.as_bytes();
        let sig = Some(VECTOR_SIG.as_bytes());
        // Another stream, altered data, another key, no sig, a malformed sig.
        assert_eq!(
            keys.verify("stream:opportunities", data, sig),
            Err(SignatureError::Mismatch)
        );
        let altered = VECTOR_DATA.replace("2.5e-9", "2.6e-9");
        assert_eq!(
            keys.verify("stream:price-updates", altered.as_bytes(), sig),
            Err(SignatureError::Mismatch)
        );
        let other = SigningKeys::new("another-key", None);
        assert_eq!(
            other.verify("stream:price-updates", data, sig),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            keys.verify("stream:price-updates", data, None),
            Err(SignatureError::Unsigned)
        );
        assert_eq!(
            keys.verify("stream:price-updates", data, Some(b"abc")),
            Err(SignatureError::Malformed { len: 3 })
        );
        assert_eq!(SignatureError::Unsigned.reason(), "unsigned");
        assert_eq!(SignatureError::Mismatch.reason(), "bad_signature");
        assert!(!format!("{keys:?}").contains("interop"));
    }

    #[test]
    fn the_previous_key_is_accepted_during_a_rotation() {
        let old = SigningKeys::new("old-key", None);
        let sig = old.sign("s", b"{}");
        let rotated = SigningKeys::new("new-key", Some("old-key"));
        assert_eq!(rotated.verify("s", b"{}", Some(sig.as_bytes())), Ok(()));
        assert_eq!(
            SigningKeys::new("new-key", None).verify("s", b"{}", Some(sig.as_bytes())),
            Err(SignatureError::Mismatch)
        );
        // Flat entries: signed over their fields, `sig` itself excluded.
        let fields = [("chain", "bsc"), ("pair", "0x01"), ("price", "2")];
        let flat_sig = rotated.sign_flat("s", &fields);
        let mut with_sig = fields.to_vec();
        with_sig.push(("sig", &flat_sig));
        assert_eq!(
            rotated.verify_flat("s", &with_sig, Some(flat_sig.as_bytes())),
            Ok(())
        );
        let tampered = [("chain", "bsc"), ("pair", "0x01"), ("price", "3")];
        assert_eq!(
            rotated.verify_flat("s", &tampered, Some(flat_sig.as_bytes())),
            Err(SignatureError::Mismatch)
        );
    }
}
