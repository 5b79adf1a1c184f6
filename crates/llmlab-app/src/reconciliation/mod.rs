//! Reconciliation: what the provider billed (its cost report, imported) against what
//! LLMLab tracked, per UTC day and provider: the drift in dollars and percent, the days
//! beyond a threshold, and the discount that would make the two agree.

mod alert;
mod formats;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use llmlab_engine::providers::Catalog;
use llmlab_engine::{Discount, Usd};
pub use llmlab_store::billing::ImportRow;
use llmlab_store::billing::{self, NewImport};
use llmlab_store::{EventFilter, Store, StoreError, WorkspaceId};
use sha2::{Digest, Sha256};

pub use alert::{ALERT_BP, beyond};
pub use formats::{Format, MAX_ROWS};

use crate::auth::Identity;
use crate::{AppError, Audit, audited, ensure_room};

/// Imports one workspace may hold.
pub const MAX_IMPORTS: usize = 1_000;
/// The largest report: 16 MiB.
pub const MAX_BYTES: usize = 16 << 20;
/// The longest span one import or one reconciliation may cover.
pub const MAX_DAYS: i64 = 3_660;

/// An import, and whether this request made it.
pub struct Imported {
    /// The import.
    pub import: ImportRow,
    /// Made now (`false`: the same content was imported before).
    pub created: bool,
    /// FOCUS rows skipped as other services', taxes or purchases.
    pub rows_skipped: usize,
}

/// Imports a provider's cost report: idempotent by content (the same bytes again answer
/// the first import), bounded in size and lines. The days and providers it covers
/// replace what earlier imports said of them.
pub fn import(
    s: &Store,
    catalog: &Catalog,
    workspace: WorkspaceId,
    by: &Identity,
    format: Format,
    body: &[u8],
) -> Result<Imported, AppError> {
    if body.len() > MAX_BYTES {
        return Err(AppError::invalid(
            "body",
            format!("larger than {MAX_BYTES} bytes"),
        ));
    }
    let hash = hex::encode(Sha256::digest(body));
    let earlier = |s: &Store| s.with_conn(|c| billing::find_by_hash(c, workspace, &hash));
    if let Some(import) = earlier(s)? {
        return Ok(Imported {
            import,
            created: false,
            rows_skipped: 0,
        });
    }
    let report = formats::read(format, catalog, body)?;
    let Some((start, end)) = report.span else {
        return Err(AppError::invalid("body", "the report covers no day"));
    };
    if (end - start).num_days() >= MAX_DAYS {
        return Err(AppError::invalid(
            "body",
            format!("the report spans more than {MAX_DAYS} days"),
        ));
    }
    let lines = billing::fold(report.lines)?;
    let mut providers: Vec<&str> = lines.iter().map(|l| l.provider.as_str()).collect();
    providers.dedup();
    let provider = match format {
        Format::OpenAiCosts => Some("openai".to_string()),
        Format::AnthropicCostReport => Some("anthropic".to_string()),
        Format::Focus => {
            providers.sort_unstable();
            providers.dedup();
            (providers.len() == 1).then(|| providers[0].to_string())
        }
    };
    let total = lines
        .iter()
        .try_fold(0_i64, |sum, l| sum.checked_add(l.billed_nanos))
        .ok_or_else(|| AppError::invalid("body", "the report's total is out of range"))?;
    let new = NewImport {
        format: format.as_str().into(),
        provider,
        content_sha256: hash.clone(),
        start_date: start,
        end_date: end,
        rows_read: i32::try_from(report.rows_read).unwrap_or(i32::MAX),
        billed_nanos: total,
    };
    ensure_room(
        "billing imports",
        s.with_conn(|c| billing::count(c, workspace))? as usize,
        MAX_IMPORTS,
    )?;
    let made = audited(s, workspace, &by.actor(), |c| {
        let row = billing::record(c, workspace, &new, &lines)?;
        let audit = Audit {
            action: "reconciliation.import",
            target_kind: "billing_import",
            target_id: row.id.to_string(),
            details: serde_json::json!({
                "format": row.spec.format,
                "start": row.spec.start_date,
                "end": row.spec.end_date,
                "billed_nanos": row.spec.billed_nanos,
            }),
        };
        Ok((row, audit))
    });
    match made {
        Ok(import) => {
            // The bill against what was tracked over the days it covers, told to the
            // channels when it drifts; a failure to tell does not undo the import.
            let span = (import.spec.start_date, import.spec.end_date);
            let told = reconcile(s, workspace, span, (import.spec.provider.as_deref(), false))
                .and_then(|r| alert::tell(s, workspace, &import, &r.days));
            if let Err(e) = told {
                log::warn!(
                    "reconciliation: the drift of import {} was not told: {e}",
                    import.id
                );
            }
            Ok(Imported {
                import,
                created: true,
                rows_skipped: report.rows_skipped,
            })
        }
        // The same file imported concurrently: the first import is the answer.
        Err(AppError::Store(StoreError::Conflict(_))) => match earlier(s)? {
            Some(import) => Ok(Imported {
                import,
                created: false,
                rows_skipped: 0,
            }),
            None => Err(AppError::Conflict(
                "the import conflicted with another; send it again",
            )),
        },
        Err(e) => Err(e),
    }
}

/// The workspace's 50 latest imports, newest first.
pub fn imports(s: &Store, workspace: WorkspaceId) -> Result<Vec<ImportRow>, AppError> {
    Ok(s.with_conn(|c| billing::list(c, workspace, 50))?)
}

/// One day of one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayDrift {
    /// The day (UTC).
    pub date: NaiveDate,
    /// Provider id.
    pub provider: String,
    /// The model, when split by model (`""`: what a report billed without naming one).
    pub model: Option<String>,
    /// The two amounts.
    pub figures: Drift,
}

/// Billed against tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drift {
    /// What the provider billed.
    pub billed: Usd,
    /// What LLMLab tracked.
    pub tracked: Usd,
}

impl Drift {
    /// Billed − tracked.
    pub fn drift(self) -> Usd {
        self.billed.saturating_sub(self.tracked)
    }

    /// The drift in hundredths of a percent of the bill (basis points), rounded half
    /// away from zero; `None` when nothing was billed.
    pub fn drift_bp(self) -> Option<i64> {
        basis_points(self.drift(), self.billed)
    }
}

/// `part / whole` in basis points (hundredths of a percent), rounded half away from
/// zero; `None` when `whole` is zero.
fn basis_points(part: Usd, whole: Usd) -> Option<i64> {
    // `mul_div` is the one rounding rule on integers; the amount type only carries them.
    part.mul_div(10_000, whole.nanos()).map(Usd::nanos)
}

/// A reconciliation over a span of days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    /// Each day and provider a bill covers, oldest first.
    pub days: Vec<DayDrift>,
    /// Their sums.
    pub total: Drift,
    /// The discount off what was tracked that would make it the bill, when the bill is
    /// below it.
    pub suggested_discount: Option<Discount>,
}

/// Billed against tracked from `start` to `end` (UTC days, inclusive), for `provider`
/// or every provider a bill was imported for: each day and provider the imported bills
/// cover (from their first day to their last), with what was tracked then.
pub fn reconcile(
    s: &Store,
    workspace: WorkspaceId,
    (start, end): (NaiveDate, NaiveDate),
    (provider, by_model): (Option<&str>, bool),
) -> Result<Reconciliation, AppError> {
    if end < start || (end - start).num_days() >= MAX_DAYS {
        return Err(AppError::invalid(
            "end",
            format!("must be on or after start, within {MAX_DAYS} days"),
        ));
    }
    let billed = s.with_conn(|c| billing::billed(c, workspace, (start, end), provider))?;
    // Split by model, each row is a day, provider and model; else a day and provider.
    let model = |m: &str| {
        if by_model {
            m.to_string()
        } else {
            String::new()
        }
    };
    let mut days: BTreeMap<(NaiveDate, String, String), Drift> = BTreeMap::new();
    let mut spans: BTreeMap<String, (NaiveDate, NaiveDate)> = BTreeMap::new();
    for l in &billed {
        let d = days
            .entry((l.day, l.provider.clone(), model(&l.model)))
            .or_default();
        d.billed = d.billed.saturating_add(Usd::from_nanos(l.billed_nanos));
        let span = spans.entry(l.provider.clone()).or_insert((l.day, l.day));
        *span = (span.0.min(l.day), span.1.max(l.day));
    }
    let micros = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_micros())
    };
    let filter = EventFilter {
        start_micros: micros(start),
        end_micros: end.succ_opt().and_then(micros),
        provider: provider.map(str::to_string),
        ..EventFilter::default()
    };
    for r in s.daily_by_model(workspace, &filter)? {
        let Some(day) =
            DateTime::<Utc>::from_timestamp_micros(r.day_start_micros).map(|t| t.date_naive())
        else {
            continue;
        };
        let covered = spans
            .get(&r.provider)
            .is_some_and(|(a, b)| (*a..=*b).contains(&day));
        if covered {
            let d = days.entry((day, r.provider, model(&r.model))).or_default();
            d.tracked = d.tracked.saturating_add(Usd::from_nanos(r.cost_nanos));
        }
    }
    let total = days.values().fold(Drift::default(), |t, d| Drift {
        billed: t.billed.saturating_add(d.billed),
        tracked: t.tracked.saturating_add(d.tracked),
    });
    let suggested_discount = (total.billed < total.tracked)
        .then(|| basis_points(total.tracked.saturating_sub(total.billed), total.tracked))
        .flatten()
        .and_then(|bp| Discount::from_basis_points(u16::try_from(bp).ok()?));
    Ok(Reconciliation {
        days: days
            .into_iter()
            .map(|((date, provider, m), figures)| DayDrift {
                date,
                provider,
                model: by_model.then_some(m),
                figures,
            })
            .collect(),
        total,
        suggested_discount,
    })
}
