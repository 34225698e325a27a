//! Workspace encryption at rest, byte-compatible with the web app (design §6).
//!
//! A workspace's data key is 32 random bytes, stored in `workspace_encryption_keys` wrapped
//! with a key derived from `ENCRYPTION_MASTER_KEY` (scrypt, salt `workspace-key-salt`,
//! N = 16384, r = 8, p = 1). Wrapped keys and encrypted fields share one format:
//! base64(IV(12) ‖ AES-256-GCM ciphertext ‖ tag(16)). Empty strings stay empty.

use std::fmt;

use crate::db::Db;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use uuid::Uuid;

use crate::config::Secret;
use crate::error::{Classify, JobError};

const SALT: &[u8] = b"workspace-key-salt";
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why a value could not be encrypted or decrypted. Never carries key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncryptionError {
    #[error("encrypted value is not valid base64")]
    NotBase64,
    #[error("encrypted value is too short to hold an IV and a tag")]
    TooShort,
    #[error("decryption failed: wrong key or tampered data")]
    Rejected,
    #[error("a workspace key must be 32 bytes, got {0}")]
    KeyLength(usize),
    #[error("decrypted text is not UTF-8")]
    NotUtf8,
    #[error("cannot derive a key from the master key")]
    Derivation,
}

/// The key that wraps workspace keys, derived once from `ENCRYPTION_MASTER_KEY`.
#[derive(Clone)]
pub struct MasterKey(Aes256Gcm);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// Derives the wrapping key. scrypt is deliberately slow (tens of milliseconds): do it
    /// once at init, not per workspace.
    ///
    /// # Errors
    /// The scrypt parameters are rejected (they are constants, so only on a library change).
    pub fn derive(master: &Secret) -> Result<Self, EncryptionError> {
        let params = scrypt::Params::new(14, 8, 1, 32).map_err(|_| EncryptionError::Derivation)?;
        let mut key = [0u8; 32];
        scrypt::scrypt(master.expose().as_bytes(), SALT, &params, &mut key)
            .map_err(|_| EncryptionError::Derivation)?;
        Ok(MasterKey(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(
            &key,
        ))))
    }

    /// Unwraps a workspace key as stored in `workspace_encryption_keys.encrypted_key`.
    ///
    /// # Errors
    /// The value is malformed or was wrapped under another master key.
    pub fn unwrap(&self, encrypted_key: &str) -> Result<WorkspaceKey, EncryptionError> {
        let key = open(&self.0, encrypted_key)?;
        WorkspaceKey::from_bytes(&key)
    }

    /// Wraps a workspace key the way the web app stores it.
    ///
    /// # Errors
    /// Encryption failed (it does not with a valid key).
    pub fn wrap(&self, key: &WorkspaceKey) -> Result<String, EncryptionError> {
        seal(&self.0, &key.bytes)
    }
}

/// One workspace's data key.
#[derive(Clone)]
pub struct WorkspaceKey {
    cipher: Aes256Gcm,
    bytes: [u8; 32],
}

impl fmt::Debug for WorkspaceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WorkspaceKey([redacted])")
    }
}

impl WorkspaceKey {
    /// A key from its 32 raw bytes.
    ///
    /// # Errors
    /// Not 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EncryptionError> {
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| EncryptionError::KeyLength(bytes.len()))?;
        Ok(WorkspaceKey {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
            bytes,
        })
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let bytes: [u8; 32] = Aes256Gcm::generate_key(&mut OsRng).into();
        WorkspaceKey {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
            bytes,
        }
    }

    /// Encrypts a field; empty stays empty.
    ///
    /// # Errors
    /// Encryption failed (it does not with a valid key).
    pub fn encrypt(&self, plaintext: &str) -> Result<String, EncryptionError> {
        if plaintext.is_empty() {
            return Ok(String::new());
        }
        seal(&self.cipher, plaintext.as_bytes())
    }

    /// Decrypts a field; empty stays empty.
    ///
    /// # Errors
    /// The value is malformed, was encrypted under another key, or is not UTF-8 text.
    pub fn decrypt(&self, encrypted: &str) -> Result<String, EncryptionError> {
        if encrypted.is_empty() {
            return Ok(String::new());
        }
        String::from_utf8(open(&self.cipher, encrypted)?).map_err(|_| EncryptionError::NotUtf8)
    }
}

/// The key of `ws_id`, or `None` when encryption is off for it (no master key configured, or
/// no row in `workspace_encryption_keys`).
///
/// # Errors
/// Retryable when the database is unreachable; permanent when the stored key does not unwrap
/// with this master key (retrying cannot help, and writing plaintext would downgrade the data).
pub async fn workspace_key(
    pool: &Db,
    master: Option<&MasterKey>,
    ws_id: Uuid,
) -> Result<Option<WorkspaceKey>, JobError> {
    let Some(master) = master else {
        return Ok(None);
    };
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT encrypted_key FROM public.workspace_encryption_keys WHERE ws_id = $1",
    )
    .bind(ws_id)
    .fetch_optional(pool)
    .await
    .retryable("reading the workspace's encryption key")?;
    stored
        .map(|key| master.unwrap(&key))
        .transpose()
        .permanent("unwrapping the workspace's encryption key with ENCRYPTION_MASTER_KEY")
}

fn seal(cipher: &Aes256Gcm, plaintext: &[u8]) -> Result<String, EncryptionError> {
    let iv = Aes256Gcm::generate_nonce(&mut OsRng);
    // aes-gcm appends the tag to the ciphertext, which is the stored order.
    let sealed = cipher
        .encrypt(&iv, plaintext)
        .map_err(|_| EncryptionError::Rejected)?;
    let mut out = Vec::with_capacity(IV_LEN + sealed.len());
    out.extend_from_slice(&iv);
    out.extend_from_slice(&sealed);
    Ok(BASE64.encode(out))
}

fn open(cipher: &Aes256Gcm, encoded: &str) -> Result<Vec<u8>, EncryptionError> {
    let raw = BASE64
        .decode(encoded.trim())
        .map_err(|_| EncryptionError::NotBase64)?;
    if raw.len() < IV_LEN + TAG_LEN {
        return Err(EncryptionError::TooShort);
    }
    let (iv, sealed) = raw.split_at(IV_LEN);
    cipher
        .decrypt(Nonce::from_slice(iv), sealed)
        .map_err(|_| EncryptionError::Rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by Node's crypto (`scripts/encryption_vectors.mjs`), as the web app encrypts.
    const VECTORS: &str = include_str!("../fixtures/encryption-vectors.json");

    fn vectors() -> serde_json::Value {
        serde_json::from_str(VECTORS).unwrap()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn values_encrypted_by_the_web_app_decrypt() {
        let v = vectors();
        let master = MasterKey::derive(&Secret::new(v["master_key"].as_str().unwrap())).unwrap();
        let key = master
            .unwrap(v["encrypted_workspace_key"].as_str().unwrap())
            .unwrap();
        assert_eq!(hex(&key.bytes), v["workspace_key_hex"].as_str().unwrap());
        for field in v["fields"].as_array().unwrap() {
            assert_eq!(
                key.decrypt(field["ciphertext"].as_str().unwrap()).unwrap(),
                field["plaintext"].as_str().unwrap()
            );
        }
    }

    #[test]
    fn what_we_encrypt_has_the_web_apps_layout_and_round_trips() {
        let v = vectors();
        let master = MasterKey::derive(&Secret::new(v["master_key"].as_str().unwrap())).unwrap();
        let key = WorkspaceKey::generate();
        let rewrapped = master.unwrap(&master.wrap(&key).unwrap()).unwrap();
        assert_eq!(rewrapped.bytes, key.bytes);

        let text = "Übung ☕ — 日本語 🎉";
        let sealed = key.encrypt(text).unwrap();
        let raw = BASE64.decode(&sealed).unwrap();
        assert_eq!(raw.len(), IV_LEN + text.len() + TAG_LEN);
        assert_ne!(key.encrypt(text).unwrap(), sealed, "a fresh IV every time");
        assert_eq!(key.decrypt(&sealed).unwrap(), text);
        assert_eq!(key.encrypt("").unwrap(), "");
        assert_eq!(key.decrypt("").unwrap(), "");
    }

    #[test]
    fn wrong_keys_and_damaged_values_are_rejected_without_leaking() {
        let key = WorkspaceKey::generate();
        let other = WorkspaceKey::generate();
        let sealed = key.encrypt("secret title").unwrap();
        assert_eq!(other.decrypt(&sealed), Err(EncryptionError::Rejected));
        assert_eq!(key.decrypt("%%%"), Err(EncryptionError::NotBase64));
        assert_eq!(key.decrypt("AAAA"), Err(EncryptionError::TooShort));
        let mut raw = BASE64.decode(&sealed).unwrap();
        raw[IV_LEN] ^= 1;
        assert_eq!(
            key.decrypt(&BASE64.encode(raw)),
            Err(EncryptionError::Rejected)
        );
        assert_eq!(
            WorkspaceKey::from_bytes(&[0; 16]).unwrap_err(),
            EncryptionError::KeyLength(16)
        );
        assert!(!format!("{key:?}").contains(&hex(&key.bytes)));
    }
}
