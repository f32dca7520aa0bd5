//! `tla proof verify inclusion|consistency` against the RFC 6962 reference
//! vectors (ledger/tests/vectors/rfc6962.json): every vector verifies
//! (exit 0), every vector with one proof byte flipped fails (exit 1), and
//! malformed input is refused.

mod common;

use common::Env;
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/ledger/tests/vectors/rfc6962.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("rfc6962.json")).expect("JSON")
}

fn root_of(v: &Value, size: u64) -> String {
    v["roots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["size"] == size)
        .expect("root of size")["root"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn proof_arg(proof: &Value) -> Vec<String> {
    proof
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect()
}

/// Flips one bit of the first hash of a proof.
fn flipped(proof: &[String]) -> Vec<String> {
    let mut out = proof.to_vec();
    let first = out[0].clone();
    let last = u8::from_str_radix(&first[63..], 16).unwrap() ^ 1;
    out[0] = format!("{}{last:x}", &first[..63]);
    out
}

#[test]
fn inclusion_vectors_verify_and_tampered_ones_fail() {
    let env = Env::new();
    let v = vectors();
    for case in v["inclusion"].as_array().unwrap() {
        let (index, size) = (
            case["index"].as_u64().unwrap(),
            case["size"].as_u64().unwrap(),
        );
        let leaf = v["leaves"][index as usize]["leaf_hash"].as_str().unwrap();
        let root = root_of(&v, size);
        let proof = proof_arg(&case["proof"]);
        let run = |proof: &[String]| {
            let (i, n, p) = (index.to_string(), size.to_string(), proof.join(","));
            let args = [
                "proof",
                "verify",
                "inclusion",
                "--leaf-hash",
                leaf,
                "--index",
                &i,
                "--size",
                &n,
                "--root",
                &root,
                "--proof",
                &p,
            ];
            env.run(&args)
        };
        run(&proof).assert_code(0).assert_stdout_contains("ok:");
        if !proof.is_empty() {
            run(&flipped(&proof))
                .assert_code(1)
                .assert_stderr_contains("invalid inclusion proof");
        }
    }
}

#[test]
fn consistency_vectors_verify_and_tampered_ones_fail() {
    let env = Env::new();
    let v = vectors();
    for case in v["consistency"].as_array().unwrap() {
        let (size1, size2) = (
            case["size1"].as_u64().unwrap(),
            case["size2"].as_u64().unwrap(),
        );
        let (root1, root2) = (root_of(&v, size1), root_of(&v, size2));
        let proof = proof_arg(&case["proof"]);
        let run = |proof: &[String]| {
            let (s1, s2, p) = (size1.to_string(), size2.to_string(), proof.join(","));
            let args = [
                "proof",
                "verify",
                "consistency",
                "--size1",
                &s1,
                "--size2",
                &s2,
                "--root1",
                &root1,
                "--root2",
                &root2,
                "--proof",
                &p,
            ];
            env.run(&args)
        };
        run(&proof)
            .assert_code(0)
            .assert_stdout_contains("is a prefix of");
        if !proof.is_empty() {
            run(&flipped(&proof))
                .assert_code(1)
                .assert_stderr_contains("invalid consistency proof");
        }
    }
}

#[test]
fn malformed_proofs_are_refused() {
    let env = Env::new();
    let v = vectors();
    let leaf = v["leaves"][0]["leaf_hash"].as_str().unwrap().to_owned();
    let base = |proof: &str| {
        env.run(&[
            "proof",
            "verify",
            "inclusion",
            "--leaf-hash",
            &leaf,
            "--index",
            "0",
            "--size",
            "2",
            "--root",
            &root_of(&v, 2),
            "--proof",
            proof,
        ])
    };
    base("abc")
        .assert_code(1)
        .assert_stderr_contains("is not a 32-byte hash");
    base("").assert_code(1).assert_stderr_contains("exactly 1");
    let too_many = vec![leaf.clone(); 70].join(",");
    base(&too_many)
        .assert_code(1)
        .assert_stderr_contains("no proof has more than");
    env.run(&["proof", "verify", "inclusion", "--index", "0"])
        .assert_code(2);
}
