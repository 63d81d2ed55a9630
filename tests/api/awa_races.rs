//! Races on one work item, through the domain: two calls released together, each in its own
//! transaction (its own `store.begin()`), many rounds. Whatever the interleaving, the outcome is
//! one a serial order of the two calls gives: exactly one winner, the loser refused as it would
//! be after the winner (never a storage error, which the API would answer with a 500), and
//! never two members or two active work items. Each race runs on one node (SQLite, and one
//! PostgreSQL node in the PostgreSQL pass) and on two PostgreSQL nodes, one side per node.
//!
//! On PostgreSQL a transaction can lose a deadlock or a serialization check: the database rolls
//! it back whole and the storage error is `Conflict`. The HTTP layer replays such a request
//! (`http::replay`); here each side does the same, running its call again in a new transaction
//! after a short random wait, at most [`RETRIES`] more times. A conflict is the only error
//! retried; any other fails the test, as does a conflict lost on every attempt.

use std::sync::Arc;
use std::time::Duration;

use switchboard::domain::RecordError;
use switchboard::domain::awa_work::{
    self, ACCEPTED, CANCELLED, Offer, PENDING_ACCEPT, QUEUED, Refusal, Transfer, TransferKind,
    TransferTarget,
};
use switchboard::model::registry;
use switchboard::storage::Storage;
use time::OffsetDateTime;
use tokio::sync::Barrier;

use crate::helpers::awa::{ACTOR, AwaWorld, flag, int, offer, t0, text, timed_offer, where_eq};
use crate::helpers::{TestApp, assert_postgres_pass};

/// Races per test.
const ROUNDS: usize = 12;
/// Attempts after the first when a call loses a conflict (as `http::replay`).
const RETRIES: u32 = 4;

const INTERACTION: &str = "interaction";

/// One side of a race.
#[derive(Debug, Clone)]
enum Call {
    /// Manual Assignment of a work item.
    Offer {
        item: String,
        agent: String,
    },
    /// Offer Work of a document in the fixture's queue.
    OfferDocument {
        document: String,
        agent: String,
    },
    Accept {
        item: String,
        agent: String,
    },
    Reject {
        item: String,
        agent: String,
    },
    /// A pass of the offer sweeper.
    Expire,
    /// The Interaction Management API's close.
    Close {
        interaction: String,
    },
    /// Offer Work's transfer of the document to the terms' agent.
    Transfer {
        document: String,
        kind: TransferKind,
        terms: Offer,
    },
    /// Agent Consult's end of the document's consult.
    EndConsult {
        document: String,
        hand_over: bool,
    },
}

/// What a call that was not refused did.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Done {
    /// Offered: the work item's sys_id.
    Offered(String),
    Accepted,
    Rejected,
    /// A sweeper pass: how many offers it cancelled.
    Expired(usize),
    Closed,
    /// Transferred: the new work item's sys_id.
    Transferred(String),
    ConsultEnded,
}

/// A side's answer and how many conflicts it lost first.
type Answer = (Result<Done, Refusal>, u32);

/// The fixture, and the store each side of a race uses: the same node twice, or two nodes.
struct Race {
    awa: AwaWorld,
    stores: [Arc<dyn Storage>; 2],
    /// The second node, kept running.
    _other: Option<TestApp>,
}

impl Race {
    async fn new(two_nodes: bool) -> Race {
        let awa = AwaWorld::new().await;
        let first = awa.app.state.store.clone();
        let other = match two_nodes {
            true => Some(awa.app.another_node(|_| {}).await),
            false => None,
        };
        let second = other
            .as_ref()
            .map_or(first.clone(), |o| o.state.store.clone());
        Race {
            awa,
            stores: [first, second],
            _other: other,
        }
    }

    /// A new interaction in the queue, and its queued work item.
    async fn queued(&self) -> (String, String) {
        let interaction = self.awa.open_in_queue(&self.awa.queue).await;
        let item = self.awa.item(&interaction).await.sys_id().to_owned();
        (interaction, item)
    }

    /// Runs the two calls at once, `calls[i]` on `stores[i]`, each on a task of its own
    /// released by a barrier; both at `now`.
    async fn race(&self, calls: [Call; 2], now: OffsetDateTime) -> [Answer; 2] {
        let barrier = Arc::new(Barrier::new(2));
        let mut tasks = Vec::new();
        for (store, call) in self.stores.iter().cloned().zip(calls) {
            let (barrier, context) = (barrier.clone(), self.context(now));
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                run(&*store, &call, &context).await
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.expect("a side of the race"));
        }
        [answers[0].clone(), answers[1].clone()]
    }

    /// The document's active work items.
    async fn active_items(&self, document: &str) -> usize {
        let items = self.awa.items(document).await;
        items.iter().filter(|i| flag(i, "active")).count()
    }

    async fn rejections(&self, item: &str) -> usize {
        let table = &registry::AWA_WORK_ITEM_REJECTION;
        where_eq(self.awa.store(), table, "work_item", item)
            .await
            .len()
    }
}

/// What the calls need besides their own arguments.
struct Context {
    caller: String,
    queue: String,
    reason: String,
    now: OffsetDateTime,
}

/// The call once, in a transaction of its own: committed when it succeeds, rolled back when
/// refused (as the API layer does).
async fn attempt(
    store: &dyn Storage,
    call: &Call,
    c: &Context,
) -> Result<Result<Done, Refusal>, RecordError> {
    if let Call::Expire = call {
        return Ok(Ok(Done::Expired(
            awa_work::expire_offers(store, c.now).await?,
        )));
    }
    let mut transaction = store.begin().await?;
    let tx = &mut transaction;
    let outcome = match call {
        Call::Offer { item, agent } => {
            awa_work::offer_work_item(tx, item, &offer(agent), &c.caller, c.now, ACTOR)
                .await?
                .map(|s| Done::Offered(s.sys_id))
        }
        Call::OfferDocument { document, agent } => awa_work::offer_document(
            tx,
            INTERACTION,
            document,
            &c.queue,
            &offer(agent),
            None,
            &c.caller,
            c.now,
            ACTOR,
        )
        .await?
        .map(|s| Done::Offered(s.sys_id)),
        Call::Accept { item, agent } => awa_work::accept(tx, agent, item, c.now, ACTOR)
            .await?
            .map(|_| Done::Accepted),
        Call::Reject { item, agent } => awa_work::reject(tx, agent, item, &c.reason, c.now, ACTOR)
            .await?
            .map(|()| Done::Rejected),
        Call::Close { interaction } => {
            switchboard::domain::interactions::close(tx, interaction, &c.caller, ACTOR).await?;
            Ok(Done::Closed)
        }
        Call::Transfer {
            document,
            kind,
            terms,
        } => {
            let request = Transfer {
                source_queue: None,
                target: TransferTarget::Agent(terms.agent.clone()),
                kind: *kind,
                terms: terms.clone(),
                external_segment_id: None,
            };
            awa_work::transfer(tx, INTERACTION, document, &request, &c.caller, c.now, ACTOR)
                .await?
                .map(|s| Done::Transferred(s.sys_id))
        }
        Call::EndConsult {
            document,
            hand_over,
        } => awa_work::end_consult(tx, document, *hand_over, c.now, ACTOR)
            .await?
            .map(|()| Done::ConsultEnded),
        Call::Expire => unreachable!("handled above"),
    };
    if outcome.is_ok() {
        transaction.commit().await?;
    }
    Ok(outcome)
}

/// The call, run again while it loses a conflict (see the module's notes).
async fn run(store: &dyn Storage, call: &Call, c: &Context) -> Answer {
    for lost in 0..=RETRIES {
        // A conflict at commit is caught like one before it.
        match attempt(store, call, c).await {
            Ok(answer) => return (answer, lost),
            Err(RecordError::Storage(e)) if e.is_conflict() => {
                let wait = 5u64 << lost;
                let jitter = rand_millis(wait);
                tokio::time::sleep(Duration::from_millis(wait + jitter)).await;
            }
            Err(e) => panic!("{call:?} failed with a storage error (a 500): {e}"),
        }
    }
    panic!(
        "{call:?} lost a conflict on every one of {} attempts",
        RETRIES + 1
    )
}

/// A pseudo-random wait up to `max` ms, so the sides that collided do not collide in step.
fn rand_millis(max: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    nanos % (max + 1)
}

/// Which side won, given that exactly one did.
fn winner(round: usize, answers: &[Answer; 2]) -> usize {
    let won: Vec<usize> = (0..2).filter(|i| answers[*i].0.is_ok()).collect();
    assert_eq!(won.len(), 1, "round {round}: not one winner: {answers:?}");
    won[0]
}

/// Conflicts the sides lost over the rounds, for the test's output.
fn report(test: &str, conflicts: u32, wins: [usize; 2]) {
    eprintln!("{test}: side wins {wins:?}, conflicts lost and replayed: {conflicts}");
}

// ---------------------------------------------------------------------------------------------
// Two offers of one work item to two agents
// ---------------------------------------------------------------------------------------------

async fn two_offers_of_one_item(two_nodes: bool) {
    let r = Race::new(two_nodes).await;
    let agents = r.awa.agent_ids();
    let (mut conflicts, mut wins) = (0, [0, 0]);
    for round in 0..ROUNDS {
        let (_, item) = r.queued().await;
        let calls = [0, 1].map(|i| Call::Offer {
            item: item.clone(),
            agent: agents[i].clone(),
        });
        let answers = r.race(calls, t0()).await;
        let w = winner(round, &answers);
        assert_eq!(answers[w].0, Ok(Done::Offered(item.clone())));
        assert_eq!(
            answers[1 - w].0,
            Err(Refusal::AlreadyAssignedTo(agents[w].clone())),
            "round {round}"
        );
        let stored = r.awa.record(&registry::AWA_WORK_ITEM, &item).await;
        assert_eq!(text(&stored, "state"), PENDING_ACCEPT);
        assert_eq!(text(&stored, "assigned_to"), agents[w], "round {round}");
        assert_eq!(int(&stored, "offer_count"), 1, "round {round}");
        conflicts += answers[0].1 + answers[1].1;
        wins[w] += 1;
    }
    report("two offers", conflicts, wins);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_offers_of_one_work_item_offer_it_once() {
    two_offers_of_one_item(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn two_offers_of_one_work_item_on_two_nodes_offer_it_once() {
    assert_postgres_pass();
    two_offers_of_one_item(true).await;
}

// ---------------------------------------------------------------------------------------------
// Accept against reject
// ---------------------------------------------------------------------------------------------

async fn accept_against_reject(two_nodes: bool) {
    let r = Race::new(two_nodes).await;
    let agent = r.awa.agents[0].sys_id.clone();
    let (mut conflicts, mut wins) = (0, [0, 0]);
    for round in 0..ROUNDS {
        let (interaction, item) = r.queued().await;
        let offered = r.race_free_offer(&item, &agent).await;
        assert!(offered, "round {round}");
        // Alternate which node accepts.
        let (accept, reject) = (
            Call::Accept {
                item: item.clone(),
                agent: agent.clone(),
            },
            Call::Reject {
                item: item.clone(),
                agent: agent.clone(),
            },
        );
        let flip = round % 2 == 1;
        let calls = if flip {
            [reject, accept]
        } else {
            [accept, reject]
        };
        let mut answers = r.race(calls, t0()).await;
        if flip {
            answers.swap(0, 1);
        }
        let w = winner(round, &answers);
        assert_eq!(
            answers[1 - w].0,
            Err(Refusal::NotPendingAccept),
            "round {round}"
        );
        let stored = r.awa.record(&registry::AWA_WORK_ITEM, &item).await;
        let members = r.awa.active_members(&interaction).await;
        if w == 0 {
            assert_eq!(answers[0].0, Ok(Done::Accepted));
            assert_eq!(text(&stored, "state"), ACCEPTED, "round {round}");
            assert_eq!(members, vec![(agent.clone(), "public_fulfiller".into())]);
            assert_eq!(r.rejections(&item).await, 0, "round {round}");
        } else {
            assert_eq!(answers[1].0, Ok(Done::Rejected));
            assert_eq!(text(&stored, "state"), QUEUED, "round {round}");
            assert_eq!(text(&stored, "assigned_to"), "", "round {round}");
            assert!(flag(&stored, "rejected"));
            assert!(members.is_empty(), "round {round}: {members:?}");
            assert_eq!(r.rejections(&item).await, 1, "round {round}");
        }
        assert_eq!(r.active_items(&interaction).await, 1, "round {round}");
        conflicts += answers[0].1 + answers[1].1;
        wins[w] += 1;
    }
    report("accept against reject (accept, reject)", conflicts, wins);
}

impl Race {
    /// Offers the item to the agent outside any race (asserting it was offered).
    async fn race_free_offer(&self, item: &str, agent: &str) -> bool {
        let call = Call::Offer {
            item: item.to_owned(),
            agent: agent.to_owned(),
        };
        let context = self.context(t0());
        let (answer, _) = run(self.awa.store(), &call, &context).await;
        answer == Ok(Done::Offered(item.to_owned()))
    }

    fn context(&self, now: OffsetDateTime) -> Context {
        Context {
            caller: self.awa.caller.clone(),
            queue: self.awa.queue.clone(),
            reason: self.awa.busy.clone(),
            now,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_racing_reject_ends_one_way() {
    accept_against_reject(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn accept_racing_reject_on_two_nodes_ends_one_way() {
    assert_postgres_pass();
    accept_against_reject(true).await;
}

// ---------------------------------------------------------------------------------------------
// Accept against the offer's timeout
// ---------------------------------------------------------------------------------------------

async fn accept_against_expiry(two_nodes: bool) {
    let r = Race::new(two_nodes).await;
    let awa = &r.awa;
    let agent = awa.agents[0].sys_id.clone();
    let (mut conflicts, mut wins) = (0, [0, 0]);
    for round in 0..ROUNDS {
        let (interaction, item) = r.queued().await;
        let now = t0();
        let terms = timed_offer(&agent, now, 5, Some(&awa.away));
        let mut tx = awa.store().begin().await.unwrap();
        awa_work::offer_work_item(&mut tx, &item, &terms, &awa.caller, now, ACTOR)
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
        let due = now + time::Duration::seconds(5);
        let calls = [
            Call::Accept {
                item: item.clone(),
                agent: agent.clone(),
            },
            Call::Expire,
        ];
        let calls = if round % 2 == 1 {
            let [a, b] = calls;
            [b, a]
        } else {
            calls
        };
        let mut answers = r.race(calls, due).await;
        if round % 2 == 1 {
            answers.swap(0, 1);
        }
        let stored = r.awa.record(&registry::AWA_WORK_ITEM, &item).await;
        let members = awa.active_members(&interaction).await;
        let presence = awa.presence_of(&agent).await;
        match (&answers[0].0, &answers[1].0) {
            (Ok(Done::Accepted), Ok(Done::Expired(0))) => {
                assert_eq!(text(&stored, "state"), ACCEPTED, "round {round}");
                assert!(!flag(&stored, "timed_out"));
                assert_eq!(members, vec![(agent.clone(), "public_fulfiller".into())]);
                assert_eq!(presence, awa.available, "round {round}");
                wins[0] += 1;
            }
            (Err(Refusal::NotPendingAccept), Ok(Done::Expired(1))) => {
                assert_eq!(text(&stored, "state"), CANCELLED, "round {round}");
                assert_eq!(text(&stored, "reason"), "time_out");
                assert!(flag(&stored, "timed_out"));
                assert!(!flag(&stored, "active"));
                assert!(members.is_empty(), "round {round}: {members:?}");
                assert_eq!(presence, awa.away, "round {round}");
                awa.make_available(&agent).await;
                wins[1] += 1;
            }
            other => panic!("round {round}: no serial order answers {other:?}"),
        }
        conflicts += answers[0].1 + answers[1].1;
    }
    report("accept against expiry (accept, sweeper)", conflicts, wins);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_racing_the_timeout_ends_one_way() {
    accept_against_expiry(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn accept_racing_the_timeout_on_two_nodes_ends_one_way() {
    assert_postgres_pass();
    accept_against_expiry(true).await;
}

// ---------------------------------------------------------------------------------------------
// Two agents accepting one offer
// ---------------------------------------------------------------------------------------------

async fn two_accepts(two_nodes: bool) {
    let r = Race::new(two_nodes).await;
    let agents = r.awa.agent_ids();
    let (mut conflicts, mut orders) = (0, [0, 0]);
    for round in 0..ROUNDS {
        let (interaction, item) = r.queued().await;
        // Offered to agents[round % 2]; both accept at once, on alternating nodes.
        let holder = round % 2;
        assert!(r.race_free_offer(&item, &agents[holder]).await);
        let calls = [0, 1].map(|i| Call::Accept {
            item: item.clone(),
            agent: agents[i].clone(),
        });
        let answers = r.race(calls, t0()).await;
        let w = winner(round, &answers);
        assert_eq!(w, holder, "round {round}: {answers:?}");
        assert_eq!(answers[w].0, Ok(Done::Accepted));
        // The other agent's accept, serially, came first (the offer is another's) or after
        // (the item is accepted): either refusal, nothing else.
        match &answers[1 - w].0 {
            Err(Refusal::AssignedToOther) => orders[0] += 1,
            Err(Refusal::NotPendingAccept) => orders[1] += 1,
            other => panic!("round {round}: the other agent's accept answered {other:?}"),
        }
        let stored = r.awa.record(&registry::AWA_WORK_ITEM, &item).await;
        assert_eq!(text(&stored, "state"), ACCEPTED);
        assert_eq!(text(&stored, "assigned_to"), agents[holder]);
        assert_eq!(
            r.awa.active_members(&interaction).await,
            vec![(agents[holder].clone(), "public_fulfiller".into())],
            "round {round}"
        );
        let document = r.awa.record(&registry::INTERACTION, &interaction).await;
        assert_eq!(text(&document, "assigned_to"), agents[holder]);
        conflicts += answers[0].1 + answers[1].1;
    }
    report(
        "two accepts (the other agent's first, the holder's first)",
        conflicts,
        orders,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_accepting_one_offer_leave_it_with_its_agent() {
    two_accepts(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn two_agents_accepting_one_offer_on_two_nodes_leave_it_with_its_agent() {
    assert_postgres_pass();
    two_accepts(true).await;
}

// ---------------------------------------------------------------------------------------------
// Offer Work twice for a document without a work item
// ---------------------------------------------------------------------------------------------

async fn two_document_offers(two_nodes: bool) {
    let r = Race::new(two_nodes).await;
    let agents = r.awa.agent_ids();
    let (mut conflicts, mut wins) = (0, [0, 0]);
    for round in 0..ROUNDS {
        let document = r.awa.open_unrouted().await;
        assert!(r.awa.items(&document).await.is_empty());
        let calls = [0, 1].map(|i| Call::OfferDocument {
            document: document.clone(),
            agent: agents[i].clone(),
        });
        let answers = r.race(calls, t0()).await;
        let w = winner(round, &answers);
        assert_eq!(
            answers[1 - w].0,
            Err(Refusal::AlreadyAssignedTo(agents[w].clone())),
            "round {round}"
        );
        let items = r.awa.items(&document).await;
        assert_eq!(items.len(), 1, "round {round}: one work item, not two");
        assert_eq!(
            answers[w].0,
            Ok(Done::Offered(items[0].sys_id().to_owned()))
        );
        assert_eq!(text(&items[0], "assigned_to"), agents[w]);
        assert_eq!(text(&items[0], "state"), PENDING_ACCEPT);
        assert_eq!(int(&items[0], "offer_count"), 1);
        conflicts += answers[0].1 + answers[1].1;
        wins[w] += 1;
    }
    report("two document offers", conflicts, wins);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offer_work_twice_for_a_document_without_a_work_item_makes_one() {
    two_document_offers(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn offer_work_twice_for_a_document_without_a_work_item_on_two_nodes_makes_one() {
    assert_postgres_pass();
    two_document_offers(true).await;
}

// ---------------------------------------------------------------------------------------------
// Accept against Offer Work of the same document
// ---------------------------------------------------------------------------------------------

/// The agent accepts its offer while Offer Work offers the document to another agent. Serially
/// the accept always succeeds; Offer Work finds the item offered (before the accept) or
/// accepted (after it). Offer Work reads the document before it takes the document's lock, and
/// the accept writes the document under that lock: the two must not wait for each other.
async fn accept_against_offer_work(two_nodes: bool) {
    let r = Race::new(two_nodes).await;
    let agents = r.awa.agent_ids();
    let (mut conflicts, mut orders) = (0, [0, 0]);
    for round in 0..ROUNDS {
        let (interaction, item) = r.queued().await;
        assert!(r.race_free_offer(&item, &agents[0]).await);
        let accept = Call::Accept {
            item: item.clone(),
            agent: agents[0].clone(),
        };
        let offer_work = Call::OfferDocument {
            document: interaction.clone(),
            agent: agents[1].clone(),
        };
        let flip = round % 2 == 1;
        let calls = if flip {
            [offer_work, accept]
        } else {
            [accept, offer_work]
        };
        let mut answers = r.race(calls, t0()).await;
        if flip {
            answers.swap(0, 1);
        }
        assert_eq!(answers[0].0, Ok(Done::Accepted), "round {round}");
        match &answers[1].0 {
            Err(Refusal::AlreadyAssignedTo(holder)) if *holder == agents[0] => orders[0] += 1,
            Err(Refusal::AcceptedCannotBeAssigned) => orders[1] += 1,
            other => panic!("round {round}: Offer Work answered {other:?}"),
        }
        let stored = r.awa.record(&registry::AWA_WORK_ITEM, &item).await;
        assert_eq!(text(&stored, "state"), ACCEPTED);
        assert_eq!(text(&stored, "assigned_to"), agents[0]);
        assert_eq!(r.active_items(&interaction).await, 1, "round {round}");
        assert_eq!(
            r.awa.active_members(&interaction).await,
            vec![(agents[0].clone(), "public_fulfiller".into())]
        );
        conflicts += answers[0].1 + answers[1].1;
    }
    report(
        "accept against Offer Work (Offer Work first, accept first)",
        conflicts,
        orders,
    );
    assert_eq!(conflicts, 0, "no deadlock between an accept and Offer Work");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_racing_offer_work_of_its_document_ends_one_way() {
    accept_against_offer_work(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn accept_racing_offer_work_of_its_document_on_two_nodes_ends_one_way() {
    assert_postgres_pass();
    accept_against_offer_work(true).await;
}

// ---------------------------------------------------------------------------------------------
// Accept against the document's close
// ---------------------------------------------------------------------------------------------

/// The agent accepts its offer while the interaction is closed. Serially: accepted, then ended
/// by the close (inactive, still accepted); or cancelled by the close (disqualified), and the
/// accept refused. The close locks the interaction and then the document's lock; the accept
/// takes the document's lock and then writes the interaction: they must not deadlock.
async fn accept_against_close(two_nodes: bool) {
    let r = Race::new(two_nodes).await;
    let agent = r.awa.agents[0].sys_id.clone();
    let (mut conflicts, mut orders) = (0, [0, 0]);
    for round in 0..ROUNDS {
        let (interaction, item) = r.queued().await;
        assert!(r.race_free_offer(&item, &agent).await);
        let accept = Call::Accept {
            item: item.clone(),
            agent: agent.clone(),
        };
        let close = Call::Close {
            interaction: interaction.clone(),
        };
        let flip = round % 2 == 1;
        let calls = if flip {
            [close, accept]
        } else {
            [accept, close]
        };
        let mut answers = r.race(calls, t0()).await;
        if flip {
            answers.swap(0, 1);
        }
        assert_eq!(answers[1].0, Ok(Done::Closed), "round {round}");
        let stored = r.awa.record(&registry::AWA_WORK_ITEM, &item).await;
        assert!(!flag(&stored, "active"), "round {round}");
        match &answers[0].0 {
            Ok(Done::Accepted) => {
                assert_eq!(text(&stored, "state"), ACCEPTED, "round {round}");
                orders[0] += 1;
            }
            Err(Refusal::NotPendingAccept) => {
                assert_eq!(text(&stored, "state"), CANCELLED, "round {round}");
                assert_eq!(text(&stored, "reason"), "disqualified");
                assert!(r.awa.active_members(&interaction).await.is_empty());
                orders[1] += 1;
            }
            other => panic!("round {round}: the accept answered {other:?}"),
        }
        conflicts += answers[0].1 + answers[1].1;
    }
    report(
        "accept against close (accept first, close first)",
        conflicts,
        orders,
    );
    assert_eq!(conflicts, 0, "no deadlock between an accept and a close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_racing_the_documents_close_ends_one_way() {
    accept_against_close(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn accept_racing_the_documents_close_on_two_nodes_ends_one_way() {
    assert_postgres_pass();
    accept_against_close(true).await;
}

// ---------------------------------------------------------------------------------------------
// Transfers and consults: the fixtures
// ---------------------------------------------------------------------------------------------

impl Race {
    /// Runs the call outside any race at `now`, asserting it was not refused.
    async fn setup(&self, call: Call, now: OffsetDateTime) -> Done {
        let (answer, _) = run(self.awa.store(), &call, &self.context(now)).await;
        answer.unwrap_or_else(|refusal| panic!("{call:?} was refused: {refusal:?}"))
    }

    /// A new interaction whose work item `agent` has accepted: (interaction, item).
    async fn accepted_by(&self, agent: &str) -> (String, String) {
        let (interaction, item) = self.queued().await;
        assert!(self.race_free_offer(&item, agent).await);
        let accept = Call::Accept {
            item: item.clone(),
            agent: agent.to_owned(),
        };
        assert_eq!(self.setup(accept, t0()).await, Done::Accepted);
        (interaction, item)
    }

    /// The document transferred to the terms' agent outside any race, at `now`: the new item.
    async fn transferred(
        &self,
        document: &str,
        kind: TransferKind,
        terms: Offer,
        now: OffsetDateTime,
    ) -> String {
        let call = Call::Transfer {
            document: document.to_owned(),
            kind,
            terms,
        };
        match self.setup(call, now).await {
            Done::Transferred(item) => item,
            other => panic!("the transfer answered {other:?}"),
        }
    }

    /// A new interaction whose work item the first agent has accepted, and a consult of the
    /// second agent it has accepted: (interaction, the first item, the consult item).
    async fn consulting(&self) -> (String, String, String) {
        let agents = self.awa.agent_ids();
        let (interaction, first) = self.accepted_by(&agents[0]).await;
        let terms = offer(&agents[1]);
        let consult = self
            .transferred(&interaction, TransferKind::Consult, terms, t0())
            .await;
        let accept = Call::Accept {
            item: consult.clone(),
            agent: agents[1].clone(),
        };
        assert_eq!(self.setup(accept, t0()).await, Done::Accepted);
        (interaction, first, consult)
    }
}

fn public(agent: &str) -> (String, String) {
    (agent.to_owned(), "public_fulfiller".to_owned())
}

fn private(agent: &str) -> (String, String) {
    (agent.to_owned(), "private_fulfiller".to_owned())
}

/// Members as `active_members` lists them.
fn sorted(mut members: Vec<(String, String)>) -> Vec<(String, String)> {
    members.sort();
    members
}

/// The calls in the order the round runs them: swapped on odd rounds, so each side starts
/// every other round. [`unflip`] puts the answers back.
fn flip(round: usize, calls: [Call; 2]) -> [Call; 2] {
    let [a, b] = calls;
    if round % 2 == 1 { [b, a] } else { [a, b] }
}

fn unflip(round: usize, mut answers: [Answer; 2]) -> [Answer; 2] {
    if round % 2 == 1 {
        answers.swap(0, 1);
    }
    answers
}

// ---------------------------------------------------------------------------------------------
// A consult handed over against the document's close
// ---------------------------------------------------------------------------------------------

/// The consulted agent takes the work while the interaction is closed. Serially the close
/// always succeeds: after the hand-over (which it ends: the consult item, now the work, and the
/// first item both accepted and inactive) or before it (the hand-over finds no active consult).
async fn hand_over_against_close(two_nodes: bool) {
    let r = Race::new(two_nodes).await;
    let agents = r.awa.agent_ids();
    let (mut conflicts, mut orders) = (0, [0, 0]);
    for round in 0..ROUNDS {
        let (interaction, first, consult) = r.consulting().await;
        let calls = [
            Call::EndConsult {
                document: interaction.clone(),
                hand_over: true,
            },
            Call::Close {
                interaction: interaction.clone(),
            },
        ];
        let answers = unflip(round, r.race(flip(round, calls), t0()).await);
        assert_eq!(answers[1].0, Ok(Done::Closed), "round {round}");
        let document = r.awa.record(&registry::INTERACTION, &interaction).await;
        assert!(!flag(&document, "active"), "round {round}");
        let stored = r.awa.record(&registry::AWA_WORK_ITEM, &consult).await;
        let previous = r.awa.record(&registry::AWA_WORK_ITEM, &first).await;
        for item in [&stored, &previous] {
            assert!(!flag(item, "active"), "round {round}: {item:?}");
            assert_eq!(text(item, "state"), ACCEPTED, "round {round}");
        }
        // Handed over first, the consult is the document's work and stays `transferred`
        // when the document closes; closed first, the consult in progress ends with it.
        let consult_state = match &answers[0].0 {
            Ok(Done::ConsultEnded) => "transferred",
            _ => "ended",
        };
        assert_eq!(
            text(&stored, "consult_state"),
            consult_state,
            "round {round}"
        );
        assert_eq!(r.active_items(&interaction).await, 0, "round {round}");
        let members = r.awa.active_members(&interaction).await;
        match &answers[0].0 {
            Ok(Done::ConsultEnded) => {
                assert_eq!(text(&document, "assigned_to"), agents[1], "round {round}");
                assert_eq!(members, vec![public(&agents[1])], "round {round}");
                orders[0] += 1;
            }
            Err(Refusal::NoConsult(d)) if *d == interaction => {
                assert_eq!(text(&document, "assigned_to"), agents[0], "round {round}");
                let both = sorted(vec![public(&agents[0]), private(&agents[1])]);
                assert_eq!(members, both, "round {round}");
                orders[1] += 1;
            }
            other => panic!("round {round}: the hand-over answered {other:?}"),
        }
        conflicts += answers[0].1 + answers[1].1;
    }
    report(
        "consult hand-over against close (hand-over first, close first)",
        conflicts,
        orders,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consult_handed_over_racing_the_documents_close_ends_one_way() {
    hand_over_against_close(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn a_consult_handed_over_racing_the_documents_close_on_two_nodes_ends_one_way() {
    assert_postgres_pass();
    hand_over_against_close(true).await;
}

// ---------------------------------------------------------------------------------------------
// Two blind transfers of one document to two agents
// ---------------------------------------------------------------------------------------------

/// The first agent's document is blind-transferred to the second and the third agent at once.
/// Serially the first transfer offers a new item; the second finds that pending transfer as
/// the document's work and is refused as a second offer of a pending item is: one new item,
/// never two.
async fn two_blind_transfers(two_nodes: bool) {
    let r = Race::new(two_nodes).await;
    let agents = r.awa.agent_ids();
    let (mut conflicts, mut wins) = (0, [0, 0]);
    for round in 0..ROUNDS {
        let (interaction, first) = r.accepted_by(&agents[0]).await;
        // Which side transfers to which agent alternates.
        let targets = [0, 1].map(|i| agents[1 + (i + round) % 2].clone());
        let calls = targets.clone().map(|agent| Call::Transfer {
            document: interaction.clone(),
            kind: TransferKind::Blind,
            terms: offer(&agent),
        });
        let answers = r.race(calls, t0()).await;
        let w = winner(round, &answers);
        assert_eq!(
            answers[1 - w].0,
            Err(Refusal::AlreadyAssignedTo(targets[w].clone())),
            "round {round}"
        );
        let Ok(Done::Transferred(moved)) = &answers[w].0 else {
            panic!("round {round}: the transfer answered {:?}", answers[w]);
        };
        let items = r.awa.items(&interaction).await;
        assert_eq!(items.len(), 2, "round {round}: one new item, not two");
        let moved = r.awa.record(&registry::AWA_WORK_ITEM, moved).await;
        assert_eq!(text(&moved, "state"), PENDING_ACCEPT, "round {round}");
        assert_eq!(text(&moved, "assigned_to"), targets[w], "round {round}");
        assert_eq!(text(&moved, "previous_work_item"), first);
        assert_eq!(text(&moved, "transfer_type"), "blind");
        assert_eq!(int(&moved, "offer_count"), 1);
        let previous = r.awa.record(&registry::AWA_WORK_ITEM, &first).await;
        assert!(flag(&previous, "active"), "round {round}");
        assert_eq!(text(&previous, "state"), ACCEPTED);
        let document = r.awa.record(&registry::INTERACTION, &interaction).await;
        assert_eq!(text(&document, "assigned_to"), agents[0], "round {round}");
        assert_eq!(
            r.awa.active_members(&interaction).await,
            vec![public(&agents[0])],
            "round {round}"
        );
        conflicts += answers[0].1 + answers[1].1;
        wins[w] += 1;
    }
    report("two blind transfers", conflicts, wins);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_blind_transfers_of_one_document_offer_one_new_item() {
    two_blind_transfers(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn two_blind_transfers_of_one_document_on_two_nodes_offer_one_new_item() {
    assert_postgres_pass();
    two_blind_transfers(true).await;
}

// ---------------------------------------------------------------------------------------------
// Accepting a blind transfer against its timeout
// ---------------------------------------------------------------------------------------------

/// The target accepts a blind transfer's offer as it times out. Serially: accepted (the work
/// moves: the previous item ends, its agent leaves) and nothing to expire; or cancelled as a
/// transfer (the work stays with the first agent; the target goes Away) and the accept refused.
async fn accept_transfer_against_expiry(two_nodes: bool) {
    let r = Race::new(two_nodes).await;
    let awa = &r.awa;
    let agents = awa.agent_ids();
    let (mut conflicts, mut wins) = (0, [0, 0]);
    for round in 0..ROUNDS {
        let (interaction, first) = r.accepted_by(&agents[0]).await;
        let now = t0();
        let terms = timed_offer(&agents[1], now, 5, Some(&awa.away));
        let moved = r
            .transferred(&interaction, TransferKind::Blind, terms, now)
            .await;
        let due = now + time::Duration::seconds(5);
        let calls = [
            Call::Accept {
                item: moved.clone(),
                agent: agents[1].clone(),
            },
            Call::Expire,
        ];
        let answers = unflip(round, r.race(flip(round, calls), due).await);
        let stored = awa.record(&registry::AWA_WORK_ITEM, &moved).await;
        let previous = awa.record(&registry::AWA_WORK_ITEM, &first).await;
        let document = awa.record(&registry::INTERACTION, &interaction).await;
        let members = awa.active_members(&interaction).await;
        let presence = awa.presence_of(&agents[1]).await;
        match (&answers[0].0, &answers[1].0) {
            (Ok(Done::Accepted), Ok(Done::Expired(0))) => {
                assert_eq!(text(&stored, "state"), ACCEPTED, "round {round}");
                assert!(flag(&stored, "active") && !flag(&stored, "timed_out"));
                assert!(!flag(&previous, "active"), "round {round}");
                assert_eq!(text(&previous, "state"), ACCEPTED);
                assert_eq!(text(&document, "assigned_to"), agents[1]);
                assert_eq!(members, vec![public(&agents[1])], "round {round}");
                assert_eq!(presence, awa.available, "round {round}");
                wins[0] += 1;
            }
            (Err(Refusal::NotPendingAccept), Ok(Done::Expired(1))) => {
                assert_eq!(text(&stored, "state"), CANCELLED, "round {round}");
                assert_eq!(text(&stored, "reason"), "transfer_canceled");
                assert!(flag(&stored, "timed_out") && !flag(&stored, "active"));
                assert!(flag(&previous, "active"), "round {round}");
                assert_eq!(text(&previous, "state"), ACCEPTED);
                assert_eq!(text(&document, "assigned_to"), agents[0]);
                assert_eq!(members, vec![public(&agents[0])], "round {round}");
                assert_eq!(presence, awa.away, "round {round}");
                awa.make_available(&agents[1]).await;
                wins[1] += 1;
            }
            other => panic!("round {round}: no serial order answers {other:?}"),
        }
        assert_eq!(r.active_items(&interaction).await, 1, "round {round}");
        conflicts += answers[0].1 + answers[1].1;
    }
    report(
        "accept a blind transfer against expiry (accept, sweeper)",
        conflicts,
        wins,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_a_blind_transfer_racing_its_timeout_ends_one_way() {
    accept_transfer_against_expiry(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn accepting_a_blind_transfer_racing_its_timeout_on_two_nodes_ends_one_way() {
    assert_postgres_pass();
    accept_transfer_against_expiry(true).await;
}

// ---------------------------------------------------------------------------------------------
// A consult handed over against the same consult ended
// ---------------------------------------------------------------------------------------------

/// Agent Consult's end, with and without hand-over, of one accepted consult. Serially one ends
/// it; the other finds no consult in progress.
async fn hand_over_against_end(two_nodes: bool) {
    let r = Race::new(two_nodes).await;
    let agents = r.awa.agent_ids();
    let (mut conflicts, mut wins) = (0, [0, 0]);
    for round in 0..ROUNDS {
        let (interaction, first, consult) = r.consulting().await;
        let calls = [true, false].map(|hand_over| Call::EndConsult {
            document: interaction.clone(),
            hand_over,
        });
        let answers = unflip(round, r.race(flip(round, calls), t0()).await);
        let w = winner(round, &answers);
        assert_eq!(answers[w].0, Ok(Done::ConsultEnded));
        assert_eq!(
            answers[1 - w].0,
            Err(Refusal::NoConsult(interaction.clone())),
            "round {round}"
        );
        let stored = r.awa.record(&registry::AWA_WORK_ITEM, &consult).await;
        let previous = r.awa.record(&registry::AWA_WORK_ITEM, &first).await;
        let document = r.awa.record(&registry::INTERACTION, &interaction).await;
        let members = r.awa.active_members(&interaction).await;
        assert_eq!(text(&stored, "state"), ACCEPTED, "round {round}");
        assert_eq!(text(&previous, "state"), ACCEPTED, "round {round}");
        if w == 0 {
            // Handed over: the consult is the document's work.
            assert_eq!(text(&stored, "consult_state"), "transferred");
            assert!(flag(&stored, "active") && !flag(&previous, "active"));
            assert_eq!(text(&document, "assigned_to"), agents[1], "round {round}");
            assert_eq!(members, vec![public(&agents[1])], "round {round}");
        } else {
            assert_eq!(text(&stored, "consult_state"), "ended");
            assert!(!flag(&stored, "active") && flag(&previous, "active"));
            assert_eq!(text(&document, "assigned_to"), agents[0], "round {round}");
            assert_eq!(members, vec![public(&agents[0])], "round {round}");
        }
        assert_eq!(r.active_items(&interaction).await, 1, "round {round}");
        conflicts += answers[0].1 + answers[1].1;
        wins[w] += 1;
    }
    report(
        "consult hand-over against consult end (hand-over, end)",
        conflicts,
        wins,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consult_handed_over_racing_its_end_ends_one_way() {
    hand_over_against_end(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn a_consult_handed_over_racing_its_end_on_two_nodes_ends_one_way() {
    assert_postgres_pass();
    hand_over_against_end(true).await;
}
