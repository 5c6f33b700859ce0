//! The message billing-api publishes on `billing_queue` and billing-consumer stores, and the
//! client's `Idempotency-Key` that names it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::order::{self, Amount, MAX_ITEMS, MAX_USER_ID, Order, ValidationError};

/// The message body on `billing_queue`: billing-api writes it, billing-consumer reads it.
///
/// The wire format is what billing-api has always published (`{"message_id": "<uuid>",
/// "user_id": 42, "number_of_items": 3, "total_amount": "12.50", "principal": "...",
/// "owner_sub": "..."}`), so messages already in a queue are still read. Unknown fields are
/// ignored, so a newer publisher does not poison messages for an older consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderMessage {
    /// Always written; a body without it is still read, since the AMQP `message_id` property
    /// names the message (when both are there they must agree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<Uuid>,
    pub user_id: i64,
    pub number_of_items: i32,
    /// Its decimal text (`"12.50"`), see [`Amount`]'s serde.
    pub total_amount: Amount,
    /// The display label (username) of whoever placed the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The token `sub` of whoever placed the order: who owns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_sub: Option<String>,
}

/// Why a body is not an [`OrderMessage`]: the JSON error, with the path of the field it is in.
pub type BodyError = serde_path_to_error::Error<serde_json::Error>;

impl OrderMessage {
    pub fn new(message_id: Uuid, order: &Order, principal: Option<String>) -> Self {
        Self {
            message_id: Some(message_id),
            user_id: order.user_id,
            number_of_items: order.number_of_items,
            total_amount: order.total_amount,
            principal,
            owner_sub: None,
        }
    }

    /// The order belongs to the token subject `sub`.
    pub fn owned_by(mut self, sub: &str) -> Self {
        self.owner_sub = Some(sub.to_owned());
        self
    }

    /// The body as published.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A struct of strings and numbers always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a body; the error names the field that is wrong (`user_id: invalid type...`).
    pub fn from_slice(body: &[u8]) -> Result<Self, BodyError> {
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(body))
    }
}

/// The order a message carries, checked with the HTTP edge's bounds: the queue is a trust
/// boundary too.
impl TryFrom<&OrderMessage> for Order {
    type Error = ValidationError;

    fn try_from(m: &OrderMessage) -> Result<Self, Self::Error> {
        order::bounded("user_id", m.user_id, 1, MAX_USER_ID)?;
        order::bounded(
            "number_of_items",
            i64::from(m.number_of_items),
            1,
            i64::from(MAX_ITEMS),
        )?;
        order::bounded(
            "total_amount",
            m.total_amount.cents(),
            1,
            order::MAX_AMOUNT_CENTS,
        )?;
        Ok(Order {
            user_id: m.user_id,
            number_of_items: m.number_of_items,
            total_amount: m.total_amount,
        })
    }
}

/// An order's `message_id` as a path gives it: the hyphenated form this API hands out (and
/// `openapi.yaml`'s pattern states); `Uuid::parse_str` alone would also take the simple,
/// braced and URN forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageId(pub Uuid);

impl TryFrom<&str> for MessageId {
    type Error = ValidationError;

    fn try_from(raw: &str) -> Result<Self, Self::Error> {
        let hyphenated = raw.len() == 36;
        match Uuid::parse_str(raw) {
            Ok(id) if hyphenated => Ok(Self(id)),
            // An over-long value is not echoed back whole.
            _ if raw.len() > 64 => Err(ValidationError::new(
                "message_id",
                format!("is not a UUID ({} characters)", raw.chars().count()),
            )),
            _ => Err(ValidationError::new(
                "message_id",
                format!("{raw:?} is not a UUID"),
            )),
        }
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
        let v: serde_json::Value = serde_json::from_slice(&m.to_bytes()).unwrap();
        assert_eq!(
            v,
            json!({"message_id": Uuid::nil(), "user_id": 1, "number_of_items": 2,
                   "total_amount": "3.40", "principal": "alice", "owner_sub": "sub-1"}),
            "the wire format billing-api has always published"
        );
        let back = OrderMessage::from_slice(&m.to_bytes()).unwrap();
        assert_eq!(back, m);
        assert_eq!(Order::try_from(&back).unwrap(), o);
    }

    #[test]
    fn a_body_is_read_leniently_but_each_fault_names_its_field() {
        // Unknown fields, an absent message_id and absent labels are fine.
        let m = OrderMessage::from_slice(
            br#"{"user_id":1,"number_of_items":1,"total_amount":"1","coupon":"x"}"#,
        )
        .unwrap();
        assert_eq!(
            (m.message_id, m.total_amount.cents(), m.principal),
            (None, 100, None)
        );
        let null_id = br#"{"message_id":null,"user_id":1,"number_of_items":1,"total_amount":"1"}"#;
        assert_eq!(OrderMessage::from_slice(null_id).unwrap().message_id, None);
        for (body, field) in [
            (
                r#"{"user_id":"not-a-number","number_of_items":1,"total_amount":"5.00"}"#,
                "user_id",
            ),
            (r#"{"number_of_items":1,"total_amount":"5.00"}"#, "user_id"),
            (
                r#"{"user_id":1,"number_of_items":1.5,"total_amount":"5.00"}"#,
                "number_of_items",
            ),
            (
                r#"{"user_id":1,"number_of_items":1,"total_amount":5}"#,
                "total_amount",
            ),
            (
                r#"{"user_id":1,"number_of_items":1,"total_amount":"12.345"}"#,
                "total_amount",
            ),
            (
                r#"{"user_id":1,"number_of_items":1,"total_amount":"0"}"#,
                "total_amount",
            ),
            (
                r#"{"message_id":"x","user_id":1,"number_of_items":1,"total_amount":"1"}"#,
                "message_id",
            ),
        ] {
            let err = OrderMessage::from_slice(body.as_bytes()).unwrap_err();
            // The path of a wrong field, the message of a missing one ("missing field `user_id`").
            assert!(err.to_string().contains(field), "{body}: {err}");
            if body.contains(field) {
                assert_eq!(err.path().to_string(), field, "{body}: {err}");
            }
        }
        // Well-typed but out of the edge's bounds: refused by the TryFrom, naming the field.
        for (body, field) in [
            (
                r#"{"user_id":0,"number_of_items":1,"total_amount":"1"}"#,
                "user_id",
            ),
            (
                r#"{"user_id":1000000000000000,"number_of_items":1,"total_amount":"1"}"#,
                "user_id",
            ),
            (
                r#"{"user_id":1,"number_of_items":0,"total_amount":"1"}"#,
                "number_of_items",
            ),
            (
                r#"{"user_id":1,"number_of_items":10001,"total_amount":"1"}"#,
                "number_of_items",
            ),
        ] {
            let m = OrderMessage::from_slice(body.as_bytes()).unwrap();
            assert_eq!(Order::try_from(&m).unwrap_err().field, field, "{body}");
        }
    }

    #[test]
    fn a_path_message_id_is_a_hyphenated_uuid() {
        let id = Uuid::new_v4();
        assert_eq!(
            MessageId::try_from(id.to_string().as_str()),
            Ok(MessageId(id))
        );
        let simple = id.simple().to_string();
        let braced = id.braced().to_string();
        let long = "a".repeat(10_000);
        for bad in ["", "x", simple.as_str(), braced.as_str(), long.as_str()] {
            let err = MessageId::try_from(bad).unwrap_err();
            assert_eq!(err.field, "message_id");
            assert!(err.reason.len() < 100, "not echoed whole: {}", err.reason);
        }
    }
}
