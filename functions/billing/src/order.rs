//! The order as the edge accepts it, validated before anything is published or stored.
//!
//! Both functions use these types: billing-api validates the HTTP body with them and
//! billing-consumer validates every message body again, since the queue is a trust boundary too.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// 15 digits: below 2^53, so a `user_id` round-trips exactly through any JSON client, and a
/// bound `openapi.yaml` states as a plain pattern for the numeric-string form.
pub const MAX_USER_ID: i64 = 999_999_999_999_999;
pub const MAX_ITEMS: i32 = 10_000;
/// 1,000,000.00 in cents; `numeric(12,2)` holds ten times more, so the column never overflows.
pub const MAX_AMOUNT_CENTS: i64 = 100_000_000;

/// Which field is wrong and why, phrased for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    pub field: &'static str,
    pub reason: String,
}

impl ValidationError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Money in cents, so no float ever touches an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(i64);

impl Amount {
    pub fn cents(self) -> i64 {
        self.0
    }

    /// Parses `"12"`, `"12.5"`, `"12.50"`: a positive decimal with at most two decimals.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        if text.starts_with('-') {
            return Err("must be greater than 0".into());
        }
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !(frac.is_empty() || digits(frac)) || text.ends_with('.') {
            return Err(format!("{text:?} is not a decimal number such as 12.50"));
        }
        if frac.len() > 2 {
            return Err("must have at most 2 decimals".into());
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > 7 {
            return Err("must be at most 1000000.00".into());
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| "too large".to_owned())?
        };
        let frac_cents: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().unwrap_or(0) * 10,
            _ => frac.parse::<i64>().unwrap_or(0),
        };
        let cents = whole * 100 + frac_cents;
        if cents <= 0 {
            return Err("must be greater than 0".into());
        }
        if cents > MAX_AMOUNT_CENTS {
            return Err("must be at most 1000000.00".into());
        }
        Ok(Self(cents))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// On the wire an amount is its decimal text (`"12.50"`), never a JSON number, so no parser on
/// the way turns it into a float.
impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Reads the text [`Amount::parse`] accepts; anything else fails with its reason.
impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal amount as a string, such as \"12.50\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Amount, E> {
                Amount::parse(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Text)
    }
}

/// A valid order: what the client asked for, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub user_id: i64,
    pub number_of_items: i32,
    pub total_amount: Amount,
}

impl Order {
    /// Validates the three fields, each a JSON number or a numeric string (the crud-master audit
    /// sends strings).
    pub fn from_fields(
        user_id: &Value,
        number_of_items: &Value,
        total_amount: &Value,
    ) -> Result<Self, ValidationError> {
        let user_id = integer("user_id", user_id, 1, MAX_USER_ID)?;
        let number_of_items = integer("number_of_items", number_of_items, 1, i64::from(MAX_ITEMS))?;
        let total_amount = numeric_text("total_amount", total_amount)
            .and_then(|t| Amount::parse(&t).map_err(|r| ValidationError::new("total_amount", r)))?;
        Ok(Self {
            user_id,
            number_of_items: i32::try_from(number_of_items)
                .map_err(|_| ValidationError::new("number_of_items", "out of range"))?,
            total_amount,
        })
    }
}

/// The text of a JSON number or numeric string. Floats print in their shortest exact form
/// (`12.5`, `0.1`), so the decimal count of `12.345` is still visible. A string is taken as it
/// is (no trimming, no sign): exactly what the patterns in `openapi.yaml` accept.
fn numeric_text(field: &'static str, v: &Value) -> Result<String, ValidationError> {
    match v {
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::String(_) => Err(ValidationError::new(field, "must not be empty")),
        Value::Null => Err(ValidationError::new(field, "is required")),
        _ => Err(ValidationError::new(
            field,
            "must be a number or a numeric string",
        )),
    }
}

/// `n` within `min..=max`, else why not, in the words the HTTP edge uses.
pub(crate) fn bounded(
    field: &'static str,
    n: i64,
    min: i64,
    max: i64,
) -> Result<i64, ValidationError> {
    if n < min {
        return Err(ValidationError::new(
            field,
            format!("must be at least {min}"),
        ));
    }
    if n > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max}"),
        ));
    }
    Ok(n)
}

fn integer(field: &'static str, v: &Value, min: i64, max: i64) -> Result<i64, ValidationError> {
    let text = numeric_text(field, v)?;
    // A JSON number must be an integer literal (`3`, not `3.0` or `3e0`: OpenAPI 3.0's
    // `type: integer`); a string must be decimal digits (leading zeros allowed).
    let parsed: Option<i64> = match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_u64().map(|_| i64::MAX)),
        _ => {
            let significant = text.trim_start_matches('0');
            if !text.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else if significant.len() > 18 {
                Some(i64::MAX)
            } else if significant.is_empty() {
                Some(0)
            } else {
                significant.parse::<i64>().ok()
            }
        }
    };
    let n = parsed
        .ok_or_else(|| ValidationError::new(field, format!("{text:?} is not a whole number")))?;
    bounded(field, n, min, max)
}

/// The `POST /api/billing` body. Unknown fields are rejected, so a typo is a 400, not a
/// silently ignored value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    #[serde(default)]
    pub user_id: Value,
    #[serde(default)]
    pub number_of_items: Value,
    #[serde(default)]
    pub total_amount: Value,
}

impl TryFrom<&OrderRequest> for Order {
    type Error = ValidationError;

    fn try_from(r: &OrderRequest) -> Result<Self, Self::Error> {
        Order::from_fields(&r.user_id, &r.number_of_items, &r.total_amount)
    }
}

/// A stored order, as `GET /api/billing/orders/{message_id}` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOrder {
    pub message_id: Uuid,
    pub user_id: i64,
    pub number_of_items: i32,
    pub total_amount: String,
    pub principal: Option<String>,
    /// The owner's token `sub`; decides who may read the order, never shown.
    #[serde(skip)]
    pub owner_sub: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn order(u: Value, n: Value, a: Value) -> Result<Order, ValidationError> {
        Order::from_fields(&u, &n, &a)
    }

    #[test]
    fn numbers_and_numeric_strings_are_accepted() {
        let o = order(json!("7"), json!("3"), json!("12.5")).unwrap();
        assert_eq!(
            (o.user_id, o.number_of_items, o.total_amount.to_string()),
            (7, 3, "12.50".into())
        );
        let o = order(json!(7), json!(3), json!(12.5)).unwrap();
        assert_eq!(o.total_amount.cents(), 1250);
        assert_eq!(
            order(json!(1), json!(1), json!(0.1))
                .unwrap()
                .total_amount
                .to_string(),
            "0.10"
        );
        assert_eq!(
            order(json!(1), json!(1), json!(1000000))
                .unwrap()
                .total_amount
                .cents(),
            MAX_AMOUNT_CENTS
        );
        assert_eq!(
            order(json!(MAX_USER_ID), json!(10000), json!("0.01"))
                .unwrap()
                .user_id,
            MAX_USER_ID
        );
        assert_eq!(
            order(json!("0002"), json!(1), json!("007.00"))
                .unwrap()
                .total_amount
                .cents(),
            700
        );
    }

    #[test]
    fn invalid_fields_are_named() {
        let field = |r: Result<Order, ValidationError>| r.unwrap_err().field;
        assert_eq!(field(order(json!(0), json!(1), json!(1))), "user_id");
        assert_eq!(field(order(json!(-4), json!(1), json!(1))), "user_id");
        assert_eq!(
            field(order(json!(MAX_USER_ID + 1), json!(1), json!(1))),
            "user_id"
        );
        assert_eq!(field(order(json!("1.5"), json!(1), json!(1))), "user_id");
        // Exactly the forms openapi.yaml states: integer literals, digit strings.
        for bad in [
            json!(2.0),
            json!(1e3),
            json!(" 5"),
            json!("5 "),
            json!("+5"),
            json!("-0"),
            json!("0"),
            json!("0000"),
            json!("1000000000000000"),
            json!(u64::MAX),
        ] {
            assert_eq!(
                field(order(bad.clone(), json!(1), json!(1))),
                "user_id",
                "{bad}"
            );
        }
        assert_eq!(
            order(json!("0000000000000000000000007"), json!(1), json!(1))
                .unwrap()
                .user_id,
            7,
            "leading zeros are not significant"
        );
        assert_eq!(field(order(json!(true), json!(1), json!(1))), "user_id");
        assert_eq!(field(order(Value::Null, json!(1), json!(1))), "user_id");
        assert_eq!(
            field(order(json!(1), json!(0), json!(1))),
            "number_of_items"
        );
        assert_eq!(
            field(order(json!(1), json!(10001), json!(1))),
            "number_of_items"
        );
        assert_eq!(
            field(order(json!(1), json!("abc"), json!(1))),
            "number_of_items"
        );
        for bad in [
            json!(0),
            json!("0.00"),
            json!(-1),
            json!("12.345"),
            json!(12.345),
            json!("1e3"),
            json!("1000000.01"),
            json!(""),
            json!("12."),
            json!(".5"),
            json!("99999999999999999999"),
            json!(" 5"),
            json!("5\n"),
            json!(0.001),
        ] {
            assert_eq!(
                field(order(json!(1), json!(1), bad.clone())),
                "total_amount",
                "{bad}"
            );
        }
    }
}
