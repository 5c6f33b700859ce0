//! The message billing-api publishes on `billing_queue` and billing-consumer stores, and the
//! client's `Idempotency-Key` that names it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::order::{Order, ValidationError};

/// The message body on `billing_queue`. The amount travels as a string so no JSON parser
/// turns it into a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderMessage {
    pub message_id: Uuid,
    pub user_id: i64,
    pub number_of_items: i32,
    pub total_amount: String,
    /// The display label (username) of whoever placed the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The token `sub` of whoever placed the order: who owns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_sub: Option<String>,
}

impl OrderMessage {
    pub fn new(message_id: Uuid, order: &Order, principal: Option<String>) -> Self {
        Self {
            message_id,
            user_id: order.user_id,
            number_of_items: order.number_of_items,
            total_amount: order.total_amount.to_string(),
            principal,
            owner_sub: None,
        }
    }

    /// The order belongs to the token subject `sub`.
    pub fn owned_by(mut self, sub: &str) -> Self {
        self.owner_sub = Some(sub.to_owned());
        self
    }
}

/// The longest `Idempotency-Key` accepted, in bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// A client's `Idempotency-Key`: 1 to 255 printable ASCII characters (space to `~`) but the
/// comma. API Gateway joins a header sent twice into one value with a comma
/// (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>:
/// "Duplicate headers are combined with commas"), so a comma is how a repeated header looks
/// behind it, and refusing it makes a repeated header a 400 there as it is locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl TryFrom<&[u8]> for IdempotencyKey {
    type Error = ValidationError;

    fn try_from(raw: &[u8]) -> Result<Self, Self::Error> {
        let field = "Idempotency-Key";
        if raw.is_empty() || raw.len() > MAX_IDEMPOTENCY_KEY {
            return Err(ValidationError::new(
                field,
                format!("must be 1 to {MAX_IDEMPOTENCY_KEY} characters"),
            ));
        }
        if !raw.iter().all(|b| (0x20..=0x7e).contains(b)) {
            return Err(ValidationError::new(
                field,
                "must be printable ASCII (space to ~)",
            ));
        }
        if raw.contains(&b',') {
            return Err(ValidationError::new(
                field,
                "must contain no comma and be sent once (a repeated header arrives joined with commas)",
            ));
        }
        Ok(Self(String::from_utf8_lossy(raw).into_owned()))
    }
}

impl IdempotencyKey {
    /// The `message_id` of the order this key names for the token subject `sub`
    /// ([`derived_uuid`] of `sub` and the key). The same (sub, key) always gives the same id, so
    /// a retried request is the same order; another subject with the same key gets another id.
    pub fn message_id(&self, sub: &str) -> Uuid {
        derived_uuid(
            b"crud-master/billing/idempotency-key/v1",
            &[sub.as_bytes(), self.0.as_bytes()],
        )
    }
}

/// A UUID v8 (RFC 9562 section 5.8) made of the first 122 bits of SHA-256 over `tag` and the
/// length-prefixed `parts`: the same parts always give the same id, and the length prefixes
/// keep ("ab", "c") apart from ("a", "bc"). The tag keeps each use's ids apart from another's.
pub fn derived_uuid(tag: &[u8], parts: &[&[u8]]) -> Uuid {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(tag);
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::new_v8(bytes)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn idempotency_keys_are_validated_and_bound_to_the_subject() {
        let key = |raw: &str| IdempotencyKey::try_from(raw.as_bytes());
        assert!(key("").is_err());
        assert!(key(&"k".repeat(256)).is_err());
        assert!(key("caf\u{e9}").is_err());
        assert!(key("tab\there").is_err());
        assert!(
            key("a,b").is_err(),
            "two headers, as API Gateway joins them"
        );
        assert!(key(",").is_err());
        assert!(key(&"k".repeat(255)).is_ok());
        let k = key("order-2026-11-23 #1").unwrap();
        let id = k.message_id("sub-a");
        assert_eq!(id, k.message_id("sub-a"), "deterministic");
        assert_eq!(id.get_version_num(), 8);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(id, k.message_id("sub-b"), "bound to the subject");
        assert_ne!(id, key("order-2026-11-23 #2").unwrap().message_id("sub-a"));
        // Length prefixes: ("ab", "c") and ("a", "bc") differ.
        assert_ne!(
            key("c").unwrap().message_id("ab"),
            key("bc").unwrap().message_id("a")
        );
    }

    #[test]
    fn message_round_trips_with_amount_as_string() {
        let o = Order::from_fields(&json!(1), &json!(2), &json!("3.4")).unwrap();
        let m = OrderMessage::new(Uuid::nil(), &o, Some("alice".into())).owned_by("sub-1");
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["total_amount"], "3.40");
        assert_eq!(serde_json::from_value::<OrderMessage>(v).unwrap(), m);
    }
}
