//! The gauges AWS samples for us, every second: Lambda concurrency, the depth of
//! the billing queue and its dead-letter queue on RabbitMQ (what Amazon MQ publishes as
//! `AWS/AmazonMQ` `MessageCount`) and of the SQS dead-letter queue (`AWS/SQS`
//! `ApproximateNumberOfMessagesVisible`, read with `GetQueueAttributes` as CloudWatch does).

use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::watch;

use crate::lambda::LambdaService;
use crate::metrics::MetricId;

/// Where the queues are.
#[derive(Debug, Clone, Default)]
pub struct Queues {
    /// The mapping's broker URL (its consume-only user may declare passively).
    pub amqp_url: Option<String>,
    pub broker: String,
    pub queue: String,
    /// The SQS dead-letter queue's URL and name.
    pub dlq_url: Option<String>,
    pub dlq: String,
}

pub fn spawn(lambda: LambdaService, queues: Queues, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut channel: Option<(Connection, Channel)> = None;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .ok();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let rec = lambda.recorder();
            for (name, running) in lambda.concurrency() {
                rec.put(
                    MetricId::new(
                        "AWS/Lambda",
                        "ConcurrentExecutions",
                        &[("FunctionName", &name)],
                    ),
                    running as f64,
                );
            }
            if let Some(url) = &queues.amqp_url {
                for q in [queues.queue.clone(), format!("{}.dead", queues.queue)] {
                    match depth(&mut channel, url, &q).await {
                        Some(count) => rec.put(
                            MetricId::new(
                                "AWS/AmazonMQ",
                                "MessageCount",
                                &[
                                    ("Broker", &queues.broker),
                                    ("VirtualHost", "/"),
                                    ("Queue", &q),
                                ],
                            ),
                            count as f64,
                        ),
                        None => channel = None,
                    }
                }
            }
            if let (Some(http), Some(url)) = (&http, &queues.dlq_url)
                && let Some(v) = sqs_visible(http, url).await
            {
                rec.put(
                    MetricId::new(
                        "AWS/SQS",
                        "ApproximateNumberOfMessagesVisible",
                        &[("QueueName", &queues.dlq)],
                    ),
                    v,
                );
            }
        }
    });
}

/// Messages ready in `queue` (a passive declare: never creates it).
async fn depth(slot: &mut Option<(Connection, Channel)>, url: &str, queue: &str) -> Option<u32> {
    if slot.as_ref().is_none_or(|(_, ch)| !ch.status().connected()) {
        let conn = Connection::connect(url, ConnectionProperties::default())
            .await
            .ok()?;
        let ch = conn.create_channel().await.ok()?;
        *slot = Some((conn, ch));
    }
    let (_, ch) = slot.as_ref()?;
    let q = ch
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .ok()?;
    Some(q.message_count())
}

/// `ApproximateNumberOfMessages` of an SQS queue (query protocol, as moto and SQS accept it).
async fn sqs_visible(http: &reqwest::Client, url: &str) -> Option<f64> {
    // moto routes by the credential scope of the Authorization header (region and service);
    // it does not check the signature, and this never leaves loopback.
    let region = crate::lambda::region();
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=local/20260101/{region}/sqs/aws4_request, SignedHeaders=host, Signature=0"
    );
    let body = http
        .post(url)
        .header(http::header::AUTHORIZATION, auth)
        .form(&[
            ("Action", "GetQueueAttributes"),
            ("Version", "2012-11-05"),
            ("AttributeName.1", "ApproximateNumberOfMessages"),
        ])
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    xml_attribute(&body, "ApproximateNumberOfMessages")
}

/// The `<Value>` following `<Name>name</Name>` in a GetQueueAttributes answer.
pub fn xml_attribute(xml: &str, name: &str) -> Option<f64> {
    let at = xml.find(&format!("<Name>{name}</Name>"))?;
    let rest = &xml[at..];
    let start = rest.find("<Value>")? + "<Value>".len();
    let end = rest[start..].find("</Value>")? + start;
    rest[start..end].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_an_attribute() {
        let xml = "<GetQueueAttributesResponse><GetQueueAttributesResult><Attribute><Name>ApproximateNumberOfMessages</Name><Value>3</Value></Attribute></GetQueueAttributesResult></GetQueueAttributesResponse>";
        assert_eq!(
            super::xml_attribute(xml, "ApproximateNumberOfMessages"),
            Some(3.0)
        );
        assert_eq!(super::xml_attribute(xml, "Other"), None);
        assert_eq!(
            super::xml_attribute(
                "<Name>ApproximateNumberOfMessages</Name><Value>x</Value>",
                "ApproximateNumberOfMessages"
            ),
            None
        );
    }
}
