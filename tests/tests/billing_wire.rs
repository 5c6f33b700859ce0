//! The order's trip from billing-api to billing-consumer at the type level, no broker or
//! database: whatever billing-api can publish (an order the HTTP edge accepted, its labels) is
//! the row the consumer stores, unchanged. Publish side: `OrderMessage` → its bytes with the
//! publisher's AMQP properties; the gateway's mapping renders the `aws:rmq` event; it travels
//! as JSON; the consumer parses it and validates each message into its row.

use billing::rmq::Entry;
use billing::{MAX_IDEMPOTENCY_KEY, Order, OrderMessage, order};
use billing_consumer::{OrderRow, RabbitMqEvent};
use serde_json::json;
use uuid::Uuid;

/// Amounts at every boundary and a sweep across the range, in cents.
fn amounts() -> Vec<i64> {
    let mut cents = vec![
        1,
        9,
        10,
        11,
        99,
        100,
        101,
        1234,
        99_999_999,
        order::MAX_AMOUNT_CENTS,
    ];
    cents.extend((1..order::MAX_AMOUNT_CENTS).step_by(7_654_321));
    cents
}

/// Labels as tokens may carry them: none, empty, non-ASCII, JSON's special characters, long.
fn labels() -> Vec<Option<String>> {
    vec![
        None,
        Some(String::new()),
        Some("alice".into()),
        Some("ünïcødé 🎬 名前".into()),
        Some("quote\" backslash\\ nul\u{0} newline\n tab\t".into()),
        Some("x".repeat(MAX_IDEMPOTENCY_KEY * 40)),
    ]
}

/// Every combination of boundary fields, as billing-api builds its messages: an order the
/// edge validated (through the same function as the HTTP body), the principal's label and its
/// `sub`.
fn publishable() -> Vec<OrderMessage> {
    let mut out = Vec::new();
    for user_id in [1, 2, 123_456_789_012, order::MAX_USER_ID] {
        for items in [1, 2, order::MAX_ITEMS] {
            for cents in amounts() {
                let amount = format!("{}.{:02}", cents / 100, cents % 100);
                let order = Order::from_fields(&json!(user_id), &json!(items), &json!(amount))
                    .unwrap_or_else(|e| panic!("{user_id} {items} {amount}: {e}"));
                assert_eq!(order.total_amount.cents(), cents);
                out.push(order);
            }
        }
    }
    let labels = labels();
    out.iter()
        .enumerate()
        .map(|(i, order)| {
            let label = labels[i % labels.len()].clone();
            let message = OrderMessage::new(Uuid::new_v4(), order, label.clone());
            // The owner as billing-api sets it (always), and absent as older messages have it.
            match (i / labels.len()) % 2 {
                0 => message.owned_by(&label.unwrap_or_else(|| "sub-1".into())),
                _ => message,
            }
        })
        .collect()
}

/// The row the consumer should store for `m`.
fn expected(m: &OrderMessage) -> OrderRow {
    OrderRow {
        message_id: m.message_id.unwrap(),
        order: Order::try_from(m).unwrap(),
        principal: m.principal.clone(),
        owner_sub: m.owner_sub.clone(),
    }
}

#[test]
fn whatever_billing_api_publishes_the_consumer_stores_unchanged() {
    let published = publishable();
    assert_eq!(published.len(), 4 * 3 * amounts().len());
    // Publish side: the bytes and properties billing-api's publisher sends.
    let messages = published.iter().map(|m| {
        let id = m.message_id.unwrap().to_string();
        let properties = broker::amqp::message_properties(&id);
        local_gateway::rmq_event::rmq_message(&properties, false, &m.to_bytes())
    });
    let source = local_gateway::rmq_event::Source {
        broker_arn: "arn:aws:mq:us-east-1:123456789012:broker:local:b-local",
        queue: "billing_queue",
        virtual_host: "/",
    };
    let event = local_gateway::rmq_event::event_of(&source, messages);
    // The event as Lambda hands it to the function: JSON.
    let wire = serde_json::to_vec(&event).unwrap();
    let received: RabbitMqEvent = serde_json::from_slice(&wire).unwrap();
    assert_eq!(received.len(), published.len());

    let rows: Vec<OrderRow> = received
        .messages()
        .map(|(queue, entry)| {
            assert_eq!(queue, "billing_queue::/");
            match entry {
                Entry::Message(m) => OrderRow::try_from(m).unwrap(),
                Entry::Unreadable(u) => panic!("unreadable: {u:?}"),
            }
        })
        .collect();
    assert_eq!(rows.len(), published.len());
    for (row, message) in rows.iter().zip(&published) {
        assert_eq!(row, &expected(message));
    }
}

/// Bodies already in a queue were written before the message type was shared: the same bytes
/// still read as the same row.
#[test]
fn a_body_published_before_the_shared_type_still_reads() {
    let id = "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f";
    let legacy = format!(
        r#"{{"message_id":"{id}","user_id":42,"number_of_items":3,"total_amount":"12.50","principal":"user","owner_sub":"7d8e0c4a-1b2c-4d3e-9f00-000000000001"}}"#
    );
    let properties = broker::amqp::message_properties(id);
    let message = local_gateway::rmq_event::rmq_message(&properties, true, legacy.as_bytes());
    let row = OrderRow::try_from(&message).unwrap();
    let order = Order::from_fields(&json!(42), &json!(3), &json!("12.50")).unwrap();
    let id = Uuid::parse_str(id).unwrap();
    assert_eq!(
        row,
        OrderRow {
            message_id: id,
            order,
            principal: Some("user".into()),
            owner_sub: Some("7d8e0c4a-1b2c-4d3e-9f00-000000000001".into()),
        }
    );
    // And what billing-api writes today is those bytes, field for field.
    let today = OrderMessage::new(id, &order, Some("user".into()))
        .owned_by("7d8e0c4a-1b2c-4d3e-9f00-000000000001");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&today.to_bytes()).unwrap(),
        serde_json::from_str::<serde_json::Value>(&legacy).unwrap()
    );
}
