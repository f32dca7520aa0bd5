//! Signed checkpoints: the C2SP tlog-checkpoint text inside a C2SP signed
//! note, signed with Ed25519. Pure: keys, notes and checkpoints in, typed
//! results out; the store keeps the notes and `Ledger` decides what to sign.
//!
//! A checkpoint says "the tree of this origin had this size and this root".
//! An auditor who keeps one can later ask for a consistency proof to the
//! current one, and a ledger rewritten after it can no longer produce one.
//! The formats are those of the transparency-log ecosystem (Go's
//! `golang.org/x/mod/sumdb/note`, C2SP signed-note and tlog-checkpoint), so
//! its tools read our checkpoints and keys:
//!
//! - checkpoint body: `<origin>\n<size>\n<base64 root>\n` (then optional
//!   extension lines, kept but not interpreted);
//! - signed note: the body, an empty line, then one line per signature,
//!   `— <key name> <base64(key id || signature)>\n`;
//! - key id: the first 4 bytes of SHA-256(name || "\n" || 0x01 || public
//!   key), 0x01 naming Ed25519;
//! - verifier key: `<name>+<key id hex>+<base64(0x01 || public key)>`;
//!   signer key: `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::merkle::Digest;

/// The signature algorithm byte of Ed25519 in C2SP signed notes.
const ALG_ED25519: u8 = 0x01;

/// Longest note we parse (a checkpoint is under 200 bytes; this leaves room
/// for extension lines and a few co-signatures, and refuses junk early).
pub const NOTE_BYTES_MAX: usize = 16 << 10;

/// Most signature lines a note may carry (C2SP signed-note allows verifiers
/// to bound this; Go's note package uses 100).
pub const NOTE_SIGNATURES_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("malformed key: {0}")]
    Key(String),
    #[error("malformed signed note: {0}")]
    Note(String),
    #[error("malformed checkpoint: {0}")]
    Body(String),
    #[error("the note carries no signature by key {name} ({key_id})")]
    NotSigned { name: String, key_id: String },
    #[error(
        "the signature by key {name} ({key_id}) does not verify: the note was changed or forged"
    )]
    BadSignature { name: String, key_id: String },
    /// A genuine signature over a checkpoint of another log: the key's name
    /// is the log's origin (C2SP tlog-checkpoint), so a checkpoint naming
    /// another origin is not this log's, whoever signed it.
    #[error(
        "the checkpoint's origin is {origin:?}, not the key's name {name:?}: it is not a checkpoint of this log"
    )]
    WrongOrigin { origin: String, name: String },
}

/// A key's name and 4-byte id.
fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ALG_ED25519]);
    hasher.update(public);
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A key name: non-empty, printable, no spaces and no `+`.
fn check_name(name: &str) -> Result<(), CheckpointError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '+');
    if ok {
        Ok(())
    } else {
        Err(CheckpointError::Key(format!(
            "key name {name:?} must be non-empty, without spaces, control characters or '+'"
        )))
    }
}

/// The private half: signs checkpoints.
pub struct Signer {
    name: String,
    id: [u8; 4],
    key: SigningKey,
}

/// The public half: checks signatures. Its text form is what auditors keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl Signer {
    /// A signer from a 32-byte Ed25519 seed (the caller draws it from the
    /// operating system's random source).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Signer, CheckpointError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(Signer {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>`.
    pub fn parse(text: &str) -> Result<Signer, CheckpointError> {
        let text = text.trim();
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| CheckpointError::Key("a signer key starts with PRIVATE+KEY+".into()))?;
        let (name, id, key) = split_key(rest)?;
        let seed: [u8; 32] = key
            .try_into()
            .map_err(|_| CheckpointError::Key("an Ed25519 seed is 32 bytes".into()))?;
        let signer = Signer::from_seed(name, seed)?;
        if signer.id != id {
            return Err(CheckpointError::Key(format!(
                "key id {} does not match the key (expected {})",
                hex::encode(id),
                hex::encode(signer.id)
            )));
        }
        Ok(signer)
    }

    /// The text form `parse` reads. Secret: store it with mode 0600.
    pub fn to_text(&self) -> String {
        let mut key = vec![ALG_ED25519];
        key.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.id),
            BASE64.encode(key)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The signed note of this checkpoint.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        let body = checkpoint.body();
        let signature = self.key.sign(body.as_bytes());
        let mut blob = self.id.to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        format!("{body}\n\u{2014} {} {}\n", self.name, BASE64.encode(blob))
    }
}

/// `<name>+<hex id>+<base64(0x01 || key)>` into its parts.
fn split_key(text: &str) -> Result<(&str, [u8; 4], Vec<u8>), CheckpointError> {
    // Base64 may contain '+', so the key is everything after the second.
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(CheckpointError::Key(
            "expected <name>+<key id>+<base64 key>".into(),
        ));
    };
    check_name(name)?;
    let id: [u8; 4] = hex::decode(id)
        .ok()
        .filter(|_| id.len() == 8)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| CheckpointError::Key(format!("key id {id:?} is not 8 hex digits")))?;
    let key = BASE64
        .decode(key)
        .map_err(|error| CheckpointError::Key(format!("the key is not base64: {error}")))?;
    match key.split_first() {
        Some((&ALG_ED25519, key)) => Ok((name, id, key.to_vec())),
        Some((alg, _)) => Err(CheckpointError::Key(format!(
            "signature algorithm {alg} is not Ed25519 (1)"
        ))),
        None => Err(CheckpointError::Key("the key is empty".into())),
    }
}

impl Verifier {
    /// Parses `<name>+<id>+<base64(0x01 || public key)>`.
    pub fn parse(text: &str) -> Result<Verifier, CheckpointError> {
        let text = text.trim();
        if text.starts_with("PRIVATE+KEY+") {
            return Err(CheckpointError::Key(
                "this is a private signer key; give the public verifier key".into(),
            ));
        }
        let (name, id, key) = split_key(text)?;
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| CheckpointError::Key("an Ed25519 public key is 32 bytes".into()))?;
        let key = VerifyingKey::from_bytes(&key)
            .map_err(|_| CheckpointError::Key("not a valid Ed25519 public key".into()))?;
        if key_id(name, key.as_bytes()) != id {
            return Err(CheckpointError::Key(format!(
                "key id {} does not match the key",
                hex::encode(id)
            )));
        }
        Ok(Verifier {
            name: name.to_owned(),
            id,
            key,
        })
    }

    pub fn to_text(&self) -> String {
        let mut key = vec![ALG_ED25519];
        key.extend_from_slice(self.key.as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.id),
            BASE64.encode(key)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks the note's signature by this key (strict Ed25519
    /// verification) and returns the checkpoint it signs, whose origin must
    /// be the key's name. Signatures by other keys are ignored, as C2SP
    /// signed-note says; of several lines by this key, the first decides
    /// (as Go's `note.Open`, which drops later repeats unchecked).
    pub fn open(&self, note: &str) -> Result<Checkpoint, CheckpointError> {
        let (body, signatures) = split_note(note)?;
        let checkpoint = Checkpoint::parse(body)?;
        let key_id = hex::encode(self.id);
        for (name, blob) in signatures {
            if name != self.name || blob[..4] != self.id {
                continue;
            }
            let signature = Signature::from_slice(&blob[4..])
                .map_err(|_| CheckpointError::Note("an Ed25519 signature is 64 bytes".into()))?;
            return match self.key.verify_strict(body.as_bytes(), &signature) {
                Ok(()) if checkpoint.origin == self.name => Ok(checkpoint),
                Ok(()) => Err(CheckpointError::WrongOrigin {
                    origin: checkpoint.origin,
                    name: self.name.clone(),
                }),
                Err(_) => Err(CheckpointError::BadSignature {
                    name: self.name.clone(),
                    key_id,
                }),
            };
        }
        Err(CheckpointError::NotSigned {
            name: self.name.clone(),
            key_id,
        })
    }
}

/// A signature line's key name and its bytes (key id || signature).
type NoteSignature<'a> = (&'a str, Vec<u8>);

/// A note's signed text and its signatures. The text is every line up to
/// the first empty line (a checkpoint has no empty line), the signatures
/// every line after it; each must be a signature line, so a second empty
/// line is refused rather than read as part of either.
fn split_note(note: &str) -> Result<(&str, Vec<NoteSignature<'_>>), CheckpointError> {
    if note.len() > NOTE_BYTES_MAX {
        return Err(CheckpointError::Note(format!(
            "{} bytes is over the limit of {NOTE_BYTES_MAX}",
            note.len()
        )));
    }
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(CheckpointError::Note(
            "it holds a control character other than newline".into(),
        ));
    }
    let at = note
        .find("\n\n")
        .ok_or_else(|| CheckpointError::Note("no empty line before the signatures".into()))?;
    let (body, signatures) = (&note[..at + 1], &note[at + 2..]);
    if !signatures.ends_with('\n') {
        return Err(CheckpointError::Note(
            "the last signature line has no newline".into(),
        ));
    }
    let mut parsed = Vec::new();
    for line in signatures[..signatures.len() - 1].split('\n') {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err(CheckpointError::Note(format!(
                "signature line {line:?} does not start with an em dash and a space"
            )));
        };
        let Some((name, blob)) = rest.split_once(' ') else {
            return Err(CheckpointError::Note(format!(
                "signature line {line:?} has no signature after the key name"
            )));
        };
        let blob = BASE64
            .decode(blob)
            .map_err(|error| CheckpointError::Note(format!("signature is not base64: {error}")))?;
        if blob.len() < 5 {
            return Err(CheckpointError::Note(
                "a signature is shorter than 5 bytes".into(),
            ));
        }
        parsed.push((name, blob));
        if parsed.len() > NOTE_SIGNATURES_MAX {
            return Err(CheckpointError::Note(format!(
                "more than {NOTE_SIGNATURES_MAX} signatures"
            )));
        }
    }
    Ok((body, parsed))
}

/// What a checkpoint says: this log (`origin`) had `size` entries with this
/// Merkle root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Digest,
    /// Extension lines after the root, without their newlines.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    pub fn new(origin: &str, size: u64, root: Digest) -> Checkpoint {
        Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The checkpoint text (the note's signed body).
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }

    /// Parses a checkpoint text.
    pub fn parse(body: &str) -> Result<Checkpoint, CheckpointError> {
        let bad = |what: String| CheckpointError::Body(what);
        let Some(text) = body.strip_suffix('\n') else {
            return Err(bad("it does not end with a newline".into()));
        };
        let mut lines = text.split('\n');
        let origin = lines.next().filter(|l| !l.is_empty());
        let origin = origin.ok_or_else(|| bad("the origin line is empty".into()))?;
        let size = lines
            .next()
            .ok_or_else(|| bad("no tree size line".into()))?;
        let canonical = size == "0" || (!size.starts_with('0') && !size.is_empty());
        let size: u64 = size
            .parse()
            .ok()
            .filter(|_| canonical && size.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| bad(format!("tree size {size:?} is not a decimal number")))?;
        let root = lines
            .next()
            .ok_or_else(|| bad("no root hash line".into()))?;
        let root: Digest = BASE64
            .decode(root)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| bad(format!("root hash {root:?} is not 32 bytes in base64")))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("an extension line is empty".into()));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// A note's checkpoint without checking any signature: for reading our own
/// stored notes (whose signatures `Verifier::open` checks when it matters).
pub fn read_unverified(note: &str) -> Result<Checkpoint, CheckpointError> {
    let (body, _) = split_note(note)?;
    Checkpoint::parse(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::from_seed("example.org/ledger", [7; 32]).unwrap()
    }

    #[test]
    fn a_signed_checkpoint_round_trips_and_its_keys_parse_back() {
        let signer = signer();
        let checkpoint = Checkpoint::new("example.org/ledger", 42, [9; 32]);
        let note = signer.sign(&checkpoint);
        assert!(note.starts_with("example.org/ledger\n42\nCQkJ"));
        assert!(note.contains("\n\n\u{2014} example.org/ledger "));
        let verifier = Verifier::parse(&signer.verifier().to_text()).unwrap();
        assert_eq!(verifier.open(&note).unwrap(), checkpoint);
        let again = Signer::parse(&signer.to_text()).unwrap();
        assert_eq!(
            again.sign(&checkpoint),
            note,
            "Ed25519 signing is deterministic"
        );
        assert_eq!(read_unverified(&note).unwrap(), checkpoint);
    }

    // The vector of golang.org/x/mod/sumdb/note's documentation: a key and
    // a note it signed, checked by code that is not ours.
    #[test]
    fn keys_whose_base64_holds_a_plus_round_trip() {
        for byte in 0..=255u8 {
            let signer = Signer::from_seed("k", [byte; 32]).unwrap();
            let again = Signer::parse(&signer.to_text()).unwrap();
            assert_eq!(again.verifier(), signer.verifier());
            assert_eq!(
                Verifier::parse(&signer.verifier().to_text()).unwrap(),
                signer.verifier()
            );
        }
    }

    #[test]
    fn go_sumdb_note_example_verifies() {
        let verifier =
            Verifier::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
                .unwrap();
        let note = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n\
                    \n\
                    \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        // The example's text is not a checkpoint, so `open` reports that
        // after the signature split; check the signature directly.
        let (body, signatures) = split_note(note).unwrap();
        let (name, blob) = &signatures[0];
        assert_eq!(*name, "PeterNeumann");
        assert_eq!(blob[..4], verifier.id);
        let signature = Signature::from_slice(&blob[4..]).unwrap();
        verifier
            .key
            .verify_strict(body.as_bytes(), &signature)
            .unwrap();
        assert!(matches!(verifier.open(note), Err(CheckpointError::Body(_))));
    }

    #[test]
    fn tampered_or_foreign_notes_are_refused_with_the_reason() {
        let signer = signer();
        let note = signer.sign(&Checkpoint::new("example.org/ledger", 42, [9; 32]));
        let verifier = signer.verifier();
        let changed = note.replacen("42", "43", 1);
        assert!(matches!(
            verifier.open(&changed),
            Err(CheckpointError::BadSignature { .. })
        ));
        let other = Signer::from_seed("example.org/ledger", [8; 32]).unwrap();
        assert!(matches!(
            other.verifier().open(&note),
            Err(CheckpointError::NotSigned { .. })
        ));
        for broken in [
            note.replace("\n\n", "\n"),
            note.trim_end().to_owned(),
            note.replace('\u{2014}', "-"),
            note.replacen("42", "042", 1),
            note.replacen("42", "-1", 1),
            format!("{note}\u{7}"),
        ] {
            assert!(verifier.open(&broken).is_err(), "{broken:?}");
        }
        assert!(
            Verifier::parse(&signer.to_text()).is_err(),
            "private key as public"
        );
        assert!(Verifier::parse("a+00000000+AQ==").is_err());
        assert!(Signer::from_seed("has space", [1; 32]).is_err());
    }

    /// The signature lines of a note (after its empty line).
    fn signature_lines(note: &str) -> &str {
        &note[note.find("\n\n").unwrap() + 2..]
    }

    #[test]
    fn the_origin_is_the_key_name_and_the_first_signature_by_the_key_decides() {
        let signer = signer();
        let verifier = signer.verifier();
        let evil = signer.sign(&Checkpoint::new("evil.example/ledger", 42, [9; 32]));
        assert!(matches!(
            verifier.open(&evil),
            Err(CheckpointError::WrongOrigin { .. })
        ));
        let mut checkpoint = Checkpoint::new("example.org/ledger", 42, [9; 32]);
        checkpoint.extensions.push("an extension line".into());
        let note = signer.sign(&checkpoint);
        assert_eq!(verifier.open(&note).unwrap(), checkpoint);
        let body = checkpoint.body();
        let ours = signature_lines(&note);
        let witness = Signer::from_seed("witness.example", [3; 32]).unwrap();
        let theirs = signature_lines(&witness.sign(&checkpoint)).to_owned();
        // A second signature by another key, before or after ours: accepted.
        for note in [
            format!("{body}\n{ours}{theirs}"),
            format!("{body}\n{theirs}{ours}"),
        ] {
            assert_eq!(verifier.open(&note).unwrap(), checkpoint, "{note}");
        }
        // Ours with a flipped signature byte, then ours intact: the first decides.
        let (name, blob) = ours.trim_end().rsplit_once(' ').unwrap();
        let mut bytes = BASE64.decode(blob).unwrap();
        bytes[10] ^= 1;
        let bad = format!("{name} {}\n", BASE64.encode(bytes));
        assert!(matches!(
            verifier.open(&format!("{body}\n{bad}{ours}")),
            Err(CheckpointError::BadSignature { .. })
        ));
        assert!(verifier.open(&format!("{body}\n{ours}{bad}")).is_ok());
        // The body ends at the first empty line; an empty line among the
        // signatures is refused.
        assert!(verifier.open(&format!("{body}\n{ours}\n{theirs}")).is_err());
    }
}
