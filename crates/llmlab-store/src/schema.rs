//! The diesel schema, written by hand for both backends.
//!
//! Ids are `BigInt` here; SQLite declares them `INTEGER PRIMARY KEY` (the rowid alias,
//! 64-bit) and PostgreSQL `BIGSERIAL`. Do not regenerate this file with `print-schema`
//! from SQLite: it would turn the ids into `Integer`.

mod money;
mod rollups;

pub use money::*;
pub use rollups::*;

// Each table's columns are declared once, here; the column runs that tables share (the
// token counts of events and rollups, delivery bookkeeping) repeat because they are
// columns of each table, not logic.

diesel::table! {
    /// Registered users; `email` is stored lowercase.
    users (id) {
        id -> BigInt,
        email -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Session tokens (JWT `jti`) revoked before their expiry.
    revoked_tokens (jti) {
        jti -> Text,
        user_id -> BigInt,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    /// API keys, stored as a hash; `revoked_at` is set when a key is deleted.
    api_keys (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        scopes -> Text,
        created_by -> Nullable<BigInt>,
        tags_json -> Text,
    }
}

diesel::table! {
    /// The event ledger: one priced LLM call per row.
    events (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        event_id -> Nullable<Text>,
        provider -> Text,
        model -> Text,
        resolved_model -> Text,
        input_tokens -> BigInt,
        output_tokens -> BigInt,
        cached_input_tokens -> BigInt,
        cache_write_tokens -> BigInt,
        reasoning_tokens -> BigInt,
        batch -> Bool,
        cost_nanos -> BigInt,
        cost_source -> Text,
        price_effective_from -> Nullable<Date>,
        ts -> BigInt,
        latency_ms -> Nullable<BigInt>,
        tags_json -> Text,
        created_at -> Timestamp,
        /// The `custom_prices` row (revision) that priced a `custom_pricing` event.
        price_revision -> Nullable<BigInt>,
        /// 1-hour cache writes (part of `input_tokens`).
        cache_write_1h_tokens -> BigInt,
        /// Uncached audio prompt tokens (part of `input_tokens`).
        input_audio_tokens -> BigInt,
        /// Audio output tokens (part of `output_tokens`).
        output_audio_tokens -> BigInt,
        /// `standard`, `batch`, `flex` or `priority`: the tier the event was priced at.
        service_tier -> Text,
        /// The API key that sent it; `None` for a person's session.
        api_key_id -> Nullable<BigInt>,
        /// The contract that discounted a `catalog` event; `None`: list price.
        contract_id -> Nullable<BigInt>,
        /// That contract's discount, basis points.
        contract_discount_bp -> Nullable<Integer>,
        /// Images generated.
        images -> BigInt,
        /// Seconds of audio transcribed.
        audio_input_seconds -> BigInt,
        /// Characters turned into speech.
        output_characters -> BigInt,
        /// Web search calls.
        web_search_calls -> BigInt,
        /// Code sessions.
        code_sessions -> BigInt,
        /// The images' size and quality (`1024x1792/hd`), which pick their price.
        image -> Nullable<Text>,
    }
}

diesel::table! {
    /// One row per tag of an event, so tags can be filtered and grouped in SQL.
    event_tags (event_id, key) {
        event_id -> BigInt,
        workspace_id -> BigInt,
        key -> Text,
        value -> Text,
        ts -> BigInt,
    }
}

diesel::table! {
    /// Spending limits per period and scope.
    budgets (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        name -> Text,
        amount_nanos -> BigInt,
        period -> Text,
        timezone -> Text,
        scope_provider -> Nullable<Text>,
        scope_model -> Nullable<Text>,
        scope_tag_key -> Nullable<Text>,
        scope_tag_value -> Nullable<Text>,
        alert_threshold_pct -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        /// `alert` or `hard` (calls are reserved against it, and refused when it has too
        /// little left).
        enforce -> Text,
    }
}

diesel::table! {
    /// Alerts raised by budgets: at most one per budget, period and level.
    budget_alerts (id) {
        id -> BigInt,
        budget_id -> BigInt,
        workspace_id -> BigInt,
        period_start -> BigInt,
        level -> Text,
        spent_nanos -> BigInt,
        amount_nanos -> BigInt,
        created_at -> Timestamp,
        /// Whether the workspace's channels have been told of it.
        notified -> Bool,
    }
}

diesel::table! {
    /// A user's own prices for a model, in micro-dollars per million tokens.
    custom_prices (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        provider -> Text,
        model -> Text,
        input_micros -> BigInt,
        output_micros -> BigInt,
        cached_input_micros -> Nullable<BigInt>,
        cache_write_micros -> Nullable<BigInt>,
        batch_discount_pct -> Nullable<Integer>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        effective_from -> Nullable<Date>,
        deleted_at -> Nullable<Timestamp>,
        cache_write_1h_micros -> Nullable<BigInt>,
        input_audio_micros -> Nullable<BigInt>,
        output_audio_micros -> Nullable<BigInt>,
        /// Pico-dollars a minute of audio in; NULL: refused.
        audio_input_minute_picos -> Nullable<BigInt>,
        /// Pico-dollars a character of speech; NULL: refused.
        output_character_picos -> Nullable<BigInt>,
        /// Pico-dollars a web search call; NULL: refused.
        web_search_call_picos -> Nullable<BigInt>,
        /// Pico-dollars a code session; NULL: refused.
        code_session_picos -> Nullable<BigInt>,
    }
}

diesel::joinable!(api_keys -> workspaces (workspace_id));
diesel::joinable!(events -> workspaces (workspace_id));
diesel::joinable!(event_tags -> events (event_id));
diesel::joinable!(budgets -> workspaces (workspace_id));
diesel::joinable!(budget_alerts -> budgets (budget_id));
diesel::joinable!(custom_prices -> workspaces (workspace_id));
diesel::joinable!(revoked_tokens -> users (user_id));
diesel::joinable!(workspace_members -> workspaces (workspace_id));
diesel::joinable!(workspace_members -> users (user_id));
diesel::joinable!(audit_log -> workspaces (workspace_id));
diesel::joinable!(channels -> workspaces (workspace_id));
diesel::joinable!(budget_channels -> channels (channel_id));
diesel::joinable!(notifications -> channels (channel_id));
diesel::joinable!(notifications -> budget_alerts (alert_id));
diesel::joinable!(notification_deliveries -> notifications (notification_id));
diesel::joinable!(channel_recipients -> channels (channel_id));
diesel::joinable!(send_quota -> workspaces (workspace_id));

diesel::table! {
    /// Where a workspace's notifications go, and each budget's own webhook (`budget_id`).
    channels (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        name -> Text,
        kind -> Text,
        target -> Text,
        events -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        budget_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Channels a budget's alerts go to besides those subscribed to `budget`.
    budget_channels (budget_id, channel_id) {
        workspace_id -> BigInt,
        budget_id -> BigInt,
        channel_id -> BigInt,
    }
}

diesel::table! {
    /// The outbox: one row per occasion and channel (a budget's alert to its own webhook
    /// included, `alert_id`).
    notifications (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        channel_id -> BigInt,
        event -> Text,
        dedup_key -> Text,
        payload_json -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        held -> Nullable<Text>,
        alert_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// The addresses of email channels, each with its consent.
    channel_recipients (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        channel_id -> BigInt,
        address -> Text,
        asked -> Bool,
        confirmed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// What each workspace has used of each sending allowance in its current window.
    send_quota (workspace_id, kind) {
        workspace_id -> BigInt,
        kind -> Text,
        window_start -> BigInt,
        used -> Integer,
    }
}

diesel::table! {
    /// Every delivery attempt of a notification.
    notification_deliveries (notification_id, attempt) {
        workspace_id -> BigInt,
        notification_id -> BigInt,
        channel_id -> BigInt,
        attempt -> Integer,
        attempted_at -> Timestamp,
        target -> Text,
        status_code -> Nullable<Integer>,
        ok -> Bool,
        error -> Nullable<Text>,
        duration_ms -> BigInt,
    }
}

diesel::table! {
    /// Background jobs one instance at a time runs: the lease and what they did.
    maintenance (name) {
        name -> Text,
        holder -> Text,
        lease_until -> Timestamp,
        value -> BigInt,
    }
}

diesel::table! {
    /// Login attempts per limiter subject (a SHA-256) in its current window.
    login_attempts (key_hash) {
        key_hash -> Text,
        window_start -> BigInt,
        attempts -> Integer,
        window_micros -> BigInt,
    }
}

diesel::table! {
    /// Each account's running totals, with the ceilings that keep every sum in a BIGINT.
    ledger_totals (workspace_id) {
        workspace_id -> BigInt,
        cost_nanos -> BigInt,
        input_tokens -> BigInt,
        output_tokens -> BigInt,
    }
}

diesel::table! {
    /// The tenant: every resource belongs to a workspace. A user's personal workspace
    /// (`personal_of`) is made at signup and cannot be deleted.
    workspaces (id) {
        id -> BigInt,
        name -> Text,
        personal_of -> Nullable<BigInt>,
        /// Bumped with every change to the workspace's custom prices.
        prices_version -> BigInt,
        created_at -> Timestamp,
        /// IANA zone of the workspace's calendar (its weekly and monthly reports).
        timezone -> Text,
        /// ISO 4217 code the dashboard also shows amounts in (`USD`: dollars only).
        display_currency -> Text,
    }
}

diesel::table! {
    /// Who may act in a workspace, and with which role.
    workspace_members (workspace_id, user_id) {
        workspace_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        added_at -> Timestamp,
    }
}

diesel::table! {
    /// What was changed in a workspace, by whom; append-only.
    audit_log (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        at -> Timestamp,
        actor_kind -> Text,
        actor_id -> BigInt,
        actor_label -> Text,
        action -> Text,
        target_kind -> Text,
        target_id -> Text,
        details_json -> Text,
    }
}

diesel::table! {
    /// Who is invited to a workspace, with which role, by whom, until when.
    invitations (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        email -> Text,
        role -> Text,
        invited_by -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(invitations -> workspaces (workspace_id));
diesel::joinable!(invitations -> users (invited_by));

diesel::table! {
    /// Re-pricing runs (dry runs are not stored).
    reprice_runs (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        actor_id -> BigInt,
        actor_label -> Text,
        params_json -> Text,
        status -> Text,
        events_matched -> BigInt,
        events_changed -> BigInt,
        old_cost_nanos -> BigInt,
        new_cost_nanos -> BigInt,
        by_model_json -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Each catalog model's price history as this database last saw it.
    catalog_fingerprints (model) {
        model -> Text,
        fingerprint -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    reprice_runs,
    catalog_fingerprints,
    users,
    workspaces,
    workspace_members,
    invitations,
    audit_log,
    revoked_tokens,
    api_keys,
    events,
    event_tags,
    budgets,
    budget_alerts,
    event_rollups,
    tag_rollups,
    custom_prices,
    login_attempts,
    ledger_totals,
    channels,
    budget_channels,
    notifications,
    notification_deliveries,
    channel_recipients,
    send_quota,
    maintenance,
    notify_schedule,
    budget_reservations,
    commitments,
    contracts,
    billing_imports,
    billed_costs,
    fx_rates,
);

diesel::table! {
    /// When the notification scheduler next visits each workspace with channels.
    notify_schedule (workspace_id) {
        workspace_id -> BigInt,
        /// Microseconds since the epoch; a running visit's lease end.
        due_at -> BigInt,
        /// Something changed since the last full visit.
        changed -> Bool,
    }
}

diesel::table! {
    /// What live reservations hold against hard budgets: one row per reservation and
    /// budget, until the call's event settles it, it is released or it expires.
    budget_reservations (workspace_id, reservation_id, budget_id) {
        workspace_id -> BigInt,
        reservation_id -> Text,
        budget_id -> BigInt,
        /// The call's worst-case cost, nano-dollars.
        amount_nanos -> BigInt,
        /// Microseconds since the epoch.
        expires_at -> BigInt,
    }
}
