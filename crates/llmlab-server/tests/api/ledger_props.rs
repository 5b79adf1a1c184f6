//! The ledger's exactness as a property, on both backends: after any sequence of
//! ingestion, custom price changes, contracts and re-pricings, every stored cost is what
//! its price reference says, every report is the sum of the stored events, a full
//! re-pricing gives each event the contract the rule picks, and re-pricing again
//! changes nothing.

use chrono::{DateTime, Duration, TimeZone, Utc};
use llmlab_app::catalog_changes::operator;
use llmlab_app::ingest::prepare;
use llmlab_app::ledger::{self, PriceRef, RepriceScope, UnknownModels, WorkspacePrices};
use llmlab_engine::providers::Catalog;
use llmlab_server::dto::TrackEvent;
use llmlab_store::contracts::{ContractRow, NewContract};
use llmlab_store::{EventFilter, EventRow, NewCustomPrice, NewUser, Store, WorkspaceId};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const MODELS: [&str; 3] = ["gpt-4o", "gpt-4o-mini", "zz-model-nobody-priced"];

#[derive(Debug, Clone)]
enum Op {
    Ingest {
        model: usize,
        day: i64,
        input: i64,
        output: i64,
        cached: i64,
    },
    SetPrice {
        model: usize,
        input: i64,
        output: i64,
        from_day: Option<i64>,
    },
    DeletePrice {
        model: usize,
    },
    Reprice {
        from_day: i64,
        days: i64,
    },
    /// A contract on OpenAI, on one model's prefix or all of them.
    AddContract {
        prefix: Option<usize>,
        bp: i32,
        from_day: i64,
        days: Option<i64>,
    },
    EndContract {
        which: usize,
    },
}

/// Model prefixes contracts name: `gpt-4o` covers both catalog models.
const PREFIXES: [&str; 2] = ["gpt-4o", "gpt-4o-mini"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3_usize, 0..60_i64, 1..50_000_i64, 0..5_000_i64, 0..100_i64).prop_map(
            |(model, day, input, output, cached)| Op::Ingest { model, day, input, output, cached }
        ),
        2 => (0..3_usize, 0..20_000_000_i64, 0..80_000_000_i64, proptest::option::of(0..60_i64))
            .prop_map(|(model, input, output, from_day)| Op::SetPrice { model, input, output, from_day }),
        1 => (0..3_usize).prop_map(|model| Op::DeletePrice { model }),
        2 => (0..60_i64, 1..60_i64).prop_map(|(from_day, days)| Op::Reprice { from_day, days }),
        2 => (proptest::option::of(0..2_usize), 1..=10_000_i32, 0..60_i64, proptest::option::of(0..40_i64))
            .prop_map(|(prefix, bp, from_day, days)| Op::AddContract { prefix, bp, from_day, days }),
        1 => (0..4_usize).prop_map(|which| Op::EndContract { which }),
    ]
}

fn day(d: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 12, 0, 0).single().unwrap() + Duration::days(d)
}

fn run(store: &Store, catalog: &Catalog, ws: WorkspaceId, ops: &[Op]) {
    for op in ops {
        match op {
            Op::Ingest {
                model,
                day: d,
                input,
                output,
                cached,
            } => {
                let body: TrackEvent = serde_json::from_value(serde_json::json!({
                    "provider": "openai", "model": MODELS[*model], "input_tokens": input,
                    "output_tokens": output, "cached_input_tokens": (input * cached / 100),
                    "timestamp": day(*d).to_rfc3339(), "tags": {"team": MODELS[*model]}}))
                .unwrap();
                let custom = WorkspacePrices::load(store, ws).unwrap();
                let priced =
                    prepare(catalog, &custom, UnknownModels::Keep, body.into(), day(*d)).unwrap();
                store.insert_event(ws, &priced.event).unwrap();
            }
            Op::SetPrice {
                model,
                input,
                output,
                from_day,
            } => {
                let price = NewCustomPrice {
                    provider: "openai".into(),
                    model: MODELS[*model].into(),
                    input_micros: *input,
                    output_micros: *output,
                    effective_from: from_day.map(|d| day(d).date_naive()),
                    ..NewCustomPrice::default()
                };
                store.upsert_custom_price(ws, &price).unwrap();
            }
            Op::DeletePrice { model } => {
                store
                    .delete_custom_price(ws, "openai", MODELS[*model])
                    .unwrap();
            }
            Op::Reprice { from_day, days } => {
                let scope = RepriceScope {
                    start_micros: Some(day(*from_day).timestamp_micros()),
                    end_micros: Some(day(from_day + days).timestamp_micros()),
                    ..RepriceScope::default()
                };
                ledger::reprice(store, catalog, ws, &operator(), &scope, false).unwrap();
            }
            Op::AddContract {
                prefix,
                bp,
                from_day,
                days,
            } => {
                let n = store.list_contracts(ws).unwrap().len();
                let new = NewContract {
                    name: format!("c{n}"),
                    provider: "openai".into(),
                    model_prefix: prefix.map(|p| PREFIXES[p].to_string()),
                    discount_bp: *bp,
                    effective_from: day(*from_day).date_naive(),
                    effective_to: days.map(|d| day(from_day + d).date_naive()),
                };
                store
                    .transaction(|c| llmlab_store::contracts::create(c, ws, &new))
                    .unwrap();
            }
            Op::EndContract { which } => {
                let all = store.list_contracts(ws).unwrap();
                if let Some(c) = all.get(*which) {
                    let now = Utc::now().naive_utc();
                    store
                        .transaction(|conn| llmlab_store::contracts::end(conn, ws, c.id, now))
                        .unwrap();
                }
            }
        }
    }
}

/// The contract that should price catalog model `model` at `row`'s instant, worked out
/// here from the rule: in effect that day and not ended, longest prefix, then latest
/// start, then newest.
fn rule(contracts: &[ContractRow], row: &EventRow) -> Option<i64> {
    let at = DateTime::from_timestamp_micros(row.ts).unwrap();
    let mut best: Option<&ContractRow> = None;
    for c in contracts {
        let prefix = c.spec.model_prefix.as_deref().unwrap_or("");
        let covers = row.resolved_model.starts_with(prefix)
            && c.spec.effective_from <= at.date_naive()
            && c.spec.effective_to.is_none_or(|to| at.date_naive() <= to)
            && c.ended_at.is_none_or(|end| at.naive_utc() < end);
        let key = |c: &ContractRow| {
            let len = c.spec.model_prefix.as_deref().map_or(0, str::len);
            (len, c.spec.effective_from, c.id)
        };
        if covers && best.is_none_or(|b| key(c) > key(b)) {
            best = Some(c);
        }
    }
    best.map(|c| c.id)
}

/// The cost `row`'s price reference implies, worked out here rather than by the
/// engine: a rate of `r` micro-dollars per million tokens is `r` pico-dollars per token,
/// so uncached input, cache reads (at the input rate when the price has none of its
/// own) and output add up exactly in pico-dollars, rounded once, half up, to
/// nano-dollars. The reference must also be one in effect on the event's day: the
/// catalog's latest version from that day or before, or a custom revision of the
/// event's model dated that day or before.
fn implied(
    catalog: &Catalog,
    (history, contracts): (&[llmlab_store::CustomPriceRow], &[ContractRow]),
    row: &EventRow,
) -> i64 {
    let date = DateTime::from_timestamp_micros(row.ts)
        .unwrap()
        .date_naive();
    let mut kept = 10_000_u128;
    let (input, cached, output) = match PriceRef::of(row) {
        PriceRef::Catalog {
            model,
            effective_from,
            contract,
        } => {
            if let Some(c) = contract {
                let row_c = contracts.iter().find(|k| k.id == c.id).unwrap();
                assert_eq!(row_c.spec.discount_bp, i32::from(c.discount.basis_points()));
                assert!(
                    model.starts_with(row_c.spec.model_prefix.as_deref().unwrap_or(""))
                        && row_c.spec.effective_from <= date
                        && row_c.spec.effective_to.is_none_or(|to| date <= to),
                    "contract {} does not cover {row:?}",
                    c.id
                );
                kept -= u128::from(c.discount.basis_points());
            }
            let entry = catalog.model(&row.provider, &model).unwrap();
            let in_effect = entry
                .prices()
                .iter()
                .filter(|v| v.effective_from <= date)
                .max_by_key(|v| v.effective_from)
                .unwrap();
            assert_eq!(
                in_effect.effective_from, effective_from,
                "the version in effect on {date}: {row:?}"
            );
            let r = &in_effect.rates;
            let cached = r.cached_input.unwrap_or(r.input);
            (r.input.micros(), cached.micros(), r.output.micros())
        }
        PriceRef::CustomPricing { revision } => {
            let c = history.iter().find(|c| Some(c.id) == revision).unwrap();
            assert_eq!(c.price.model, row.model, "{row:?}");
            assert!(
                c.price.effective_from.is_none_or(|from| from <= date),
                "revision {} starts after {date}: {row:?}",
                c.id
            );
            let rate = |micros: i64| u64::try_from(micros).unwrap();
            let input = rate(c.price.input_micros);
            let cached = c.price.cached_input_micros.map_or(input, rate);
            (input, cached, rate(c.price.output_micros))
        }
        PriceRef::Unpriced => {
            assert!(
                catalog.model(&row.provider, &row.model).is_none(),
                "{row:?}"
            );
            return 0;
        }
        PriceRef::Client => panic!("no event here says its own cost: {row:?}"),
    };
    let t = &row.tokens;
    let tokens = |n: i64| u128::try_from(n).unwrap();
    let picos = tokens(t.input_tokens - t.cached_input_tokens) * u128::from(input)
        + tokens(t.cached_input_tokens) * u128::from(cached)
        + tokens(t.output_tokens) * u128::from(output);
    // Pico-dollars × basis points kept: 10⁻¹⁶ USD, rounded once to nano-dollars.
    i64::try_from((picos * kept + 5_000_000) / 10_000_000).unwrap()
}

fn check(store: &Store, catalog: &Catalog, ws: WorkspaceId) {
    let rows = store
        .with_conn(|c| llmlab_store::ledger::page(c, ws, &EventFilter::default(), None, 10_000))
        .unwrap();
    let history = store
        .with_conn(|c| llmlab_store::prices::history(c, ws))
        .unwrap();
    let contracts = store.list_contracts(ws).unwrap();
    for row in &rows {
        let implied = implied(catalog, (&history, &contracts), row);
        assert_eq!(row.cost_nanos, implied, "{row:?}");
    }
    let all = EventFilter::default();
    let totals = store.totals(ws, &all).unwrap();
    assert_eq!(
        totals.cost_nanos,
        rows.iter().map(|r| r.cost_nanos).sum::<i64>()
    );
    assert_eq!(totals.calls, rows.len() as i64);
    let unpriced = |r: &&EventRow| r.cost_source == "unpriced";
    assert_eq!(
        totals.unpriced_calls,
        rows.iter().filter(unpriced).count() as i64
    );
    for m in store.top_models(ws, &all, 10).unwrap() {
        let mine: Vec<&EventRow> = rows
            .iter()
            .filter(|r| r.resolved_model == m.model)
            .collect();
        assert_eq!(
            m.sums.cost_nanos,
            mine.iter().map(|r| r.cost_nanos).sum::<i64>()
        );
        assert_eq!(
            m.sums.unpriced_calls,
            mine.iter().filter(|r| r.cost_source == "unpriced").count() as i64
        );
    }
    for t in store.cost_by_tag(ws, &all, "team").unwrap().values {
        let mine = rows
            .iter()
            .filter(|r| r.tags().get("team") == Some(&t.value));
        assert_eq!(t.cost_nanos, mine.map(|r| r.cost_nanos).sum::<i64>());
    }
    // Over a month of slots (the rollups, with raw edges) as over the whole.
    let slots: i64 = store
        .slots(
            ws,
            &EventFilter::between(day(3).timestamp_micros(), day(40).timestamp_micros()),
            3600,
        )
        .unwrap()
        .iter()
        .map(|s| s.sums.cost_nanos)
        .sum();
    let between = rows
        .iter()
        .filter(|r| r.ts >= day(3).timestamp_micros() && r.ts < day(40).timestamp_micros())
        .map(|r| r.cost_nanos)
        .sum::<i64>();
    assert_eq!(slots, between);
}

llmlab_store::both_backends!(every_report_follows_the_ledger, |_db, store| {
    let catalog = Catalog::builtin();
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let n = std::sync::atomic::AtomicU32::new(0);
    runner
        .run(&proptest::collection::vec(op(), 1..14), |ops| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let user = store
                .create_user(&NewUser {
                    email: format!("p{i}@ledger.test"),
                    password_hash: "h".into(),
                })
                .unwrap();
            let ws = store
                .with_conn(|c| llmlab_store::workspaces::personal(c, user.id))
                .unwrap();
            run(&store, catalog, ws, &ops);
            check(&store, catalog, ws);
            // Re-pricing everything twice: the second finds nothing to change.
            let everything = RepriceScope::default();
            ledger::reprice(&store, catalog, ws, &operator(), &everything, false).unwrap();
            check(&store, catalog, ws);
            let contracts = store.list_contracts(ws).unwrap();
            let all = EventFilter::default();
            let rows = store
                .with_conn(|c| llmlab_store::ledger::page(c, ws, &all, None, 10_000))
                .unwrap();
            for row in rows.iter().filter(|r| r.cost_source == "catalog") {
                prop_assert_eq!(row.contract_id, rule(&contracts, row), "{:?}", row);
            }
            let again =
                ledger::reprice(&store, catalog, ws, &operator(), &everything, true).unwrap();
            prop_assert_eq!(again.events_changed, 0);
            Ok(())
        })
        .unwrap();
});

// A start with a catalog that changed a price says which models changed and how many
// stored events re-pricing would move; a start with the same catalog says nothing.
llmlab_store::both_backends!(a_changed_catalog_is_reported, |_db, store| {
    use llmlab_app::catalog_changes::check;
    let builtin = Catalog::builtin();
    assert!(
        check(&store, builtin).unwrap().models.is_empty(),
        "first start"
    );
    let user = store
        .create_user(&NewUser {
            email: "catalog@ledger.test".into(),
            password_hash: "h".into(),
        })
        .unwrap();
    let ws = store
        .with_conn(|c| llmlab_store::workspaces::personal(c, user.id))
        .unwrap();
    let ops = [
        Op::Ingest {
            model: 0,
            day: 1,
            input: 1_000,
            output: 100,
            cached: 0,
        },
        Op::Ingest {
            model: 0,
            day: 2,
            input: 2_000,
            output: 100,
            cached: 50,
        },
        Op::Ingest {
            model: 1,
            day: 2,
            input: 2_000,
            output: 100,
            cached: 0,
        },
    ];
    run(&store, builtin, ws, &ops);
    assert!(
        check(&store, builtin).unwrap().models.is_empty(),
        "same catalog"
    );
    let dir = std::env::temp_dir().join(format!("llmlab-catalog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{:?}.toml", store.backend()));
    std::fs::write(
        &file,
        "provider = \"openai\"\n\n[[models]]\nname = \"gpt-4o\"\nsnapshots = [\"2024-08-06\"]\n\
         tier = \"flagship\"\n\n[[models.prices]]\neffective_from = \"2024-05-13\"\n\
         input = \"2.00\"\noutput = \"8.00\"\ncached_input = \"1.00\"\nsource = \"contract\"\n\
         checked = \"2025-12-01\"\n",
    )
    .unwrap();
    let changed = builtin.extended_with_path(&file).unwrap();
    let found = check(&store, &changed).unwrap();
    assert_eq!(found.models, ["openai/gpt-4o"]);
    assert_eq!(found.events, 2);
    assert!(
        check(&store, &changed).unwrap().models.is_empty(),
        "said once"
    );
    std::fs::remove_file(&file).ok();
});
