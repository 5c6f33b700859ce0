//! The SQS dead-letter queue for messages that can never be stored.

use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

/// A message that will not be retried, with why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetter {
    /// The AMQP `message_id`, when the message had one.
    pub message_id: Option<String>,
    pub reason: String,
    /// The original message body, or its base64 when it is not text SQS accepts.
    pub body: String,
    /// `text`, `base64`, or `event-json` (the message had no `data` at all: the raw event entry).
    pub encoding: &'static str,
    pub source: String,
}

/// SQS accepts only these characters in a body (and needs at least one).
fn sqs_safe(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
        })
}

impl DeadLetter {
    pub fn new(
        message_id: Option<String>,
        reason: String,
        source: &str,
        data: Option<&str>,
        raw: &serde_json::Value,
    ) -> Self {
        use base64::Engine;
        let decoded = data.and_then(|d| {
            base64::engine::general_purpose::STANDARD
                .decode(d.trim())
                .ok()
        });
        let (body, encoding) = match (data, decoded) {
            (Some(_), Some(bytes)) => match String::from_utf8(bytes) {
                Ok(text) if sqs_safe(&text) => (text, "text"),
                _ => (data.unwrap_or_default().to_owned(), "base64"),
            },
            (Some(d), None) if sqs_safe(d) => (d.to_owned(), "base64"),
            _ => (raw.to_string(), "event-json"),
        };
        Self {
            message_id,
            reason,
            body,
            encoding,
            source: source.to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("dead-letter queue: {0}")]
pub struct DlqError(pub String);

fn attribute(value: &str) -> Result<MessageAttributeValue, DlqError> {
    // Attribute values must be non-empty and are capped; a reason is short anyway.
    let value: String = if value.is_empty() {
        "-".into()
    } else {
        value.chars().take(1024).collect()
    };
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| DlqError(e.to_string()))
}

/// Sends `letters` in batches of ten (the SQS maximum). Any failed entry fails the call, so the
/// invocation fails and the broker redelivers; the orders already stored are not stored twice.
#[tracing::instrument(skip(sqs, letters), fields(count = letters.len()))]
pub async fn send(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    letters: &[DeadLetter],
) -> Result<(), DlqError> {
    for chunk in letters.chunks(10) {
        let mut entries = Vec::with_capacity(chunk.len());
        for (i, letter) in chunk.iter().enumerate() {
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .message_body(letter.body.clone())
                    .message_attributes("reason", attribute(&letter.reason)?)
                    .message_attributes(
                        "original_message_id",
                        attribute(letter.message_id.as_deref().unwrap_or("unknown"))?,
                    )
                    .message_attributes("source", attribute(&letter.source)?)
                    .message_attributes("encoding", attribute(letter.encoding)?)
                    .build()
                    .map_err(|e| DlqError(e.to_string()))?,
            );
        }
        let out = sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| DlqError(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
        if let Some(failed) = out.failed().first() {
            return Err(DlqError(format!(
                "{} of {} entries refused, first: {} {}",
                out.failed().len(),
                chunk.len(),
                failed.code(),
                failed.message().unwrap_or_default()
            )));
        }
    }
    Ok(())
}
