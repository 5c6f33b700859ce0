//! The dead-letter queue's unit tests (a fake sink; the real SQS path is in tests/).

use std::sync::Mutex;

use super::*;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn bodies_sqs_cannot_carry_become_bounded_summaries() {
    let raw = serde_json::json!({});
    let empty = DeadLetter::new(Some("id".into()), "r".into(), "q::/", Some(""), &raw);
    assert_eq!(empty.encoding, "summary");
    let body: serde_json::Value = serde_json::from_str(&empty.body).unwrap();
    assert_eq!(body["original_bytes"], 0);
    assert_eq!(
        body["sha256"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );

    let huge = "x".repeat(MAX_LETTER_BYTES + 1);
    let big = DeadLetter::new(None, "r".into(), "q::/", Some(&b64(huge.as_bytes())), &raw);
    assert_eq!(big.encoding, "summary");
    assert!(big.wire_bytes() < 2048, "{}", big.wire_bytes());
    let body: serde_json::Value = serde_json::from_str(&big.body).unwrap();
    assert_eq!(body["original_bytes"], MAX_LETTER_BYTES + 1);
    assert_eq!(body["prefix"].as_str().unwrap().len(), PREFIX_BYTES);
    assert_eq!(body["truncated"], true);

    // Just under the bound, with its attributes: carried as is.
    let fits = "y".repeat(MAX_LETTER_BYTES - 400);
    let ok = DeadLetter::new(None, "r".into(), "q::/", Some(&b64(fits.as_bytes())), &raw);
    assert_eq!(ok.encoding, "text");
    assert!(ok.wire_bytes() <= MAX_LETTER_BYTES);

    // Binary that is too big: the prefix is base64.
    let binary = vec![0xffu8; MAX_LETTER_BYTES];
    let bin = DeadLetter::new(None, "r".into(), "q::/", Some(&b64(&binary)), &raw);
    let body: serde_json::Value = serde_json::from_str(&bin.body).unwrap();
    assert_eq!(body["prefix_encoding"], "base64");
}

#[test]
fn attribute_values_carry_only_characters_sqs_accepts() {
    let raw = serde_json::json!({});
    let d = DeadLetter::new(None, "bad \u{0}\u{FFFF} id".into(), "q::/", Some(""), &raw);
    let (_, reason) = &d.attributes()[0];
    assert_eq!(reason, "bad \u{FFFD}\u{FFFD} id");
}

#[test]
fn dedup_id_is_deterministic() {
    let raw = serde_json::json!({});
    let a = DeadLetter::new(Some("1".into()), "r".into(), "q::/", Some(&b64(b"x")), &raw);
    let b = DeadLetter::new(Some("1".into()), "r".into(), "q::/", Some(&b64(b"x")), &raw);
    let c = DeadLetter::new(Some("2".into()), "r".into(), "q::/", Some(&b64(b"x")), &raw);
    assert_eq!(a.dedup_id, b.dedup_id);
    assert_ne!(a.dedup_id, c.dedup_id);
}

#[test]
fn requests_are_bounded_by_count_and_bytes() {
    let raw = serde_json::json!({});
    let small: Vec<DeadLetter> = (0..25)
        .map(|i| {
            DeadLetter::new(
                Some(i.to_string()),
                "r".into(),
                "q::/",
                Some(&b64(b"x")),
                &raw,
            )
        })
        .collect();
    let all: Vec<usize> = (0..small.len()).collect();
    assert_eq!(
        chunks(&small, &all)
            .iter()
            .map(Vec::len)
            .collect::<Vec<_>>(),
        vec![10, 10, 5]
    );
    let body = "z".repeat(200 * 1024);
    let big: Vec<DeadLetter> = (0..10)
        .map(|i| {
            DeadLetter::new(
                Some(i.to_string()),
                "r".into(),
                "q::/",
                Some(&b64(body.as_bytes())),
                &raw,
            )
        })
        .collect();
    let all: Vec<usize> = (0..big.len()).collect();
    let sizes: Vec<usize> = chunks(&big, &all)
        .iter()
        .map(|c| c.iter().map(|&i| big[i].wire_bytes()).sum())
        .collect();
    assert_eq!(
        sizes.len(),
        2,
        "five ~200 KiB letters per request: {sizes:?}"
    );
    assert!(sizes.iter().all(|&s| s <= MAX_BATCH_BYTES), "{sizes:?}");
}

/// Accepts every entry except those listed, once each.
struct Refusing {
    refuse: Mutex<Vec<&'static str>>,
    sent: Mutex<Vec<String>>,
}

impl BatchSink for Refusing {
    async fn send_batch(
        &self,
        entries: Vec<SendMessageBatchRequestEntry>,
    ) -> Result<Vec<EntryFailure>, DlqError> {
        let mut refuse = self.refuse.lock().unwrap();
        let mut failures = Vec::new();
        for e in entries {
            if let Some(pos) = refuse.iter().position(|id| *id == e.id()) {
                refuse.remove(pos);
                failures.push(EntryFailure {
                    id: e.id().to_owned(),
                    sender_fault: false,
                    code: "InternalError".into(),
                    message: "try again".into(),
                });
            } else {
                self.sent.lock().unwrap().push(e.message_body().to_owned());
            }
        }
        Ok(failures)
    }
}

#[tokio::test]
async fn a_partial_failure_resends_only_the_refused_entries() {
    let raw = serde_json::json!({});
    let letters: Vec<DeadLetter> = (0..12)
        .map(|i| {
            DeadLetter::new(
                Some(i.to_string()),
                "r".into(),
                "q::/",
                Some(&b64(format!("body {i}").as_bytes())),
                &raw,
            )
        })
        .collect();
    let sink = Refusing {
        refuse: Mutex::new(vec!["m3", "m11"]),
        sent: Mutex::new(Vec::new()),
    };
    let requests = send_with(&sink, &letters).await.unwrap();
    assert_eq!(requests, 3, "2 requests, then 1 with the 2 refused entries");
    let mut sent = sink.sent.into_inner().unwrap();
    sent.sort();
    let mut expected: Vec<String> = (0..12).map(|i| format!("body {i}")).collect();
    expected.sort();
    assert_eq!(sent, expected, "every letter exactly once");
}
