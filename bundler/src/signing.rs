//! The OpenPGP key that signs every RPM and the repository metadata. yum 3.4.3 and rpm 4.11
//! need an RSA key whose *primary* key signs (no signing subkey), OpenPGP v4. The key is
//! generated into the state folder (0600) or supplied by the user (`--signing-key`).

use std::path::{Path, PathBuf};

use pgp::composed::{ArmorOptions, Deserializable, DetachedSignature, KeyType, SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::types::{KeyDetails, Password};

use crate::error::{Error, Result};

pub struct SigningKey {
    key: SignedSecretKey,
    /// The armored secret key, as the rpm crate's signer reads it.
    pub secret_armored: String,
    /// The armored public key, shipped beside the repository.
    pub public_armored: String,
    /// Upper-case hex fingerprint.
    pub fingerprint: String,
    /// Where it came from (state folder or the user's file).
    pub source: PathBuf,
    /// When the key was made: no signature may be older (verifiers refuse that).
    pub created: u64,
}

fn err(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::SigningKey { path: path.to_path_buf(), problem: format!("signing key: {what}: {e}") }
}

/// An armored RSA key is a few KiB; anything bigger is not a signing key.
const MAX_KEY_FILE: u64 = 1 << 20;

impl SigningKey {
    /// `--signing-key FILE` read and checked (regular file, size, armored RSA secret key, no
    /// passphrase) before anything is downloaded, so a wrong key fails in the first second.
    pub fn load_user(p: &Path) -> Result<SigningKey> {
        let text = crate::files::read_regular_string(p, MAX_KEY_FILE).map_err(|e| match e {
            // The cause is the message here (a FIFO, too big, not there): say it, once.
            Error::Read { path, source } | Error::ReadInput { path, source } => Error::Usage(format!("--signing-key {}: {source}", path.display())),
            other => Error::Usage(format!("--signing-key: {other}")),
        })?;
        Self::from_armored(&text, p).map_err(|e| match e {
            Error::SigningKey { problem, .. } => Error::Usage(format!("--signing-key {}: {problem}", p.display())),
            other => other,
        })
    }

    /// The key in `state/signing/`, generated on first use; or the user's own key file.
    pub fn load_or_create(state: &Path, user_key: Option<&Path>, cluster: &str) -> Result<SigningKey> {
        if let Some(p) = user_key {
            return Self::load_user(p);
        }
        let dir = crate::layout::state::signing(state);
        let path = crate::layout::state::signing_key(state);
        if std::fs::symlink_metadata(&dir).is_err() {
            crate::files::create_private_dir(&dir).map_err(|source| Error::Write { path: dir.clone(), source })?;
        }
        crate::files::check_private_dir(&dir, "state folder", true)?;
        if std::fs::symlink_metadata(&path).is_ok() {
            let text = crate::files::read_regular_string(&path, MAX_KEY_FILE)?;
            return Self::from_armored(&text, &path);
        }
        let mut b = SecretKeyParamsBuilder::default();
        b.key_type(KeyType::Rsa(3072))
            .can_certify(true)
            .can_sign(true)
            .primary_user_id(format!("bundler repository signing key for {cluster} <bundler@{cluster}.invalid>"));
        let params = b.build().map_err(|e| err(&path, "parameters", e))?;
        let key = params.generate(rand::thread_rng()).map_err(|e| err(&path, "generation", e))?;
        let armored = key.to_armored_string(ArmorOptions::default()).map_err(|e| err(&path, "armor", e))?;
        crate::files::write_private(&path, armored.as_bytes())?;
        let sk = Self::from_armored(&armored, &path)?;
        crate::files::write_private(&crate::layout::state::signing_public(state), sk.public_armored.as_bytes())?;
        Ok(sk)
    }

    fn from_armored(text: &str, source: &Path) -> Result<SigningKey> {
        let (key, _) = SignedSecretKey::from_string(text).map_err(|e| err(source, "not an armored OpenPGP secret key", e))?;
        if key.primary_key.secret_params().is_encrypted() {
            return Err(Error::SigningKey {
                path: source.to_path_buf(),
                problem: "the secret key is protected by a passphrase, which bundler cannot ask for; export a copy without one (`gpg --export-secret-keys` after `gpg --passwd` to an empty passphrase, kept 0600)".into(),
            });
        }
        if key.primary_key.algorithm() != PublicKeyAlgorithm::RSA {
            return Err(Error::SigningKey {
                path: source.to_path_buf(),
                problem: format!(
                    "the primary key is {:?}; CentOS 7's rpm 4.11 and yum only verify RSA signatures made by the primary key",
                    key.primary_key.algorithm()
                ),
            });
        }
        let public = key.to_public_key();
        let public_armored = SignedPublicKey::to_armored_string(&public, ArmorOptions::default()).map_err(|e| err(source, "armor", e))?;
        Ok(SigningKey {
            created: key.primary_key.created_at().as_secs() as u64,
            fingerprint: hex::encode_upper(key.primary_key.fingerprint().as_bytes()),
            key,
            secret_armored: text.to_string(),
            public_armored,
            source: source.to_path_buf(),
        })
    }

    /// A signature over everything `data` yields, made "at" `at` (never before the key existed,
    /// which verifiers refuse), so the same data and key always give the same signature
    /// (RSA PKCS#1 v1.5 is deterministic).
    fn sign(&self, data: impl std::io::Read, at: u64) -> Result<DetachedSignature> {
        use pgp::composed::SubpacketConfig;
        use pgp::packet::{Subpacket, SubpacketData};
        let k = &self.key.primary_key;
        let at = at.max(self.created);
        let sub = |d| Subpacket::regular(d).map_err(|e| err(&self.source, "subpacket", e));
        let hashed = vec![
            sub(SubpacketData::SignatureCreationTime(pgp::types::Timestamp::from_secs(at as u32)))?,
            sub(SubpacketData::IssuerFingerprint(k.fingerprint()))?,
        ];
        let unhashed = vec![sub(SubpacketData::IssuerKeyId(k.legacy_key_id()))?];
        DetachedSignature::sign_binary_data_with_subpackets(
            rand::thread_rng(),
            k,
            &Password::empty(),
            HashAlgorithm::Sha256,
            data,
            SubpacketConfig::UserDefined { hashed, unhashed },
        )
        .map_err(|e| err(&self.source, "signing", e))
    }

    /// An ASCII-armoured detached signature (repomd.xml.asc).
    pub fn sign_detached(&self, data: &[u8], at: u64) -> Result<String> {
        self.sign(data, at)?.to_armored_string(ArmorOptions::default()).map_err(|e| err(&self.source, "armor", e))
    }

    /// A binary OpenPGP signature packet, header included, as rpm stores it in its signature tags.
    pub fn sign_binary(&self, data: impl std::io::Read, at: u64) -> Result<Vec<u8>> {
        let sig = self.sign(data, at)?;
        let mut out = Vec::with_capacity(1024);
        pgp::packet::PacketTrait::to_writer_with_header(&sig.signature, &mut out).map_err(|e| err(&self.source, "serialising", e))?;
        Ok(out)
    }
}

/// Check an armoured detached signature over `data` against an armoured public key.
pub fn verify_detached(public_armored: &str, data: &[u8], signature_armored: &str) -> std::result::Result<(), String> {
    let (key, _) = SignedPublicKey::from_string(public_armored).map_err(|e| format!("not an OpenPGP public key: {e}"))?;
    let (sig, _) = DetachedSignature::from_string(signature_armored).map_err(|e| format!("not an OpenPGP signature: {e}"))?;
    sig.verify(&key.primary_key, data).map_err(|e| format!("signature does not verify: {e}"))
}

/// Like `verify_detached`, and the armour must be exactly as bundler writes it (the canonical
/// armour of the signature it holds), so no byte of the signature file can change unnoticed.
pub fn verify_detached_exact(public_armored: &str, data: &[u8], signature_armored: &str) -> std::result::Result<(), String> {
    verify_detached(public_armored, data, signature_armored)?;
    let (sig, _) = DetachedSignature::from_string(signature_armored).map_err(|e| format!("not an OpenPGP signature: {e}"))?;
    let canonical = sig.to_armored_string(ArmorOptions::default()).map_err(|e| e.to_string())?;
    if canonical != signature_armored {
        return Err("the signature file is not byte for byte the armour bundler writes (edited?)".into());
    }
    Ok(())
}

/// The fingerprint of an armoured public key.
pub fn public_fingerprint(public_armored: &str) -> std::result::Result<String, String> {
    let (key, _) = SignedPublicKey::from_string(public_armored).map_err(|e| format!("not an OpenPGP public key: {e}"))?;
    Ok(hex::encode_upper(key.primary_key.fingerprint().as_bytes()))
}
