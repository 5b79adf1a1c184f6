//! The catalog as a versioned input: a start with a catalog whose prices changed (a new
//! version, a correction, a new model) says which models changed and how many stored
//! events a re-pricing would move. `cargo xtask reprice` does the same on demand.

use std::collections::BTreeMap;

use llmlab_engine::providers::{Catalog, ModelEntry};
use llmlab_store::{Store, ledger};
use sha2::{Digest, Sha256};

use crate::AppError;
use crate::ledger::RepriceScope;

/// The price history of `model` as a short hash: what its rates, discounts and tiers
/// are from each date (the source links and check dates left out: they move no cost).
pub fn fingerprint(model: &ModelEntry) -> String {
    let versions: Vec<serde_json::Value> = model
        .prices()
        .iter()
        .map(|v| {
            let mut v = serde_json::to_value(v).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.remove("source");
                o.remove("checked");
            }
            v
        })
        .collect();
    let text = serde_json::to_string(&versions).unwrap_or_default();
    hex::encode(&Sha256::digest(text.as_bytes())[..12])
}

/// Every catalog model's fingerprint, keyed `provider/name`.
pub fn fingerprints(catalog: &Catalog) -> BTreeMap<String, String> {
    catalog
        .providers()
        .iter()
        .flat_map(|p| p.models())
        .map(|m| (format!("{}/{}", m.provider, m.name), fingerprint(m)))
        .collect()
}

/// What changed since the catalog this database last saw.
#[derive(Debug, Default)]
pub struct Changes {
    /// `provider/name` of models whose prices changed or that are new.
    pub models: Vec<String>,
    /// Stored events a re-pricing of those models would change, in every workspace.
    pub events: i64,
}

/// Compares `catalog` with the fingerprints stored by the previous start, counts what a
/// re-pricing of the changed models would move (a dry run per workspace and model), and
/// stores the new fingerprints. The first start has nothing to compare with.
pub fn check(s: &Store, catalog: &Catalog) -> Result<Changes, AppError> {
    let now = fingerprints(catalog);
    let before = s.with_conn(ledger::fingerprints)?;
    let mut changes = Changes::default();
    if !before.is_empty() {
        changes.models = now
            .iter()
            .filter(|(model, fp)| before.get(*model) != Some(fp))
            .map(|(model, _)| model.clone())
            .collect();
    }
    if !changes.models.is_empty() {
        let workspaces = s.with_conn(ledger::workspaces_with_events)?;
        for model in &changes.models {
            let (provider, name) = model.split_once('/').unwrap_or(("", model));
            let scope = RepriceScope {
                provider: Some(provider.to_string()),
                model: Some(name.to_string()),
                ..RepriceScope::default()
            };
            for &ws in &workspaces {
                let found = crate::ledger::reprice(s, catalog, ws, &operator(), &scope, true)?;
                changes.events += found.events_changed;
            }
        }
    }
    s.transaction(|c| ledger::save_fingerprints(c, &now))?;
    Ok(changes)
}

/// How runs started by the operator (not a person of a workspace) are recorded.
pub fn operator() -> llmlab_store::Actor {
    llmlab_store::Actor::User {
        id: 0,
        label: "operator (cargo xtask reprice)".into(),
    }
}
/// Says, off the start-up path (on the blocking pool), which catalog prices changed
/// since the last start and how many stored events a re-pricing would move.
pub async fn report(app: crate::App) {
    let checked = crate::blocking(&app, {
        let catalog = app.catalog.clone();
        move |s| check(s, &catalog)
    })
    .await;
    match checked {
        Ok(c) if c.models.is_empty() => {}
        Ok(c) => log::warn!(
            "the catalog changed the prices of {} model(s) since the last start ({}); \
             re-pricing would change {} stored event(s): POST /api/pricing/reprice \
             (dry run first) or cargo xtask reprice",
            c.models.len(),
            c.models.join(", "),
            c.events
        ),
        Err(e) => log::warn!("catalog change check failed: {e}"),
    }
}
