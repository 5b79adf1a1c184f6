//! The tables of what a workspace pays beyond the ledger's list prices: commitments,
//! contracts, and the providers' bills imported for reconciliation.

diesel::table! {
    /// Amounts prepaid or committed to a provider (or to all) over a period of days.
    commitments (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        name -> Text,
        /// `None`: every provider.
        provider -> Nullable<Text>,
        amount_nanos -> BigInt,
        /// First day (UTC), inclusive.
        start_date -> Date,
        /// Last day (UTC), inclusive.
        end_date -> Date,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Negotiated discounts off catalog prices, per provider and model prefix.
    contracts (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        name -> Text,
        provider -> Text,
        /// `None`: every model of the provider.
        model_prefix -> Nullable<Text>,
        /// Basis points off list prices.
        discount_bp -> Integer,
        /// First day (UTC), inclusive.
        effective_from -> Date,
        /// Last day (UTC), inclusive; `None`: open-ended.
        effective_to -> Nullable<Date>,
        /// When it was ended: it prices nothing from then on.
        ended_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Provider cost reports imported for reconciliation, one row per file.
    billing_imports (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        /// `openai_costs`, `anthropic_cost_report` or `focus`.
        format -> Text,
        /// The one provider it bills; `None` when it bills several.
        provider -> Nullable<Text>,
        /// SHA-256 of the content, hex: the same file is one import.
        content_sha256 -> Text,
        /// First and last day (UTC) it covers.
        start_date -> Date,
        end_date -> Date,
        /// Lines of the report read.
        rows_read -> Integer,
        /// Its total, nano-dollars.
        billed_nanos -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// What providers billed per UTC day, provider and model, as the latest import says.
    billed_costs (workspace_id, day, provider, model) {
        workspace_id -> BigInt,
        import_id -> BigInt,
        day -> Date,
        provider -> Text,
        /// `''` when the report does not say.
        model -> Text,
        billed_nanos -> BigInt,
    }
}

diesel::table! {
    /// Exchange rates: units of a currency per US dollar, from a day on.
    fx_rates (workspace_id, currency, day) {
        workspace_id -> BigInt,
        /// ISO 4217 code, upper-case.
        currency -> Text,
        day -> Date,
        /// Units per dollar, in billionths.
        units_per_usd_nanos -> BigInt,
    }
}
