//! Re-pricing stored events: what would change (a dry run) or changing it, page by page,
//! with the prices in effect at each event's timestamp now.

use std::collections::BTreeMap;

use chrono::DateTime;
use llmlab_engine::providers::Catalog;
use llmlab_engine::{Cost, Discount, EngineError, cost_at_rates};
use llmlab_store::ledger::{self, NewPrice, RunFigures};
use llmlab_store::prices;
use llmlab_store::{Actor, CustomPriceRow, EventFilter, EventRow, Store, WorkspaceId};
use serde::Serialize;

use super::{Call, PriceRef, UnknownModels, WorkspacePrices, price_call, stored_usage};
use crate::{AppError, Audit};

/// What to re-price.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepriceScope {
    /// Events from this instant (microseconds), inclusive.
    pub start_micros: Option<i64>,
    /// Events before this instant.
    pub end_micros: Option<i64>,
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this (resolved) model.
    pub model: Option<String>,
}

/// A re-pricing's figures for one model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelChange {
    /// Provider id.
    pub provider: String,
    /// Resolved model.
    pub model: String,
    /// Events whose price changed.
    pub events_changed: i64,
    /// Their cost before, nano-dollars.
    pub old_cost_nanos: i64,
    /// Their cost after.
    pub new_cost_nanos: i64,
}

/// What a re-pricing found (a dry run) or did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repriced {
    /// The recorded run, when applied.
    pub id: Option<i64>,
    /// Nothing was written.
    pub dry_run: bool,
    /// Events in the scope.
    pub events_matched: i64,
    /// Events whose price changed (or would).
    pub events_changed: i64,
    /// Their cost before, nano-dollars.
    pub old_cost_nanos: i64,
    /// Their cost after.
    pub new_cost_nanos: i64,
    /// Per model, most changed first.
    pub by_model: Vec<ModelChange>,
    /// Times the workspace's prices changed under the run, which then started over.
    pub price_changes_met: u32,
}

impl Repriced {
    fn figures(&self) -> RunFigures {
        RunFigures {
            events_matched: self.events_matched,
            events_changed: self.events_changed,
            old_cost_nanos: self.old_cost_nanos,
            new_cost_nanos: self.new_cost_nanos,
            by_model_json: serde_json::to_string(&self.by_model).unwrap_or_default(),
        }
    }
}

/// Events per transaction when applying: a million events never hold one lock for long,
/// and ingestion goes on between pages.
pub const PAGE: u32 = 1_000;

/// The cost, bucket by bucket, that `row`'s price reference implies (the catalog version
/// or custom revision it names, applied to its stored tokens, less the contract's
/// discount it names, unless `at_list`); `None` for client costs, unpriced events, and
/// references that can no longer be found.
pub fn stored_cost(
    catalog: &Catalog,
    history: &[CustomPriceRow],
    row: &EventRow,
    at_list: bool,
) -> Option<Cost> {
    let usage = stored_usage(row).ok()?;
    match PriceRef::of(row) {
        PriceRef::Catalog {
            model,
            effective_from,
            contract,
        } => {
            let entry = catalog.model(&row.provider, &model)?;
            let version = entry
                .prices()
                .iter()
                .find(|v| v.effective_from == effective_from)?;
            let fine_tuned = catalog
                .resolve(&row.provider, &row.model)
                .is_ok_and(|r| r.fine_tuned);
            let discount = match contract {
                Some(c) if !at_list => c.discount,
                _ => Discount::NONE,
            };
            llmlab_engine::cost_under_contract(version, &usage, fine_tuned, discount).ok()
        }
        PriceRef::CustomPricing { revision } => {
            let c = history.iter().find(|c| Some(c.id) == revision)?;
            let discount = c.price.batch_discount_pct.map(|d| d.clamp(0, 100) as u8);
            let rates = crate::ingest::custom_rates(c);
            cost_at_rates(&rates, discount, &usage).ok()
        }
        PriceRef::Client | PriceRef::Unpriced => None,
    }
}

/// The price `row` gets now, if it differs from the one it has. Client costs never
/// change.
pub fn new_price(
    catalog: &Catalog,
    custom: &WorkspacePrices,
    row: &EventRow,
) -> Result<Option<NewPrice>, AppError> {
    if row.cost_source == "client" {
        return Ok(None);
    }
    let usage = stored_usage(row)?;
    let at = DateTime::from_timestamp_micros(row.ts)
        .ok_or_else(|| AppError::Internal(format!("event {} has no valid instant", row.id)))?;
    let call = Call {
        provider: &row.provider,
        model: &row.model,
        resolved: &row.resolved_model,
        usage: &usage,
        at,
    };
    let priced = match price_call(catalog, custom, &call, UnknownModels::Keep) {
        Ok(priced) => priced,
        // A tier or a bucket (audio, 1-hour writes) the prices in effect now have no
        // rate for: the event keeps the price it has rather than a wrong one.
        Err(AppError::UnsupportedServiceTier { .. })
        | Err(AppError::Engine(EngineError::InvalidUsage { .. })) => return Ok(None),
        Err(e) => return Err(e),
    };
    let new = NewPrice {
        cost_nanos: priced.cost.total.nanos(),
        cost_source: priced.price_ref.source().to_string(),
        price_effective_from: priced.price_ref.effective_from(),
        price_revision: priced.price_ref.revision(),
        contract: priced.price_ref.contract().map(|c| c.stored()),
    };
    let same = new.cost_nanos == row.cost_nanos
        && new.cost_source == row.cost_source
        && new.price_effective_from == row.price_effective_from
        && new.price_revision == row.price_revision
        && new.contract.map(|c| c.0) == row.contract_id
        && new.contract.map(|c| c.1) == row.contract_discount_bp;
    Ok((!same).then_some(new))
}

/// Re-prices the events of `workspace` in `scope` with the prices in effect at each
/// one's timestamp now: a dry run reports, an apply changes the events, their rollups
/// and running totals page by page (each page one transaction), records the run and an
/// audit entry. Idempotent: a second apply finds nothing to change. Interrupted, it is
/// finished by running it again.
///
/// Each page is written only while the workspace's prices are still the ones the run
/// read (the page's transaction holds the price version, so a price change waits for
/// that page, and only that page). When they changed, the run reads them again and starts over from the first
/// event: it finishes with the newest prices, whatever it changed before is changed
/// again where the new prices differ, and its figures count both passes' changes
/// (`delta` is still the net change). After [`MAX_PRICE_CHANGES`] such changes it
/// stops, consistent page by page, and asks to be run again.
pub fn reprice(
    s: &Store,
    catalog: &Catalog,
    workspace: WorkspaceId,
    actor: &Actor,
    scope: &RepriceScope,
    dry_run: bool,
) -> Result<Repriced, AppError> {
    let filter = EventFilter {
        start_micros: scope.start_micros,
        end_micros: scope.end_micros,
        provider: scope.provider.clone(),
        model: scope.model.clone(),
        ..EventFilter::default()
    };
    let (_, actor_id, label) = actor.parts();
    let params = serde_json::to_string(scope).unwrap_or_default();
    let run = if dry_run {
        None
    } else {
        Some(s.with_conn(|c| ledger::start_run(c, workspace, actor_id, label, &params))?)
    };
    let mut out = Repriced {
        id: run,
        dry_run,
        ..Repriced::default()
    };
    let mut by_model: BTreeMap<(String, String), ModelChange> = BTreeMap::new();
    let walked = loop {
        // The version first: prices read after it are at least as new, so a change
        // between the two reads is seen at the first page, never missed.
        let prices = s
            .with_conn(|c| prices::version(c, workspace))
            .and_then(|version| Ok((version, WorkspacePrices::load(s, workspace)?)));
        let (version, custom) = match prices {
            Ok(read) => read,
            Err(e) => break Err(e.into()),
        };
        let pass = walk(
            s,
            catalog,
            workspace,
            (&custom, version),
            &filter,
            dry_run,
            |row, new| {
                let m = by_model
                    .entry((row.provider.clone(), row.resolved_model.clone()))
                    .or_insert_with(|| ModelChange {
                        provider: row.provider.clone(),
                        model: row.resolved_model.clone(),
                        ..ModelChange::default()
                    });
                m.events_changed += 1;
                m.old_cost_nanos += row.cost_nanos;
                m.new_cost_nanos += new.cost_nanos;
            },
        );
        match pass {
            Ok(Pass {
                matched,
                moved: false,
            }) => break Ok(matched),
            Ok(Pass { moved: true, .. }) if out.price_changes_met < MAX_PRICE_CHANGES => {
                out.price_changes_met += 1;
            }
            Ok(Pass { moved: true, .. }) => {
                break Err(AppError::Conflict(
                    "the workspace's prices changed several times while this run went \
                     through its events; every page it wrote is consistent: run it again \
                     to finish with the newest prices",
                ));
            }
            Err(e) => break Err(e),
        }
    };
    out.by_model = by_model.into_values().collect();
    out.by_model.sort_by(|a, b| {
        b.events_changed
            .cmp(&a.events_changed)
            .then(a.model.cmp(&b.model))
    });
    out.events_changed = out.by_model.iter().map(|m| m.events_changed).sum();
    out.old_cost_nanos = out.by_model.iter().map(|m| m.old_cost_nanos).sum();
    out.new_cost_nanos = out.by_model.iter().map(|m| m.new_cost_nanos).sum();
    let matched = match walked {
        Ok(matched) => matched,
        Err(e) => {
            if let Some(id) = run {
                let _ =
                    s.with_conn(|c| ledger::update_run(c, workspace, id, "failed", &out.figures()));
            }
            return Err(e);
        }
    };
    out.events_matched = matched;
    if let Some(id) = run {
        let figures = out.figures();
        let met = out.price_changes_met;
        crate::audited(s, workspace, actor, |c| {
            ledger::update_run(c, workspace, id, "done", &figures)?;
            // Costs changed: forecasts and anomalies are looked at again.
            let now = chrono::Utc::now().timestamp_micros();
            llmlab_store::schedule::mark_due(c, workspace, now)?;
            let audit = Audit {
                action: "pricing.reprice",
                target_kind: "reprice_run",
                target_id: id.to_string(),
                details: serde_json::json!({
                    "scope": scope,
                    "events_changed": figures.events_changed,
                    "delta_nanos": figures.new_cost_nanos - figures.old_cost_nanos,
                    "price_changes_met": met,
                }),
            };
            Ok(((), audit))
        })?;
    }
    Ok(out)
}

/// Price changes a run starts over for before it stops and asks to be run again.
pub const MAX_PRICE_CHANGES: u32 = 3;

/// What one pass over the scope did.
struct Pass {
    /// Events in the scope.
    matched: i64,
    /// The workspace's prices changed under the pass, which stopped at that page.
    moved: bool,
}

/// Walks the scope page by page with `custom` (read at price version `version`); calls
/// `seen` for each event whose price changes (and, unless `dry_run`, changed). Stops
/// at the first page that finds the version moved.
fn walk(
    s: &Store,
    catalog: &Catalog,
    workspace: WorkspaceId,
    (custom, version): (&WorkspacePrices, i64),
    filter: &EventFilter,
    dry_run: bool,
    mut seen: impl FnMut(&EventRow, &NewPrice),
) -> Result<Pass, AppError> {
    let (mut matched, mut after) = (0_i64, None);
    loop {
        let page = s.with_conn(|c| ledger::page(c, workspace, filter, after, PAGE))?;
        let Some(last) = page.last() else {
            return Ok(Pass {
                matched,
                moved: false,
            });
        };
        after = Some((last.ts, last.id));
        matched += page.len() as i64;
        let mut changes = Vec::new();
        for row in page {
            if let Some(new) = new_price(catalog, custom, &row)? {
                changes.push((row, new));
            }
        }
        if dry_run {
            if s.with_conn(|c| prices::version(c, workspace))? != version {
                return Ok(Pass {
                    matched,
                    moved: true,
                });
            }
            for (row, new) in &changes {
                seen(row, new);
            }
            continue;
        }
        let done = s.transaction(|c| {
            if prices::hold_version(c, workspace)? != version {
                return Ok(None);
            }
            ledger::reprice(c, workspace, &changes).map(Some)
        })?;
        let Some(done) = done else {
            return Ok(Pass {
                matched,
                moved: true,
            });
        };
        let done: std::collections::HashSet<i64> = done.into_iter().collect();
        for (row, new) in changes.iter().filter(|(row, _)| done.contains(&row.id)) {
            seen(row, new);
        }
    }
}
