//! Reference round trips measured in the same run (PostgreSQL `SELECT 1` and `INSERT`, a
//! RabbitMQ publish with confirm, the order lookup): the floor every figure is compared with.

use std::sync::Arc;

use bench::load::{self, Load};
use bench::setup::{MOVIES_DB, ORDERS_DB};
use bench::stats::Summary;
use uuid::Uuid;

use crate::Ctx;

/// The statement of `billing_api::repo::find_order`.
const ORDER_LOOKUP: &str =
    "SELECT message_id, user_id, number_of_items, total_amount::text, principal,
        to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
   FROM orders WHERE message_id = $1";

/// Reference round trips, measured in the same run.
pub(super) struct References {
    pub(super) select_seq: Summary,
    pub(super) select_c: Summary,
    pub(super) insert_c: Summary,
    pub(super) publish_c: Summary,
    /// billing-api's order lookup as it runs it (an unnamed statement: parse + plan every time)
    /// and the same statement prepared once per connection.
    pub(super) lookup_unprepared_c: Summary,
    pub(super) lookup_prepared_c: Summary,
    /// What measures them, to measure a reference again right next to a figure.
    pub(super) rig: Rig,
}

/// One PostgreSQL connection per worker and a confirm channel to a scratch queue.
#[derive(Clone)]
pub(super) struct Rig {
    pub(super) pg: Arc<Vec<tokio_postgres::Client>>,
    pub(super) channel: Arc<lapin::Channel>,
    pub(super) queue: Arc<String>,
    pub(super) load: Load,
    pub(super) reps: usize,
}

impl Rig {
    /// The reference round trip of `kind` at the fixed concurrency (median-p99 run).
    pub(super) async fn measure(&self, kind: RefKind) -> Summary {
        let rig = self.clone();
        load::run_median(self.load, self.reps, move |w, _| {
            let rig = rig.clone();
            async move {
                match kind {
                    RefKind::Read => rig.pg[w].simple_query("SELECT 1").await.is_ok(),
                    RefKind::Write => rig.pg[w]
                        .simple_query("INSERT INTO bench_reference (v) VALUES ('reference')")
                        .await
                        .is_ok(),
                    RefKind::Publish => {
                        let props = lapin::BasicProperties::default().with_delivery_mode(2);
                        match rig
                            .channel
                            .basic_publish(
                                "".into(),
                                rig.queue.as_str().into(),
                                Default::default(),
                                br#"{"reference":true}"#,
                                props,
                            )
                            .await
                        {
                            Ok(confirm) => confirm.await.is_ok_and(|c| c.is_ack()),
                            Err(_) => false,
                        }
                    }
                }
            }
        })
        .await
    }
}

#[derive(Clone, Copy)]
pub(super) enum RefKind {
    Read,
    Write,
    Publish,
}

impl RefKind {
    pub(super) fn pick(self, refs: &References) -> (&Summary, &'static str) {
        match self {
            Self::Read => (&refs.select_c, "SELECT 1"),
            Self::Write => (&refs.insert_c, "INSERT"),
            Self::Publish => (&refs.publish_c, "publish"),
        }
    }
}

pub(super) async fn measure_all(ctx: &Ctx, amqp: &lapin::Connection) -> Result<References, String> {
    let c = ctx.load.concurrency;
    let admin = ctx.svc.admin(MOVIES_DB);
    let mut clients = Vec::with_capacity(c);
    for _ in 0..c {
        clients.push(ctx.svc.connect(&admin).await?);
    }
    let clients = Arc::new(clients);
    // Warm the connections (catalog caches) before timing.
    for cl in clients.iter() {
        let _ = cl.simple_query("SELECT 1").await;
    }
    let seq = {
        let cl = clients.clone();
        load::run_median(
            Load {
                concurrency: 1,
                ..ctx.load
            },
            ctx.reps,
            move |_, _| {
                let cl = cl.clone();
                async move { cl[0].simple_query("SELECT 1").await.is_ok() }
            },
        )
        .await
    };
    let orders_admin = ctx.svc.admin(ORDERS_DB);
    let mut orders_clients = Vec::with_capacity(c);
    for _ in 0..c {
        orders_clients.push(ctx.svc.connect(&orders_admin).await?);
    }
    let orders_clients = Arc::new(orders_clients);
    let cl = orders_clients.clone();
    let lookup_unprepared_c = load::run_median(ctx.load, ctx.reps, move |w, _| {
        let cl = cl.clone();
        async move {
            cl[w]
                .query_opt(ORDER_LOOKUP, &[&Uuid::new_v4()])
                .await
                .is_ok()
        }
    })
    .await;
    let mut prepared = Vec::with_capacity(c);
    for cl in orders_clients.iter() {
        prepared.push(cl.prepare(ORDER_LOOKUP).await.map_err(|e| e.to_string())?);
    }
    let prepared = Arc::new(prepared);
    let cl = orders_clients.clone();
    let lookup_prepared_c = load::run_median(ctx.load, ctx.reps, move |w, _| {
        let (cl, prepared) = (cl.clone(), prepared.clone());
        async move {
            cl[w]
                .query_opt(&prepared[w], &[&Uuid::new_v4()])
                .await
                .is_ok()
        }
    })
    .await;

    let channel = amqp.create_channel().await.map_err(|e| e.to_string())?;
    channel
        .confirm_select(Default::default())
        .await
        .map_err(|e| e.to_string())?;
    let ref_queue = format!("{}_reference", ctx.queue);
    channel
        .queue_declare(
            ref_queue.as_str().into(),
            lapin::options::QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
    let rig = Rig {
        pg: clients,
        channel: Arc::new(channel),
        queue: Arc::new(ref_queue),
        load: ctx.load,
        reps: ctx.reps,
    };
    let select_c = rig.measure(RefKind::Read).await;
    let insert_c = rig.measure(RefKind::Write).await;
    let publish_c = rig.measure(RefKind::Publish).await;
    Ok(References {
        select_seq: seq,
        select_c,
        insert_c,
        publish_c,
        lookup_unprepared_c,
        lookup_prepared_c,
        rig,
    })
}
