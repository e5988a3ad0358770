//! Ed25519 signing of a run's manifest (`manifest.sig`) and its verification.
//!
//! A key file holds the 32-byte Ed25519 secret seed as 64 hex digits (whitespace around it is
//! ignored) or as 32 raw bytes; `synthcorpus keygen` writes one. The signature covers the exact
//! bytes of `manifest.json`, which in turn holds the sha256 of every other file of the run.

use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::LabelError;
use crate::ingest::sha256_hex;

/// The signature file written beside `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    /// Always `ed25519`.
    pub algorithm: String,
    /// The file signed (`manifest.json`).
    pub signed_file: String,
    /// sha256 of the signed bytes.
    pub signed_sha256: String,
    /// Public key, 64 hex digits.
    pub public_key: String,
    /// Signature, 128 hex digits.
    pub signature: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse hex digits into bytes (`None` unless every pair is hex).
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn key_err(path: &Path, message: impl Into<String>) -> LabelError {
    LabelError::Key {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Read a signing key file (64 hex digits or 32 raw bytes).
pub fn load_signing_key(path: &Path) -> Result<SigningKey, LabelError> {
    let bytes = std::fs::read(path).map_err(|source| LabelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let seed: Vec<u8> = if bytes.len() == 32 {
        bytes
    } else {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| key_err(path, "not 64 hex digits nor 32 raw bytes"))?;
        unhex(text).ok_or_else(|| key_err(path, "not 64 hex digits nor 32 raw bytes"))?
    };
    let seed: [u8; 32] = seed
        .try_into()
        .map_err(|v: Vec<u8>| key_err(path, format!("{} bytes, an Ed25519 key has 32", v.len())))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Read a public key: 64 hex digits, given directly or in a file.
pub fn parse_public_key(text_or_path: &str) -> Result<VerifyingKey, LabelError> {
    let p = Path::new(text_or_path);
    let text = if unhex(text_or_path).is_none() && p.is_file() {
        std::fs::read_to_string(p).map_err(|source| LabelError::Io {
            path: p.to_path_buf(),
            source,
        })?
    } else {
        text_or_path.to_string()
    };
    let bytes: [u8; 32] = unhex(&text)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| key_err(p, "a public key is 64 hex digits"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| key_err(p, e.to_string()))
}

/// Write a new random signing key to `path` (hex, owner-only permissions on Unix) and return
/// the public key in hex. Refuses to overwrite an existing file.
pub fn generate_key(path: &Path) -> Result<String, LabelError> {
    if path.exists() {
        return Err(key_err(path, "exists already; not overwritten"));
    }
    let seed: [u8; 32] = rand::random();
    let key = SigningKey::from_bytes(&seed);
    let io = |source| LabelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    std::io::Write::write_all(&mut f, format!("{}\n", hex(&seed)).as_bytes()).map_err(io)?;
    Ok(hex(key.verifying_key().as_bytes()))
}

/// Sign `bytes` (the manifest) for the file named `signed_file`.
pub fn sign(key: &SigningKey, signed_file: &str, bytes: &[u8]) -> SignatureFile {
    let sig = key.sign(bytes);
    SignatureFile {
        algorithm: "ed25519".into(),
        signed_file: signed_file.into(),
        signed_sha256: sha256_hex(bytes),
        public_key: hex(key.verifying_key().as_bytes()),
        signature: hex(&sig.to_bytes()),
    }
}

/// Check a signature over `bytes`; with `pinned`, the signature must also be by that key.
/// Returns the signer's public key (hex) or why the check failed.
pub fn check(
    sig: &SignatureFile,
    bytes: &[u8],
    pinned: Option<&VerifyingKey>,
) -> Result<String, String> {
    if sig.algorithm != "ed25519" {
        return Err(format!("unsupported algorithm `{}`", sig.algorithm));
    }
    let pk: [u8; 32] = unhex(&sig.public_key)
        .and_then(|b| b.try_into().ok())
        .ok_or("public_key is not 64 hex digits")?;
    let key = VerifyingKey::from_bytes(&pk).map_err(|e| format!("bad public key: {e}"))?;
    if let Some(p) = pinned {
        if p != &key {
            return Err(format!(
                "signed by {}, not by the expected key {}",
                sig.public_key,
                hex(p.as_bytes())
            ));
        }
    }
    let s: [u8; 64] = unhex(&sig.signature)
        .and_then(|b| b.try_into().ok())
        .ok_or("signature is not 128 hex digits")?;
    key.verify_strict(bytes, &Signature::from_bytes(&s))
        .map_err(|_| "the signature does not match the manifest's bytes".to_string())?;
    Ok(sig.public_key.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_check() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let pubhex = generate_key(&p).unwrap();
        assert!(generate_key(&p).is_err());
        let key = load_signing_key(&p).unwrap();
        let s = sign(&key, "manifest.json", b"hello");
        assert_eq!(s.public_key, pubhex);
        assert_eq!(check(&s, b"hello", None).unwrap(), pubhex);
        assert!(check(&s, b"hellp", None).is_err());
        let other = SigningKey::from_bytes(&[7u8; 32]).verifying_key();
        assert!(check(&s, b"hello", Some(&other))
            .unwrap_err()
            .contains("not by"));
        let pinned = parse_public_key(&pubhex).unwrap();
        assert!(check(&s, b"hello", Some(&pinned)).is_ok());
    }
}
