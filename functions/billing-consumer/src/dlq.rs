//! The SQS dead-letter queue for messages that can never be stored.
//!
//! Every letter is something SQS accepts: a body SQS cannot carry (empty, over the size bound, or
//! with characters SQS refuses) is replaced by a bounded summary (reason, original size, SHA-256,
//! a truncated prefix), so a poison message can never make the dead-letter send fail and its
//! batch loop forever.
//!
//! SQS limits (SendMessageBatch, API reference): at most 10 entries per call, and "the maximum
//! allowed individual message size and the maximum total payload size (the sum of the individual
//! lengths of all of the batched messages) are both 1 MiB 1,048,576 bytes" (raised from 256 KiB in
//! 2025); the body must be at least one character from the allowed set
//! (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html>,
//! <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html>).
//! A dead letter is evidence, not payload (an order is under 1 KiB), so one letter is bounded at
//! 256 KiB, which the queue's `MaximumMessageSize` in Terraform matches and which also holds
//! under the old limit; a request is bounded at the 1 MiB total.

use std::future::Future;

use aws_sdk_sqs::error::SdkError;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchError;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use backon::{BackoffBuilder, ExponentialBuilder};
use base64::Engine;
use futures::StreamExt;
use sha2::{Digest, Sha256};

/// The largest letter (body plus attributes) this function sends.
pub const MAX_LETTER_BYTES: usize = 256 * 1024;
/// The largest SendMessageBatch request (sum of its letters), SQS's limit.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// SendMessageBatch takes at most ten entries.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// How much of an unsendable original a summary keeps.
pub const PREFIX_BYTES: usize = 512;
/// Attempts for entries SQS refused one by one (throttling, internal errors) before the
/// invocation fails.
const SEND_ATTEMPTS: u32 = 3;
/// SendMessageBatch requests in flight at once.
pub const CONCURRENT_REQUESTS: usize = 8;
/// Attribute values are capped; a reason is short anyway.
const MAX_ATTRIBUTE_CHARS: usize = 1024;

/// A message that will not be retried, with why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetter {
    /// The AMQP `message_id`, when the message had one.
    pub message_id: Option<String>,
    pub reason: String,
    /// What SQS receives: the original message body, its base64 when it is not text SQS
    /// accepts, or a bounded summary of it.
    pub body: String,
    /// `text`, `base64`, `event-json` (the message had no `data` at all: the raw event entry),
    /// or `summary` (the original could not be carried; `body` describes it).
    pub encoding: &'static str,
    pub source: String,
    /// Size of the original payload (decoded message body, or the raw entry), in bytes.
    pub original_bytes: usize,
    /// SHA-256 (hex) of the original payload.
    pub sha256: String,
    /// Deterministic id of this dead letter (SHA-256 of source, message id, reason and payload):
    /// a letter sent again after a redelivery carries the same id, so duplicates are
    /// recognisable (and collapse when redriven or deduplicated).
    pub dedup_id: String,
}

/// SQS accepts only these characters in a body (and needs at least one).
fn sqs_safe(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
        })
}

/// At most `max` characters of `value`, any character SQS refuses replaced (attribute values
/// follow the body's character rules).
fn truncate_chars(value: &str, max: usize) -> String {
    value
        .chars()
        .take(max)
        .map(|c| {
            if sqs_safe(c.encode_utf8(&mut [0; 4])) {
                c
            } else {
                '\u{FFFD}'
            }
        })
        .collect()
}

impl DeadLetter {
    pub fn new(
        message_id: Option<String>,
        reason: String,
        source: &str,
        data: Option<&str>,
        entry: &impl serde::Serialize,
    ) -> Self {
        let decoded = data.and_then(|d| {
            base64::engine::general_purpose::STANDARD
                .decode(d.trim())
                .ok()
        });
        // The original payload: the decoded body, else the `data` text, else the event entry.
        let (original, body, encoding): (Vec<u8>, String, &'static str) = match (data, decoded) {
            (Some(d), Some(bytes)) => match String::from_utf8(bytes.clone()) {
                Ok(text) if sqs_safe(&text) => (bytes, text, "text"),
                _ => (bytes, d.trim().to_owned(), "base64"),
            },
            (Some(d), None) => (d.as_bytes().to_vec(), d.to_owned(), "base64"),
            (None, _) => {
                // Plain values and maps with string keys: serialising them cannot fail.
                let text = serde_json::to_string(entry).unwrap_or_default();
                (text.clone().into_bytes(), text, "event-json")
            }
        };
        let sha256 = hex::encode(Sha256::digest(&original));
        let mut dedup = Sha256::new();
        for part in [
            source.as_bytes(),
            message_id.as_deref().unwrap_or_default().as_bytes(),
            reason.as_bytes(),
            sha256.as_bytes(),
        ] {
            dedup.update((part.len() as u64).to_be_bytes());
            dedup.update(part);
        }
        let mut letter = Self {
            message_id,
            reason,
            body,
            encoding,
            source: source.to_owned(),
            original_bytes: original.len(),
            sha256,
            dedup_id: hex::encode(dedup.finalize()),
        };
        if !sqs_safe(&letter.body) || letter.wire_bytes() > MAX_LETTER_BYTES {
            letter.summarise(&original);
        }
        letter
    }

    /// The size SQS counts: the body plus every attribute's name, type and value.
    pub fn wire_bytes(&self) -> usize {
        self.body.len()
            + self
                .attributes()
                .iter()
                .map(|(name, value)| name.len() + "String".len() + value.len())
                .sum::<usize>()
    }

    fn attributes(&self) -> [(&'static str, String); 6] {
        let value = |v: &str| {
            if v.is_empty() {
                "-".to_owned()
            } else {
                truncate_chars(v, MAX_ATTRIBUTE_CHARS)
            }
        };
        [
            ("reason", value(&self.reason)),
            (
                "original_message_id",
                value(self.message_id.as_deref().unwrap_or("unknown")),
            ),
            ("source", value(&self.source)),
            ("encoding", value(self.encoding)),
            ("sha256", value(&self.sha256)),
            ("dedup_id", value(&self.dedup_id)),
        ]
    }

    /// Replaces the body with a bounded description of the original, whose first bytes are
    /// `original`.
    fn summarise(&mut self, original: &[u8]) {
        let why = if self.original_bytes == 0 {
            "the message body is empty".to_owned()
        } else {
            format!(
                "the body ({} bytes) cannot be carried by SQS as is (over {MAX_LETTER_BYTES} bytes, or characters SQS refuses)",
                self.original_bytes
            )
        };
        let head = &original[..original.len().min(PREFIX_BYTES)];
        let (prefix, prefix_encoding) = match std::str::from_utf8(head) {
            Ok(text) if sqs_safe(text) => (text.to_owned(), "text"),
            // A cut through a multi-byte character: keep the valid part.
            Err(e)
                if e.valid_up_to() > 0
                    && sqs_safe(&String::from_utf8_lossy(&head[..e.valid_up_to()])) =>
            {
                (
                    String::from_utf8_lossy(&head[..e.valid_up_to()]).into_owned(),
                    "text",
                )
            }
            _ => (
                base64::engine::general_purpose::STANDARD.encode(head),
                "base64",
            ),
        };
        self.body = serde_json::json!({
            "dead_letter": "summary",
            "reason": truncate_chars(&self.reason, MAX_ATTRIBUTE_CHARS),
            "why": why,
            "original_bytes": self.original_bytes,
            "sha256": self.sha256,
            "prefix": prefix,
            "prefix_encoding": prefix_encoding,
            "truncated": original.len() > head.len(),
        })
        .to_string();
        self.encoding = "summary";
    }

    fn entry(&self, id: &str) -> Result<SendMessageBatchRequestEntry, DlqError> {
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(id)
            .message_body(self.body.clone());
        for (name, value) in self.attributes() {
            entry = entry.message_attributes(
                name,
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(value)
                    .build()
                    .map_err(DlqError::Build)?,
            );
        }
        entry.build().map_err(DlqError::Build)
    }
}

/// Why dead letters were not all sent; the invocation then fails and the batch is redelivered.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    /// A letter SQS's request builder refused (a required field unset: a bug here).
    #[error("dead-letter queue: {0}")]
    Build(#[source] aws_sdk_sqs::error::BuildError),
    /// The SendMessageBatch request failed as a whole (unreachable, denied, no such queue...).
    #[error("dead-letter queue: {}", aws_sdk_sqs::error::DisplayErrorContext(.0))]
    Send(#[source] Box<SdkError<SendMessageBatchError>>),
    /// SQS answered about an entry the request did not hold.
    #[error("dead-letter queue: SQS refused unknown entry {0}")]
    UnknownEntry(String),
    /// SQS kept refusing some entries one by one; the first one's code and message.
    #[error(
        "dead-letter queue: {count} entries still refused after {attempts} attempts, first: {code} {message}"
    )]
    StillRefused {
        count: usize,
        attempts: u32,
        code: String,
        message: String,
    },
}

/// One entry SQS refused in an otherwise answered SendMessageBatch.
#[derive(Debug, Clone)]
pub struct EntryFailure {
    pub id: String,
    /// The request was wrong (content, size): resending it unchanged fails again.
    pub sender_fault: bool,
    pub code: String,
    pub message: String,
}

/// Where batches of dead letters go: SQS in production; tests wrap it to inject failures.
pub trait BatchSink {
    /// Sends one SendMessageBatch; `Ok` lists the entries refused one by one, `Err` is a
    /// failure of the whole request.
    fn send_batch(
        &self,
        entries: Vec<SendMessageBatchRequestEntry>,
    ) -> impl Future<Output = Result<Vec<EntryFailure>, DlqError>> + Send;
}

/// The SQS queue at `queue_url`.
pub struct SqsSink<'a> {
    pub client: &'a aws_sdk_sqs::Client,
    pub queue_url: &'a str,
}

impl BatchSink for SqsSink<'_> {
    async fn send_batch(
        &self,
        entries: Vec<SendMessageBatchRequestEntry>,
    ) -> Result<Vec<EntryFailure>, DlqError> {
        let out = self
            .client
            .send_message_batch()
            .queue_url(self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| DlqError::Send(Box::new(e)))?;
        Ok(out
            .failed()
            .iter()
            .map(|f| EntryFailure {
                id: f.id().to_owned(),
                sender_fault: f.sender_fault(),
                code: f.code().to_owned(),
                message: f.message().unwrap_or_default().to_owned(),
            })
            .collect())
    }
}

type SendResult = Result<Vec<EntryFailure>, DlqError>;

/// Groups `pending` (indexes into `letters`) into requests of at most ten entries and
/// [`MAX_BATCH_BYTES`].
fn chunks(letters: &[DeadLetter], pending: &[usize]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for &i in pending {
        let size = letters[i].wire_bytes();
        match out.last_mut() {
            Some(chunk) if chunk.len() < MAX_BATCH_ENTRIES && bytes + size <= MAX_BATCH_BYTES => {
                chunk.push(i);
                bytes += size;
            }
            _ => {
                out.push(vec![i]);
                bytes = size;
            }
        }
    }
    out
}

/// Sends `letters` to SQS. See [`send_with`].
#[tracing::instrument(skip(sqs, letters), fields(count = letters.len()))]
pub async fn send(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    letters: &[DeadLetter],
) -> Result<usize, DlqError> {
    send_with(
        &SqsSink {
            client: sqs,
            queue_url,
        },
        letters,
    )
    .await
}

/// Sends `letters` in requests bounded by count and bytes, and returns how many requests it
/// took. When SQS refuses some entries of a request, only those are sent again (a letter SQS
/// accepted is never resent by this call, so a partial failure duplicates nothing); an entry
/// refused for its content is first replaced by its bounded summary. Entries still refused
/// after a few attempts, or a failed request, fail the call, so the invocation fails and the
/// broker redelivers the batch: the orders already stored are not stored twice, and letters
/// sent again carry the same `dedup_id`.
pub async fn send_with<S: BatchSink>(sink: &S, letters: &[DeadLetter]) -> Result<usize, DlqError> {
    let mut letters = letters.to_vec();
    let mut pending: Vec<usize> = (0..letters.len()).collect();
    let mut requests = 0;
    // Between attempts: 50 ms, then 100 ms (backon's exponential policy, no jitter).
    let mut waits = ExponentialBuilder::new()
        .with_min_delay(std::time::Duration::from_millis(50))
        .with_max_times(SEND_ATTEMPTS as usize - 1)
        .build();
    for attempt in 0..SEND_ATTEMPTS {
        let mut requests_out = Vec::new();
        for chunk in chunks(&letters, &pending) {
            let entries = chunk
                .iter()
                .map(|&i| letters[i].entry(&format!("m{i}")))
                .collect::<Result<Vec<_>, _>>()?;
            requests_out.push((chunk, entries));
        }
        requests += requests_out.len();
        // A few requests in flight: one request's round trip, not a hundred, bounds the time
        // a batch full of poison spends here.
        let answers: Vec<(Vec<usize>, SendResult)> = futures::stream::iter(
            requests_out
                .into_iter()
                .map(|(chunk, entries)| async move { (chunk, sink.send_batch(entries).await) }),
        )
        .buffer_unordered(CONCURRENT_REQUESTS)
        .collect()
        .await;
        let mut refused: Vec<(usize, EntryFailure)> = Vec::new();
        for (chunk, answer) in answers {
            for failure in answer? {
                let index = failure
                    .id
                    .strip_prefix('m')
                    .and_then(|i| i.parse::<usize>().ok())
                    .filter(|i| chunk.contains(i))
                    .ok_or_else(|| DlqError::UnknownEntry(failure.id.clone()))?;
                refused.push((index, failure));
            }
        }
        refused.sort_by_key(|(i, _)| *i);
        if refused.is_empty() {
            return Ok(requests);
        }
        tracing::warn!(
            attempt,
            refused = refused.len(),
            first = %refused[0].1.code,
            "SQS refused some dead letters; resending only those"
        );
        let Some(wait) = waits.next() else {
            let (_, first) = &refused[0];
            return Err(DlqError::StillRefused {
                count: refused.len(),
                attempts: SEND_ATTEMPTS,
                code: first.code.clone(),
                message: first.message.clone(),
            });
        };
        pending = refused.iter().map(|(i, _)| *i).collect();
        for (i, failure) in &refused {
            if failure.sender_fault && letters[*i].encoding != "summary" {
                let original = letters[*i].body.clone().into_bytes();
                letters[*i].summarise(&original);
            }
        }
        tokio::time::sleep(wait).await;
    }
    Ok(requests)
}

#[cfg(test)]
mod tests;
