//! Diesel table definitions, written by hand to match both migration trees.

diesel::table! {
    cost_records (record_key) {
        record_key -> Binary,
        content_hash -> Binary,
        source -> Text,
        availability_zone -> Nullable<Text>,
        billed_cost -> BigInt,
        billing_account_id -> Text,
        billing_account_name -> Nullable<Text>,
        billing_currency -> Text,
        billing_period_end -> Timestamp,
        billing_period_start -> Timestamp,
        charge_category -> Text,
        charge_class -> Nullable<Text>,
        charge_description -> Nullable<Text>,
        charge_frequency -> Nullable<Text>,
        charge_period_end -> Timestamp,
        charge_period_start -> Timestamp,
        commitment_discount_category -> Nullable<Text>,
        commitment_discount_id -> Nullable<Text>,
        commitment_discount_name -> Nullable<Text>,
        commitment_discount_status -> Nullable<Text>,
        commitment_discount_type -> Nullable<Text>,
        consumed_quantity -> Nullable<Text>,
        consumed_unit -> Nullable<Text>,
        contracted_cost -> Nullable<BigInt>,
        contracted_unit_price -> Nullable<Text>,
        effective_cost -> BigInt,
        invoice_issuer_name -> Nullable<Text>,
        list_cost -> Nullable<BigInt>,
        list_unit_price -> Nullable<Text>,
        pricing_category -> Nullable<Text>,
        pricing_quantity -> Nullable<Text>,
        pricing_unit -> Nullable<Text>,
        provider_name -> Text,
        publisher_name -> Nullable<Text>,
        region_id -> Nullable<Text>,
        region_name -> Nullable<Text>,
        resource_id -> Nullable<Text>,
        resource_name -> Nullable<Text>,
        resource_type -> Nullable<Text>,
        service_category -> Nullable<Text>,
        service_name -> Text,
        sku_id -> Nullable<Text>,
        sku_price_id -> Nullable<Text>,
        sub_account_id -> Nullable<Text>,
        sub_account_name -> Nullable<Text>,
        tags -> Nullable<Text>,
        ingested_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    llm_usage (record_key) {
        record_key -> Binary,
        content_hash -> Binary,
        source -> Text,
        provider -> Text,
        model -> Text,
        api_key_id -> Text,
        api_key_name -> Nullable<Text>,
        project_id -> Text,
        bucket_start -> Timestamp,
        bucket_end -> Timestamp,
        input_tokens -> BigInt,
        cached_input_tokens -> BigInt,
        output_tokens -> BigInt,
        requests -> BigInt,
        cost -> Nullable<BigInt>,
        currency -> Text,
        ingested_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        key_prefix -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    ingest_cursors (source) {
        source -> Text,
        cursor -> Text,
        last_success_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sim_resource_stops (resource_id) {
        resource_id -> Text,
        stopped_at -> Timestamp,
        stopped_by -> Text,
    }
}

diesel::table! {
    anomalies (id) {
        id -> Text,
        series_key -> Text,
        series_kind -> Text,
        provider -> Nullable<Text>,
        sub_account -> Nullable<Text>,
        service -> Nullable<Text>,
        label -> Text,
        origin -> Text,
        direction -> Text,
        state -> Text,
        severity -> Text,
        description -> Nullable<Text>,
        started_at -> Timestamp,
        last_out_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        step_secs -> BigInt,
        points -> BigInt,
        actual -> BigInt,
        expected -> BigInt,
        projected_daily -> BigInt,
        currency -> Text,
        peak_z -> Double,
        root_causes -> Text,
        feedback -> Nullable<Text>,
        feedback_by -> Nullable<Text>,
        feedback_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        mitigated_at -> Nullable<Timestamp>,
        merged_into -> Nullable<Text>,
        verdict -> Nullable<Text>,
        provisional -> Bool,
    }
}

diesel::table! {
    anomaly_events (id) {
        id -> BigInt,
        anomaly_id -> Text,
        kind -> Text,
        at -> Timestamp,
        actor -> Text,
        severity -> Text,
        impact -> BigInt,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    anomaly_suppressions (id) {
        id -> Text,
        series_key -> Text,
        anomaly_id -> Nullable<Text>,
        from_at -> Timestamp,
        until_at -> Timestamp,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    detect_series (series_key) {
        series_key -> Text,
        series_kind -> Text,
        label -> Text,
        step_secs -> BigInt,
        points -> BigInt,
        ready -> Bool,
        last_point_at -> Timestamp,
        last_actual -> BigInt,
        last_expected -> BigInt,
        currency -> Text,
        updated_at -> Timestamp,
        history -> Text,
        running_point_at -> Nullable<Timestamp>,
        running_so_far -> Nullable<BigInt>,
        running_seen_at -> Nullable<Timestamp>,
        running_rate -> Nullable<BigInt>,
        running_settled -> Nullable<Bool>,
        forecast_profile -> Nullable<Text>,
    }
}

diesel::joinable!(anomaly_events -> anomalies (anomaly_id));
diesel::allow_tables_to_appear_in_same_query!(anomalies, anomaly_events);

diesel::table! {
    actions (id) {
        id -> Text,
        anomaly_id -> Nullable<Text>,
        kind -> Text,
        target -> Text,
        provider -> Nullable<Text>,
        account -> Nullable<Text>,
        params -> Text,
        risk -> Text,
        status -> Text,
        estimated_saving_per_hour -> BigInt,
        proposed_by -> Text,
        routed_at -> Nullable<Timestamp>,
        approvals -> Text,
        reason -> Nullable<Text>,
        idempotency_key -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        recovered -> Nullable<BigInt>,
        cost_verified_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    action_transitions (id) {
        id -> BigInt,
        action_id -> Text,
        from_status -> Text,
        to_status -> Text,
        command -> Text,
        actor -> Text,
        at -> Timestamp,
        comment -> Nullable<Text>,
        reason -> Nullable<Text>,
        build_sha -> Text,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        at -> Text,
        actor -> Text,
        action -> Text,
        target -> Text,
        before_state -> Nullable<Text>,
        after_state -> Nullable<Text>,
        build_sha -> Text,
        result -> Text,
        detail -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
        last_login_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        notice -> Nullable<Text>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(sessions, users);

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        user_name -> Text,
        address -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    setup_tokens (token_hash) {
        token_hash -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    credentials (provider, field) {
        provider -> Text,
        field -> Text,
        nonce -> Text,
        ciphertext -> Text,
        updated_at -> Timestamp,
        updated_by -> Text,
    }
}

diesel::table! {
    provider_settings (provider) {
        provider -> Text,
        enabled -> Bool,
        schedule -> Text,
        updated_at -> Timestamp,
        updated_by -> Text,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        dedupe_key -> Text,
        destination -> Text,
        event -> Text,
        subject_id -> Text,
        severity -> Text,
        payload -> Text,
        status -> Text,
        attempts -> BigInt,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    notify_cursors (stream) {
        stream -> Text,
        last_id -> BigInt,
    }
}

diesel::table! {
    leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    wakeups (topic) {
        topic -> Text,
        seq -> BigInt,
    }
}

diesel::table! {
    slack_requests_seen (signature) {
        signature -> Text,
        seen_at -> BigInt,
    }
}

// The rollups (ledger/rollups): queried with SQL of their own; these are for inserts.
diesel::table! {
    cost_hourly (hour, provider_name, service_name) {
        hour -> Timestamp,
        provider_name -> Text,
        sub_account_id -> Nullable<Text>,
        service_name -> Text,
        region_id -> Nullable<Text>,
        billing_currency -> Text,
        billed_whole -> BigInt,
        billed_fraction -> BigInt,
        effective_whole -> BigInt,
        effective_fraction -> BigInt,
        records -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    cost_tag_hourly (hour, tag_key, tag_value) {
        hour -> Timestamp,
        tag_key -> Text,
        tag_value -> Text,
        billing_currency -> Text,
        effective_whole -> BigInt,
        effective_fraction -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    budgets (id) {
        id -> Text,
        name -> Text,
        spec -> Text,
        managed_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        status -> Nullable<Text>,
        evaluated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    budget_crossings (id) {
        id -> BigInt,
        budget_id -> Text,
        period_start -> Timestamp,
        percent -> BigInt,
        basis -> Text,
        at -> Timestamp,
    }
}

diesel::joinable!(budget_crossings -> budgets (budget_id));
diesel::allow_tables_to_appear_in_same_query!(budgets, budget_crossings);
