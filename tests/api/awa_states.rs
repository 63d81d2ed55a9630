//! AWA's work-item state machine, through the domain (no HTTP but for the set-up): every
//! transition of `src/domain/awa_work` with explicit times, and every refusal in the situation
//! that causes it. Each call runs in a transaction of its own, committed when it succeeds and
//! rolled back when it refuses (dropped, as the API layer does). The runtime has two threads:
//! on PostgreSQL a dropped transaction's connection is rolled back by a task the pool spawns,
//! which must be able to run while the test's end drops its schema.

use switchboard::domain::awa_work::{
    self, ACCEPTED, CANCELLED, PENDING_ACCEPT, QUEUED, Refusal, Transfer, TransferKind,
    TransferTarget,
};
use switchboard::model::registry;
use time::Duration;

use crate::helpers::awa::{ACTOR, AwaWorld, flag, int, offer, t0, text, timed_offer, where_eq};

/// Runs a domain call (`Outcome<T>`) in a transaction of its own: committed when it succeeds,
/// rolled back when it refuses. A storage error fails the test.
macro_rules! call {
    ($awa:expr, |$tx:ident| $call:expr) => {{
        let mut transaction = $awa.store().begin().await.unwrap();
        let outcome = {
            let $tx = &mut transaction;
            $call.await
        }
        .expect("no storage error");
        if outcome.is_ok() {
            transaction.commit().await.unwrap();
        }
        outcome
    }};
}

const INTERACTION: &str = "interaction";

async fn offer_item(awa: &AwaWorld, item: &str, agent: &str, now: time::OffsetDateTime) {
    let offered = call!(awa, |tx| awa_work::offer_work_item(
        tx,
        item,
        &offer(agent),
        &awa.caller,
        now,
        ACTOR
    ));
    offered.expect("offered");
}

async fn accept(awa: &AwaWorld, agent: &str, item: &str) -> Result<(String, String), Refusal> {
    call!(awa, |tx| awa_work::accept(tx, agent, item, t0(), ACTOR))
}

async fn reject(awa: &AwaWorld, agent: &str, item: &str) -> Result<(), Refusal> {
    call!(awa, |tx| awa_work::reject(
        tx,
        agent,
        item,
        &awa.busy,
        t0(),
        ACTOR
    ))
}

async fn transfer(
    awa: &AwaWorld,
    document: &str,
    target: TransferTarget,
    kind: TransferKind,
) -> Result<awa_work::Summary, Refusal> {
    let agent = match &target {
        TransferTarget::Agent(a) => a.clone(),
        TransferTarget::Queue(_) => String::new(),
    };
    let request = Transfer {
        source_queue: None,
        target,
        kind,
        terms: offer(&agent),
        external_segment_id: Some("segment-2".into()),
    };
    call!(awa, |tx| awa_work::transfer(
        tx,
        INTERACTION,
        document,
        &request,
        &awa.caller,
        t0(),
        ACTOR
    ))
}

async fn workloads(awa: &AwaWorld, agent: &str) -> Vec<(Option<String>, i64)> {
    let mut tx = awa.store().begin().await.unwrap();
    let loads = awa_work::workloads(&mut tx, agent).await.unwrap();
    tx.commit().await.unwrap();
    loads.into_iter().collect()
}

/// An interaction in the queue whose item is accepted by `agent`: (interaction, item).
async fn accepted_by(awa: &AwaWorld, agent: &str) -> (String, String) {
    let interaction = awa.open_in_queue(&awa.queue).await;
    let item = awa.item(&interaction).await.sys_id().to_owned();
    offer_item(awa, &item, agent, t0()).await;
    accept(awa, agent, &item).await.expect("accepted");
    (interaction, item)
}

fn public(agent: &str) -> (String, String) {
    (agent.to_owned(), "public_fulfiller".to_owned())
}

fn private(agent: &str) -> (String, String) {
    (agent.to_owned(), "private_fulfiller".to_owned())
}

// ---------------------------------------------------------------------------------------------
// Routed in, offered, timed out
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interaction_opened_with_a_queue_waits_in_it_as_a_queued_item() {
    let awa = AwaWorld::new().await;
    let interaction = awa.open_in_queue(&awa.queue).await;
    let item = awa.item(&interaction).await;
    assert_eq!(text(&item, "state"), QUEUED);
    assert!(flag(&item, "active"));
    assert_eq!(text(&item, "document_table"), INTERACTION);
    assert_eq!(text(&item, "queue"), awa.queue);
    assert_eq!(text(&item, "service_channel"), awa.chat);
    assert_eq!(text(&item, "assigned_to"), "");
    assert_eq!(int(&item, "offer_count"), 0);
    let number = text(
        &awa.record(&registry::INTERACTION, &interaction).await,
        "number",
    );
    assert_eq!(
        text(&item, "display_name"),
        format!("Interaction: {number}")
    );
    // Without a queue there is nothing to route.
    let unrouted = awa.open_unrouted().await;
    assert!(awa.items(&unrouted).await.is_empty());
    // route() moves the item to another queue; a new document gets a queued item.
    let moved = call!(awa, |tx| awa_work::route(
        tx,
        &awa.other_queue_external_id,
        INTERACTION,
        &interaction,
        t0(),
        ACTOR
    ))
    .unwrap();
    assert_eq!(moved.sys_id, item.sys_id());
    assert_eq!(moved.queue, awa.other_queue);
    let routed = call!(awa, |tx| awa_work::route(
        tx,
        &awa.queue,
        INTERACTION,
        &unrouted,
        t0(),
        ACTOR
    ))
    .unwrap();
    assert_eq!(text(&awa.item(&unrouted).await, "state"), QUEUED);
    assert_eq!(routed.document_id, unrouted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_makes_the_item_pending_accept_for_the_agent_until_its_timeout() {
    let awa = AwaWorld::new().await;
    let interaction = awa.open_in_queue(&awa.queue).await;
    let id = awa.item(&interaction).await.sys_id().to_owned();
    let now = t0();
    let terms = timed_offer(&awa.agents[0].sys_id, now, 30, Some(&awa.away));
    let offered = call!(awa, |tx| awa_work::offer_work_item(
        tx,
        &id,
        &terms,
        &awa.caller,
        now,
        ACTOR
    ))
    .unwrap();
    assert_eq!(offered.sys_id, id);
    let item = awa.item(&interaction).await;
    assert_eq!(text(&item, "state"), PENDING_ACCEPT);
    assert_eq!(text(&item, "assigned_to"), awa.agents[0].sys_id);
    assert_eq!(int(&item, "offer_count"), 1);
    assert_eq!(int(&item, "offer_timeout"), 30);
    let stamp = |t| switchboard::model::value::format_date_time(t);
    assert_eq!(text(&item, "offered_on"), stamp(now));
    assert_eq!(
        text(&item, "timeout_on"),
        stamp(now + Duration::seconds(30))
    );
    assert_eq!(text(&item, "after_timeout_presence"), awa.away);
    assert_eq!(text(&item, "allocated_by"), awa.caller);
    assert_eq!(
        workloads(&awa, &awa.agents[0].sys_id).await,
        vec![(Some(awa.chat.clone()), 1)]
    );

    // A second before the timeout nothing expires; at it, the offer is cancelled.
    let store = awa.store();
    let due = now + Duration::seconds(30);
    let early = awa_work::expire_offers(store, due - Duration::seconds(1));
    assert_eq!(early.await.unwrap(), 0);
    assert_eq!(text(&awa.item(&interaction).await, "state"), PENDING_ACCEPT);
    assert_eq!(awa.presence_of(&awa.agents[0].sys_id).await, awa.available);
    assert_eq!(awa_work::expire_offers(store, due).await.unwrap(), 1);
    let item = awa.item(&interaction).await;
    assert_eq!(text(&item, "state"), CANCELLED);
    assert_eq!(text(&item, "reason"), "time_out");
    assert!(flag(&item, "timed_out"));
    assert!(!flag(&item, "active"));
    assert_eq!(awa.presence_of(&awa.agents[0].sys_id).await, awa.away);
    assert!(workloads(&awa, &awa.agents[0].sys_id).await.is_empty());
    // Once only.
    assert_eq!(awa_work::expire_offers(store, due).await.unwrap(), 0);
    // A timed-out item cannot be offered again.
    let refused = call!(awa, |tx| awa_work::offer_work_item(
        tx,
        &id,
        &offer(&awa.agents[1].sys_id),
        &awa.caller,
        now,
        ACTOR
    ));
    assert_eq!(refused, Err(Refusal::CannotBeAssigned(id.clone())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_without_after_timeout_presence_leaves_the_presence_and_no_timeout_never_expires()
{
    let awa = AwaWorld::new().await;
    let (timed, untimed) = (
        awa.open_in_queue(&awa.queue).await,
        awa.open_in_queue(&awa.queue).await,
    );
    let now = t0();
    let timed_item = awa.item(&timed).await.sys_id().to_owned();
    let terms = timed_offer(&awa.agents[0].sys_id, now, 10, None);
    call!(awa, |tx| awa_work::offer_work_item(
        tx,
        &timed_item,
        &terms,
        &awa.caller,
        now,
        ACTOR
    ))
    .unwrap();
    let untimed_item = awa.item(&untimed).await.sys_id().to_owned();
    offer_item(&awa, &untimed_item, &awa.agents[0].sys_id, now).await;
    assert_eq!(text(&awa.item(&untimed).await, "timeout_on"), "");
    let later = now + Duration::days(365);
    assert_eq!(
        awa_work::expire_offers(awa.store(), later).await.unwrap(),
        1
    );
    assert_eq!(awa.presence_of(&awa.agents[0].sys_id).await, awa.available);
    assert_eq!(text(&awa.item(&untimed).await, "state"), PENDING_ACCEPT);
}

// ---------------------------------------------------------------------------------------------
// Accept, reject, auto-assign
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_makes_the_work_the_agents_and_the_agent_a_public_fulfiller() {
    let awa = AwaWorld::new().await;
    let interaction = awa.open_in_queue(&awa.queue).await;
    let id = awa.item(&interaction).await.sys_id().to_owned();
    let now = t0();
    let terms = timed_offer(&awa.agents[0].sys_id, now, 30, Some(&awa.away));
    call!(awa, |tx| awa_work::offer_work_item(
        tx,
        &id,
        &terms,
        &awa.caller,
        now,
        ACTOR
    ))
    .unwrap();
    let answer = accept(&awa, &awa.agents[0].sys_id, &id).await;
    assert_eq!(answer, Ok((INTERACTION.to_owned(), interaction.clone())));
    let item = awa.item(&interaction).await;
    assert_eq!(text(&item, "state"), ACCEPTED);
    assert!(flag(&item, "active"));
    assert_eq!(text(&item, "timeout_on"), "");
    let record = awa.record(&registry::INTERACTION, &interaction).await;
    assert_eq!(text(&record, "assigned_to"), awa.agents[0].sys_id);
    assert_eq!(text(&record, "state"), "work_in_progress");
    assert_eq!(
        awa.active_members(&interaction).await,
        vec![public(&awa.agents[0].sys_id)]
    );
    // Accepted work does not time out, and is no longer anyone's to answer or be offered.
    let due = now + Duration::seconds(30);
    assert_eq!(awa_work::expire_offers(awa.store(), due).await.unwrap(), 0);
    assert_eq!(
        accept(&awa, &awa.agents[0].sys_id, &id).await,
        Err(Refusal::NotPendingAccept)
    );
    assert_eq!(
        reject(&awa, &awa.agents[0].sys_id, &id).await,
        Err(Refusal::NotPendingAccept)
    );
    let manual = call!(awa, |tx| awa_work::offer_work_item(
        tx,
        &id,
        &offer(&awa.agents[1].sys_id),
        &awa.caller,
        now,
        ACTOR
    ));
    assert_eq!(manual, Err(Refusal::CannotBeAssigned(id.clone())));
    let offer_work = call!(awa, |tx| awa_work::offer_document(
        tx,
        INTERACTION,
        &interaction,
        &awa.queue,
        &offer(&awa.agents[1].sys_id),
        None,
        &awa.caller,
        now,
        ACTOR
    ));
    assert_eq!(offer_work, Err(Refusal::AcceptedCannotBeAssigned));
    assert_eq!(
        workloads(&awa, &awa.agents[0].sys_id).await,
        vec![(Some(awa.chat.clone()), 1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_records_the_reason_and_puts_the_item_back_in_its_queue() {
    let awa = AwaWorld::new().await;
    let interaction = awa.open_in_queue(&awa.queue).await;
    let id = awa.item(&interaction).await.sys_id().to_owned();
    let now = t0();
    let terms = timed_offer(&awa.agents[0].sys_id, now, 30, None);
    call!(awa, |tx| awa_work::offer_work_item(
        tx,
        &id,
        &terms,
        &awa.caller,
        now,
        ACTOR
    ))
    .unwrap();
    assert_eq!(reject(&awa, &awa.agents[0].sys_id, &id).await, Ok(()));
    let item = awa.item(&interaction).await;
    assert_eq!(text(&item, "state"), QUEUED);
    assert!(flag(&item, "active"));
    assert!(flag(&item, "rejected"));
    assert_eq!(text(&item, "assigned_to"), "");
    assert_eq!(text(&item, "timeout_on"), "");
    let rejections = where_eq(
        awa.store(),
        &registry::AWA_WORK_ITEM_REJECTION,
        "work_item",
        &id,
    )
    .await;
    assert_eq!(rejections.len(), 1);
    assert_eq!(text(&rejections[0], "agent"), awa.agents[0].sys_id);
    assert_eq!(text(&rejections[0], "reject_reason"), awa.busy);
    assert!(awa.active_members(&interaction).await.is_empty());
    assert!(workloads(&awa, &awa.agents[0].sys_id).await.is_empty());
    // The old timeout is gone with the offer.
    let due = now + Duration::seconds(30);
    assert_eq!(awa_work::expire_offers(awa.store(), due).await.unwrap(), 0);
    // Offered again, to another agent: the second offer.
    offer_item(&awa, &id, &awa.agents[1].sys_id, now).await;
    let item = awa.item(&interaction).await;
    assert_eq!(text(&item, "assigned_to"), awa.agents[1].sys_id);
    assert_eq!(int(&item, "offer_count"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_assign_accepts_at_once() {
    let awa = AwaWorld::new().await;
    let interaction = awa.open_unrouted().await;
    let mut terms = offer(&awa.agents[0].sys_id);
    terms.auto_assign = true;
    let offered = call!(awa, |tx| awa_work::offer_document(
        tx,
        INTERACTION,
        &interaction,
        &awa.queue_external_id,
        &terms,
        Some("segment-1"),
        &awa.caller,
        t0(),
        ACTOR
    ))
    .unwrap();
    let item = awa.item(&interaction).await;
    assert_eq!(offered.sys_id, item.sys_id());
    assert_eq!(offered.queue, awa.queue);
    assert_eq!(text(&item, "state"), ACCEPTED);
    assert!(flag(&item, "auto_assign"));
    assert_eq!(text(&item, "external_segment_id"), "segment-1");
    assert_eq!(int(&item, "offer_count"), 1);
    let record = awa.record(&registry::INTERACTION, &interaction).await;
    assert_eq!(text(&record, "assigned_to"), awa.agents[0].sys_id);
    assert_eq!(
        awa.active_members(&interaction).await,
        vec![public(&awa.agents[0].sys_id)]
    );
}

// ---------------------------------------------------------------------------------------------
// Transfers and consults
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blind_transfer_accepted_ends_the_previous_item_and_drops_its_agent() {
    let awa = AwaWorld::new().await;
    let (interaction, first) = accepted_by(&awa, &awa.agents[0].sys_id).await;
    let target = TransferTarget::Agent(awa.agents[1].sys_id.clone());
    let moved = transfer(&awa, &interaction, target, TransferKind::Blind)
        .await
        .unwrap();
    let items = awa.items(&interaction).await;
    assert_eq!(items.len(), 2);
    let new = &items[1];
    assert_eq!(moved.sys_id, new.sys_id());
    assert_eq!(text(new, "state"), PENDING_ACCEPT);
    assert_eq!(text(new, "assigned_to"), awa.agents[1].sys_id);
    assert_eq!(text(new, "previous_work_item"), first);
    assert_eq!(text(new, "transfer_type"), "blind");
    assert_eq!(text(new, "queue"), awa.queue);
    // Until the target accepts, the work stays with its agent.
    assert!(flag(&items[0], "active"));
    assert_eq!(
        awa.active_members(&interaction).await,
        vec![public(&awa.agents[0].sys_id)]
    );
    accept(&awa, &awa.agents[1].sys_id, new.sys_id())
        .await
        .unwrap();
    let items = awa.items(&interaction).await;
    assert!(!flag(&items[0], "active"));
    assert_eq!(text(&items[0], "state"), ACCEPTED);
    assert_eq!(text(&items[1], "state"), ACCEPTED);
    assert_eq!(
        awa.active_members(&interaction).await,
        vec![public(&awa.agents[1].sys_id)]
    );
    let record = awa.record(&registry::INTERACTION, &interaction).await;
    assert_eq!(text(&record, "assigned_to"), awa.agents[1].sys_id);
    assert!(workloads(&awa, &awa.agents[0].sys_id).await.is_empty());
}

/// Found by the race of two blind transfers (`awa_races`): a second transfer made two pending
/// items for one document, the second naming the first's offer as its previous item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_to_an_agent_while_a_transfer_is_pending_is_refused() {
    let awa = AwaWorld::new().await;
    let (interaction, _) = accepted_by(&awa, &awa.agents[0].sys_id).await;
    let target = TransferTarget::Agent(awa.agents[1].sys_id.clone());
    transfer(&awa, &interaction, target, TransferKind::Blind)
        .await
        .unwrap();
    for kind in [TransferKind::Blind, TransferKind::Consult] {
        let other = TransferTarget::Agent(awa.agents[2].sys_id.clone());
        assert_eq!(
            transfer(&awa, &interaction, other, kind).await,
            Err(Refusal::AlreadyAssignedTo(awa.agents[1].sys_id.clone())),
            "{kind:?}"
        );
    }
    assert_eq!(awa.items(&interaction).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blind_transfer_rejected_is_cancelled_and_the_previous_item_stays() {
    let awa = AwaWorld::new().await;
    let (interaction, first) = accepted_by(&awa, &awa.agents[0].sys_id).await;
    let target = TransferTarget::Agent(awa.agents[1].sys_id.clone());
    let moved = transfer(&awa, &interaction, target, TransferKind::Blind)
        .await
        .unwrap();
    reject(&awa, &awa.agents[1].sys_id, &moved.sys_id)
        .await
        .unwrap();
    let items = awa.items(&interaction).await;
    assert_eq!(items[0].sys_id(), first);
    assert!(flag(&items[0], "active"));
    assert_eq!(text(&items[0], "state"), ACCEPTED);
    assert_eq!(text(&items[1], "state"), CANCELLED);
    assert_eq!(text(&items[1], "reason"), "transfer_canceled");
    assert!(!flag(&items[1], "active"));
    assert_eq!(
        awa.active_members(&interaction).await,
        vec![public(&awa.agents[0].sys_id)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blind_transfer_that_times_out_is_transfer_canceled() {
    let awa = AwaWorld::new().await;
    let (interaction, _) = accepted_by(&awa, &awa.agents[0].sys_id).await;
    let now = t0();
    let request = Transfer {
        source_queue: None,
        target: TransferTarget::Agent(awa.agents[1].sys_id.clone()),
        kind: TransferKind::Blind,
        terms: timed_offer(&awa.agents[1].sys_id, now, 20, None),
        external_segment_id: None,
    };
    call!(awa, |tx| awa_work::transfer(
        tx,
        INTERACTION,
        &interaction,
        &request,
        &awa.caller,
        now,
        ACTOR
    ))
    .unwrap();
    let due = now + Duration::seconds(20);
    assert_eq!(awa_work::expire_offers(awa.store(), due).await.unwrap(), 1);
    let items = awa.items(&interaction).await;
    assert_eq!(text(&items[1], "state"), CANCELLED);
    assert!(flag(&items[1], "timed_out"));
    assert_eq!(
        text(&items[1], "reason"),
        "transfer_canceled",
        "the design: a transfer item that times out is transfer_canceled"
    );
    assert!(flag(&items[0], "active"));
    assert_eq!(
        awa.active_members(&interaction).await,
        vec![public(&awa.agents[0].sys_id)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blind_transfer_of_a_pending_offer_accepted_cancels_that_offer() {
    let awa = AwaWorld::new().await;
    let interaction = awa.open_in_queue(&awa.queue).await;
    let first = awa.item(&interaction).await.sys_id().to_owned();
    let now = t0();
    let terms = timed_offer(&awa.agents[0].sys_id, now, 30, Some(&awa.away));
    call!(awa, |tx| awa_work::offer_work_item(
        tx,
        &first,
        &terms,
        &awa.caller,
        now,
        ACTOR
    ))
    .unwrap();
    let target = TransferTarget::Agent(awa.agents[1].sys_id.clone());
    let moved = transfer(&awa, &interaction, target, TransferKind::Blind)
        .await
        .unwrap();
    accept(&awa, &awa.agents[1].sys_id, &moved.sys_id)
        .await
        .unwrap();
    let previous = awa.record(&registry::AWA_WORK_ITEM, &first).await;
    assert!(!flag(&previous, "active"));
    assert_eq!(
        (text(&previous, "state"), text(&previous, "reason")),
        (CANCELLED.to_owned(), "transfer_canceled".to_owned()),
        "the offer the transfer took over is cancelled, not left pending"
    );
    // Its timeout is gone with it: the agent is not sent away.
    let due = now + Duration::seconds(30);
    assert_eq!(awa_work::expire_offers(awa.store(), due).await.unwrap(), 0);
    assert_eq!(awa.presence_of(&awa.agents[0].sys_id).await, awa.available);
    assert!(workloads(&awa, &awa.agents[0].sys_id).await.is_empty());
    assert_eq!(
        awa.active_members(&interaction).await,
        vec![public(&awa.agents[1].sys_id)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_to_a_queue_ends_the_item_drops_its_agent_and_queues_a_new_one() {
    let awa = AwaWorld::new().await;
    let (interaction, first) = accepted_by(&awa, &awa.agents[0].sys_id).await;
    let target = TransferTarget::Queue(awa.other_queue.clone());
    let moved = transfer(&awa, &interaction, target, TransferKind::Blind)
        .await
        .unwrap();
    assert_eq!(moved.queue, awa.other_queue);
    let items = awa.items(&interaction).await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].sys_id(), first);
    assert!(!flag(&items[0], "active"));
    assert_eq!(text(&items[0], "state"), ACCEPTED);
    assert_eq!(text(&items[1], "state"), QUEUED);
    assert!(flag(&items[1], "is_queue_transferred"));
    assert_eq!(text(&items[1], "previous_work_item"), first);
    assert_eq!(text(&items[1], "queue"), awa.other_queue);
    assert!(awa.active_members(&interaction).await.is_empty());
    let record = awa.record(&registry::INTERACTION, &interaction).await;
    assert_eq!(text(&record, "assigned_to"), "");
    assert_eq!(text(&record, "state"), "queued");
    assert!(workloads(&awa, &awa.agents[0].sys_id).await.is_empty());
    // A pending item transferred to a queue is cancelled, not left pending.
    offer_item(&awa, items[1].sys_id(), &awa.agents[1].sys_id, t0()).await;
    let target = TransferTarget::Queue(awa.queue.clone());
    transfer(&awa, &interaction, target, TransferKind::Blind)
        .await
        .unwrap();
    let items = awa.items(&interaction).await;
    assert_eq!(text(&items[1], "state"), CANCELLED);
    assert_eq!(text(&items[1], "reason"), "transfer_canceled");
    assert!(workloads(&awa, &awa.agents[1].sys_id).await.is_empty());
}

/// A transfer to a queue while a blind transfer to an agent is pending ends both: the pending
/// offer (cancelled) and the accepted item it was to take over; its agent leaves the chat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_to_a_queue_during_a_pending_blind_transfer_ends_both_items() {
    let awa = AwaWorld::new().await;
    let (interaction, first) = accepted_by(&awa, &awa.agents[0].sys_id).await;
    let target = TransferTarget::Agent(awa.agents[1].sys_id.clone());
    let pending = transfer(&awa, &interaction, target, TransferKind::Blind)
        .await
        .unwrap();
    let target = TransferTarget::Queue(awa.other_queue.clone());
    let queued = transfer(&awa, &interaction, target, TransferKind::Blind)
        .await
        .unwrap();
    let first = awa.record(&registry::AWA_WORK_ITEM, &first).await;
    assert!(!flag(&first, "active"), "{first:?}");
    assert_eq!(text(&first, "state"), ACCEPTED);
    let pending = awa.record(&registry::AWA_WORK_ITEM, &pending.sys_id).await;
    assert!(!flag(&pending, "active"), "{pending:?}");
    assert_eq!(text(&pending, "state"), CANCELLED);
    assert_eq!(text(&pending, "reason"), "transfer_canceled");
    let queued = awa.record(&registry::AWA_WORK_ITEM, &queued.sys_id).await;
    assert_eq!(text(&queued, "state"), QUEUED);
    assert!(awa.active_members(&interaction).await.is_empty());
    let record = awa.record(&registry::INTERACTION, &interaction).await;
    assert_eq!(text(&record, "assigned_to"), "");
    for agent in [&awa.agents[0], &awa.agents[1]] {
        assert!(workloads(&awa, &agent.sys_id).await.is_empty());
    }
}

/// An accepted interaction and a consult of it with `agents[1]`: (interaction, original, consult).
async fn consulted(awa: &AwaWorld, accepted: bool) -> (String, String, String) {
    let (interaction, first) = accepted_by(awa, &awa.agents[0].sys_id).await;
    let target = TransferTarget::Agent(awa.agents[1].sys_id.clone());
    let consult = transfer(awa, &interaction, target, TransferKind::Consult)
        .await
        .unwrap();
    let item = awa.record(&registry::AWA_WORK_ITEM, &consult.sys_id).await;
    assert!(flag(&item, "consult"));
    assert_eq!(text(&item, "consult_state"), "requested");
    assert_eq!(text(&item, "transfer_type"), "consult");
    assert_eq!(text(&item, "state"), PENDING_ACCEPT);
    if accepted {
        accept(awa, &awa.agents[1].sys_id, &consult.sys_id)
            .await
            .unwrap();
        let item = awa.record(&registry::AWA_WORK_ITEM, &consult.sys_id).await;
        assert_eq!(text(&item, "consult_state"), "accepted");
        assert_eq!(text(&item, "state"), ACCEPTED);
        // In the chat privately; the work stays with the original agent.
        assert_eq!(
            awa.active_members(&interaction).await,
            vec![
                public(&awa.agents[0].sys_id),
                private(&awa.agents[1].sys_id)
            ]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
        );
        let record = awa.record(&registry::INTERACTION, &interaction).await;
        assert_eq!(text(&record, "assigned_to"), awa.agents[0].sys_id);
        let original = awa.record(&registry::AWA_WORK_ITEM, &first).await;
        assert!(flag(&original, "active"));
    }
    (interaction, first, consult.sys_id)
}

async fn end_consult(awa: &AwaWorld, interaction: &str, hand_over: bool) -> Result<(), Refusal> {
    call!(awa, |tx| awa_work::end_consult(
        tx,
        interaction,
        hand_over,
        t0(),
        ACTOR
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consult_handed_over_makes_the_consulted_agent_the_primary() {
    let awa = AwaWorld::new().await;
    let (interaction, first, consult) = consulted(&awa, true).await;
    end_consult(&awa, &interaction, true).await.unwrap();
    let item = awa.record(&registry::AWA_WORK_ITEM, &consult).await;
    assert_eq!(text(&item, "consult_state"), "transferred");
    assert!(flag(&item, "active"));
    let original = awa.record(&registry::AWA_WORK_ITEM, &first).await;
    assert!(!flag(&original, "active"));
    assert_eq!(
        awa.active_members(&interaction).await,
        vec![public(&awa.agents[1].sys_id)]
    );
    let record = awa.record(&registry::INTERACTION, &interaction).await;
    assert_eq!(text(&record, "assigned_to"), awa.agents[1].sys_id);
    assert!(workloads(&awa, &awa.agents[0].sys_id).await.is_empty());
    assert_eq!(workloads(&awa, &awa.agents[1].sys_id).await.len(), 1);
    // No consult left to end.
    assert_eq!(
        end_consult(&awa, &interaction, true).await,
        Err(Refusal::NoConsult(interaction.clone()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consult_ended_without_hand_over_leaves_the_work_with_its_agent() {
    let awa = AwaWorld::new().await;
    let (interaction, first, consult) = consulted(&awa, true).await;
    end_consult(&awa, &interaction, false).await.unwrap();
    let item = awa.record(&registry::AWA_WORK_ITEM, &consult).await;
    assert_eq!(text(&item, "consult_state"), "ended");
    assert!(!flag(&item, "active"));
    let original = awa.record(&registry::AWA_WORK_ITEM, &first).await;
    assert!(flag(&original, "active"));
    assert_eq!(
        awa.active_members(&interaction).await,
        vec![public(&awa.agents[0].sys_id)]
    );
    let record = awa.record(&registry::INTERACTION, &interaction).await;
    assert_eq!(text(&record, "assigned_to"), awa.agents[0].sys_id);
    assert!(workloads(&awa, &awa.agents[1].sys_id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consult_still_requested_is_cancelled_whichever_the_end() {
    for hand_over in [true, false] {
        let awa = AwaWorld::new().await;
        let (interaction, first, consult) = consulted(&awa, false).await;
        end_consult(&awa, &interaction, hand_over).await.unwrap();
        let item = awa.record(&registry::AWA_WORK_ITEM, &consult).await;
        assert_eq!(text(&item, "consult_state"), "cancelled");
        assert_eq!(text(&item, "state"), CANCELLED);
        assert!(!flag(&item, "active"));
        assert!(flag(
            &awa.record(&registry::AWA_WORK_ITEM, &first).await,
            "active"
        ));
        assert_eq!(
            awa.active_members(&interaction).await,
            vec![public(&awa.agents[0].sys_id)]
        );
        // A rejected consult is cancelled too, and leaves nothing to end.
        let target = TransferTarget::Agent(awa.agents[2].sys_id.clone());
        let again = transfer(&awa, &interaction, target, TransferKind::Consult)
            .await
            .unwrap();
        reject(&awa, &awa.agents[2].sys_id, &again.sys_id)
            .await
            .unwrap();
        let item = awa.record(&registry::AWA_WORK_ITEM, &again.sys_id).await;
        assert_eq!(text(&item, "consult_state"), "cancelled");
        assert_eq!(text(&item, "reason"), "transfer_canceled");
        assert_eq!(
            end_consult(&awa, &interaction, hand_over).await,
            Err(Refusal::NoConsult(interaction.clone()))
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The document closed; workloads
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_document_cancels_its_waiting_items_and_ends_its_accepted_ones() {
    let awa = AwaWorld::new().await;
    // Accepted, with a consult pending.
    let (accepted, first, consult) = consulted(&awa, false).await;
    // Pending, and queued.
    let pending = awa.open_in_queue(&awa.queue).await;
    let pending_item = awa.item(&pending).await.sys_id().to_owned();
    offer_item(&awa, &pending_item, &awa.agents[2].sys_id, t0()).await;
    let queued = awa.open_in_queue(&awa.queue).await;
    assert_eq!(
        workloads(&awa, &awa.agents[0].sys_id).await,
        vec![(Some(awa.chat.clone()), 1)]
    );
    for interaction in [&accepted, &pending, &queued] {
        awa.close(interaction).await;
    }
    let first = awa.record(&registry::AWA_WORK_ITEM, &first).await;
    assert!(!flag(&first, "active"));
    assert_eq!(text(&first, "state"), ACCEPTED);
    assert_eq!(text(&first, "reason"), "");
    let consult = awa.record(&registry::AWA_WORK_ITEM, &consult).await;
    assert_eq!(text(&consult, "state"), CANCELLED);
    assert_eq!(text(&consult, "reason"), "disqualified");
    assert_eq!(text(&consult, "consult_state"), "cancelled");
    for interaction in [&pending, &queued] {
        let item = awa.item(interaction).await;
        assert!(!flag(&item, "active"));
        assert_eq!(text(&item, "state"), CANCELLED);
        assert_eq!(text(&item, "reason"), "disqualified");
    }
    for agent in &awa.agent_ids() {
        assert!(workloads(&awa, agent).await.is_empty(), "{agent}");
    }
    // A closed document takes no more work.
    let refused = call!(awa, |tx| awa_work::offer_document(
        tx,
        INTERACTION,
        &queued,
        &awa.queue,
        &offer(&awa.agents[0].sys_id),
        None,
        &awa.caller,
        t0(),
        ACTOR
    ));
    assert_eq!(refused, Err(Refusal::DocumentNotActive));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_sum_pending_and_accepted_sizes_per_channel_past_the_capacity() {
    let awa = AwaWorld::new().await;
    let agent = &awa.agents[0].sys_id;
    // Accepted (size 1), pending (size 3), queued, and one rejected back to its queue.
    accepted_by(&awa, agent).await;
    let pending = awa.open_in_queue(&awa.queue).await;
    let pending_item = awa.item(&pending).await.sys_id().to_owned();
    let mut tx = awa.store().begin().await.unwrap();
    let size: switchboard::model::value::Record =
        [("size", switchboard::model::value::Value::Int(3))]
            .into_iter()
            .collect();
    tx.update(&registry::AWA_WORK_ITEM, &pending_item, &size)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    offer_item(&awa, &pending_item, agent, t0()).await;
    awa.open_in_queue(&awa.queue).await;
    let rejected = awa.open_in_queue(&awa.queue).await;
    let rejected_item = awa.item(&rejected).await.sys_id().to_owned();
    offer_item(&awa, &rejected_item, agent, t0()).await;
    reject(&awa, agent, &rejected_item).await.unwrap();
    // The chat channel's capacity is 2: external routing grows past it.
    assert_eq!(
        workloads(&awa, agent).await,
        vec![(Some(awa.chat.clone()), 4)]
    );
    let mut tx = awa.store().begin().await.unwrap();
    let capacities = switchboard::domain::awa_presence::capacities(&mut tx, agent)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let chat = capacities
        .channels
        .iter()
        .find(|c| c.channel == awa.chat)
        .unwrap();
    assert_eq!((chat.max_capacity, chat.workload), (2, 4));
    assert!(workloads(&awa, &awa.agents[1].sys_id).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------------

const UNKNOWN: &str = "0000000000000000000000000000dead";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_comes_in_the_situation_that_causes_it() {
    let awa = AwaWorld::new().await;
    let now = t0();
    let interaction = awa.open_in_queue(&awa.queue).await;
    let id = awa.item(&interaction).await.sys_id().to_owned();
    let manual = |agent: &str| offer(agent);
    macro_rules! manual {
        ($id:expr, $offer:expr) => {
            call!(awa, |tx| awa_work::offer_work_item(
                tx,
                $id,
                &$offer,
                &awa.caller,
                now,
                ACTOR
            ))
        };
    }
    macro_rules! offer_work {
        ($table:expr, $doc:expr, $queue:expr, $offer:expr) => {
            call!(awa, |tx| awa_work::offer_document(
                tx,
                $table,
                $doc,
                $queue,
                &$offer,
                None,
                &awa.caller,
                now,
                ACTOR
            ))
        };
    }
    // Targets that are not there.
    assert_eq!(
        manual!(UNKNOWN, manual(&awa.agents[0].sys_id)),
        Err(Refusal::NoWorkItem(UNKNOWN.into()))
    );
    assert_eq!(
        accept(&awa, &awa.agents[0].sys_id, UNKNOWN).await,
        Err(Refusal::NoWorkItem(UNKNOWN.into()))
    );
    assert_eq!(
        reject(&awa, &awa.agents[0].sys_id, UNKNOWN).await,
        Err(Refusal::NoWorkItem(UNKNOWN.into()))
    );
    assert_eq!(
        offer_work!(
            "no_such_table",
            &interaction,
            &awa.queue,
            offer(&awa.agents[0].sys_id)
        ),
        Err(Refusal::NoDocument(interaction.clone()))
    );
    assert_eq!(
        offer_work!(
            INTERACTION,
            UNKNOWN,
            &awa.queue,
            offer(&awa.agents[0].sys_id)
        ),
        Err(Refusal::NoDocument(UNKNOWN.into()))
    );
    assert_eq!(
        offer_work!(
            INTERACTION,
            &interaction,
            UNKNOWN,
            offer(&awa.agents[0].sys_id)
        ),
        Err(Refusal::NoQueue(UNKNOWN.into()))
    );
    let routed = call!(awa, |tx| awa_work::route(
        tx,
        UNKNOWN,
        INTERACTION,
        &interaction,
        now,
        ACTOR
    ));
    assert_eq!(routed, Err(Refusal::NoQueue(UNKNOWN.into())));
    let reasons = call!(awa, |tx| awa_work::reject_reasons(tx, UNKNOWN));
    assert_eq!(reasons, Err(Refusal::NoChannel(UNKNOWN.into())));
    let reasons = call!(awa, |tx| awa_work::reject_reasons(tx, &awa.chat)).unwrap();
    // Chat's own (Busy), then every channel's (Not my expertise); not the inactive one.
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0].sys_id, awa.busy);
    assert_eq!(reasons[1].sys_id, awa.not_my_expertise);
    assert_eq!(
        end_consult(&awa, &interaction, true).await,
        Err(Refusal::NoConsult(interaction.clone()))
    );
    let bad_presence = timed_offer(&awa.agents[0].sys_id, now, 30, Some(UNKNOWN));
    assert_eq!(
        manual!(&id, bad_presence),
        Err(Refusal::NoPresenceState(UNKNOWN.into()))
    );

    // Agents that cannot take it.
    assert_eq!(
        manual!(&id, manual(&awa.not_agent)),
        Err(Refusal::NotAnAgent(awa.not_agent.clone()))
    );
    assert_eq!(
        manual!(&id, manual(UNKNOWN)),
        Err(Refusal::NotAnAgent(UNKNOWN.into()))
    );
    assert_eq!(
        offer_work!(
            INTERACTION,
            &interaction,
            &awa.queue,
            offer(&awa.internal_agent)
        ),
        Err(Refusal::NotAnExternalUser)
    );
    assert_eq!(
        manual!(&id, manual(&awa.away_agent)),
        Err(Refusal::AgentNotAvailable)
    );
    // Available, but not on the work item's channel.
    let calls = awa.open_in_queue(&awa.phone_queue).await;
    let call_item = awa.item(&calls).await.sys_id().to_owned();
    assert_eq!(
        manual!(&call_item, manual(&awa.agents[0].sys_id)),
        Err(Refusal::AgentNotAvailable)
    );
    // Manual Assignment does not need awa_external_user.
    assert!(manual!(&id, manual(&awa.internal_agent)).is_ok());

    // The work item's state.
    assert_eq!(
        manual!(&id, manual(&awa.agents[0].sys_id)),
        Err(Refusal::AlreadyAssignedTo(awa.internal_agent.clone()))
    );
    assert_eq!(
        offer_work!(
            INTERACTION,
            &interaction,
            &awa.queue,
            offer(&awa.agents[0].sys_id)
        ),
        Err(Refusal::AlreadyAssignedTo(awa.internal_agent.clone()))
    );
    assert_eq!(
        accept(&awa, &awa.agents[0].sys_id, &id).await,
        Err(Refusal::AssignedToOther)
    );
    assert_eq!(
        reject(&awa, &awa.agents[0].sys_id, &id).await,
        Err(Refusal::AssignedToOther)
    );
    let reject_unknown_user = call!(awa, |tx| awa_work::reject(
        tx, UNKNOWN, &id, &awa.busy, now, ACTOR
    ));
    assert_eq!(reject_unknown_user, Err(Refusal::NoUser(UNKNOWN.into())));
    let reject_unknown_reason = call!(awa, |tx| awa_work::reject(
        tx,
        &awa.internal_agent,
        &id,
        UNKNOWN,
        now,
        ACTOR
    ));
    assert_eq!(
        reject_unknown_reason,
        Err(Refusal::NoRejectReason(UNKNOWN.into()))
    );
    let queued = awa.open_in_queue(&awa.queue).await;
    let queued_item = awa.item(&queued).await.sys_id().to_owned();
    assert_eq!(
        accept(&awa, &awa.agents[0].sys_id, &queued_item).await,
        Err(Refusal::NotPendingAccept)
    );
    assert_eq!(
        reject(&awa, &awa.agents[0].sys_id, &queued_item).await,
        Err(Refusal::NotPendingAccept)
    );
    // An offer the agent may not decline.
    let mut binding = offer(&awa.agents[0].sys_id);
    binding.allowed_to_decline = false;
    manual!(&queued_item, binding).unwrap();
    assert_eq!(
        reject(&awa, &awa.agents[0].sys_id, &queued_item).await,
        Err(Refusal::MayNotDecline)
    );

    // Transfers.
    let (accepted, _) = accepted_by(&awa, &awa.agents[1].sys_id).await;
    let to_away = TransferTarget::Agent(awa.away_agent.clone());
    assert_eq!(
        transfer(&awa, &accepted, to_away.clone(), TransferKind::Blind).await,
        Err(Refusal::BlindTransferFailed)
    );
    assert_eq!(
        transfer(&awa, &accepted, to_away, TransferKind::Consult).await,
        Err(Refusal::AgentNotAvailable)
    );
    let to_internal = TransferTarget::Agent(awa.internal_agent.clone());
    assert_eq!(
        transfer(&awa, &accepted, to_internal, TransferKind::Blind).await,
        Err(Refusal::NotAnExternalUser)
    );
    let to_nobody = TransferTarget::Agent(awa.not_agent.clone());
    assert_eq!(
        transfer(&awa, &accepted, to_nobody, TransferKind::Blind).await,
        Err(Refusal::NotAnAgent(awa.not_agent.clone()))
    );
    let to_no_queue = TransferTarget::Queue(UNKNOWN.into());
    assert_eq!(
        transfer(&awa, &accepted, to_no_queue, TransferKind::Blind).await,
        Err(Refusal::NoQueue(UNKNOWN.into()))
    );
    assert_eq!(
        awa.items(&accepted).await.len(),
        1,
        "refusals wrote nothing"
    );
    let fresh = awa.open_unrouted().await;
    let to_agent = TransferTarget::Agent(awa.agents[2].sys_id.clone());
    assert_eq!(
        transfer(&awa, &fresh, to_agent, TransferKind::Blind).await,
        Err(Refusal::Missing("transfer.source_queue_id".into()))
    );

    // A closed document.
    awa.close(&accepted).await;
    assert_eq!(
        offer_work!(
            INTERACTION,
            &accepted,
            &awa.queue,
            offer(&awa.agents[0].sys_id)
        ),
        Err(Refusal::DocumentNotActive)
    );
    let target = TransferTarget::Queue(awa.queue.clone());
    assert_eq!(
        transfer(&awa, &accepted, target, TransferKind::Blind).await,
        Err(Refusal::DocumentNotActive)
    );
    let routed = call!(awa, |tx| awa_work::route(
        tx,
        &awa.queue,
        INTERACTION,
        &accepted,
        now,
        ACTOR
    ));
    assert_eq!(routed, Err(Refusal::DocumentNotActive));
}
