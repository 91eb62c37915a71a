//! The diesel schema, shared by both backends. The SQL lives in
//! `migrations/mysql` and `migrations/sqlite`; the two must declare the same
//! columns with compatible types (checked by the migration tests).

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        nickname -> Text,
        nickname_key -> Text,
        nickname_key_version -> SmallInt,
        name -> Text,
        phone -> Nullable<Text>,
        address -> Nullable<Text>,
        province -> Nullable<Text>,
        bank_account -> Nullable<Text>,
        account_type -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        banned_at -> Nullable<Timestamp>,
        banned_until -> Nullable<Timestamp>,
        ban_reason -> Nullable<Text>,
    }
}

diesel::table! {
    user_roles (user_id, role) {
        user_id -> BigInt,
        role -> Text,
        granted_at -> Timestamp,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        family_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        rotated_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::table! {
    wallets (user_id) {
        user_id -> BigInt,
        balance -> BigInt,
        held -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        amount -> BigInt,
        balance_after -> BigInt,
        held_after -> BigInt,
        auction_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    auctions (id) {
        id -> BigInt,
        seller_id -> BigInt,
        title -> Text,
        description -> Text,
        species -> Nullable<Text>,
        photo_url -> Nullable<Text>,
        start_price -> BigInt,
        min_increment -> BigInt,
        reserve_price -> Nullable<BigInt>,
        current_price -> Nullable<BigInt>,
        leader_id -> Nullable<BigInt>,
        bid_count -> BigInt,
        view_count -> BigInt,
        status -> Text,
        ends_at -> Timestamp,
        hard_end_at -> Timestamp,
        soft_close_seconds -> BigInt,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        increment_rule -> Text,
        buy_now_price -> Nullable<BigInt>,
        starts_at -> Nullable<Timestamp>,
        opened_at -> Nullable<Timestamp>,
        reminded_minutes -> SmallInt,
        leader_max -> Nullable<BigInt>,
        format -> Text,
    }
}

diesel::table! {
    clocks (auction_id) {
        auction_id -> BigInt,
        floor_price -> BigInt,
        step -> BigInt,
        step_seconds -> Integer,
        pause_seconds -> Integer,
        quantity -> Integer,
        remaining -> Integer,
        anchor_at -> Timestamp,
        anchor_price -> BigInt,
        told_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    bids (id) {
        id -> BigInt,
        auction_id -> BigInt,
        seq -> BigInt,
        bidder_id -> BigInt,
        amount -> BigInt,
        created_at -> Timestamp,
        client_ref -> Nullable<Text>,
        client_request -> Nullable<Text>,
        units -> Integer,
    }
}

diesel::table! {
    chat_messages (id) {
        id -> BigInt,
        auction_id -> BigInt,
        user_id -> Nullable<BigInt>,
        nickname -> Nullable<Text>,
        kind -> Text,
        body -> Text,
        amount -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (user_id, idem_key) {
        user_id -> BigInt,
        idem_key -> Text,
        request_hash -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(bids -> auctions (auction_id));
diesel::joinable!(clocks -> auctions (auction_id));
diesel::joinable!(chat_messages -> auctions (auction_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    user_roles,
    refresh_tokens,
    wallets,
    ledger_entries,
    auctions,
    clocks,
    bids,
    chat_messages,
    idempotency_keys,
    pickups,
    badges,
    user_badges,
    forecast_jobs,
    forecast_runs,
    forecast_points,
    chain_donations,
    chain_samples,
);

diesel::table! {
    pickups (id) {
        id -> BigInt,
        owner_id -> BigInt,
        kind -> Text,
        grams -> BigInt,
        measured_grams -> Nullable<BigInt>,
        status -> Text,
        province -> Nullable<Text>,
        collector_id -> Nullable<BigInt>,
        version -> BigInt,
        created_at -> Timestamp,
        claimed_at -> Nullable<Timestamp>,
        completed_at -> Nullable<Timestamp>,
        cancelled_at -> Nullable<Timestamp>,
        weight_confirmed_at -> Nullable<Timestamp>,
        counted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    businesses (user_id) {
        user_id -> BigInt,
        number -> Text,
        name -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        submitted_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(businesses, users);

diesel::table! {
    badges (code) {
        code -> Text,
        name_ko -> Text,
        name_en -> Text,
        how_ko -> Text,
        how_en -> Text,
        rarity -> Text,
        image -> Text,
        sort_order -> Integer,
    }
}

diesel::table! {
    user_badges (user_id, badge_code) {
        user_id -> BigInt,
        badge_code -> Text,
        awarded_at -> Timestamp,
    }
}

diesel::table! {
    forecast_jobs (id) {
        id -> Text,
        trigger_kind -> Text,
        status -> Text,
        requested_by -> Nullable<BigInt>,
        window_days -> Integer,
        horizon_days -> Integer,
        series_fitted -> Integer,
        series_skipped -> Integer,
        error -> Nullable<Text>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    forecast_runs (id) {
        id -> BigInt,
        job_id -> Nullable<Text>,
        kind -> Text,
        province -> Nullable<Text>,
        model -> Text,
        trained_at -> Timestamp,
        window_start -> Date,
        window_end -> Date,
        window_days -> Integer,
        horizon_days -> Integer,
        parameters -> Text,
        backtest_days -> Nullable<Integer>,
        backtest_mae_kg -> Nullable<Double>,
        backtest_wape -> Nullable<Double>,
    }
}

diesel::table! {
    forecast_points (run_id, day) {
        run_id -> BigInt,
        day -> Date,
        yhat_kg -> Double,
        lower_kg -> Double,
        upper_kg -> Double,
    }
}

diesel::joinable!(forecast_points -> forecast_runs (run_id));

diesel::table! {
    chain_donations (pickup_id) {
        pickup_id -> BigInt,
        donor_ref -> Text,
        grams -> BigInt,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        tx_hash -> Nullable<Text>,
        block_number -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    chain_samples (id) {
        id -> BigInt,
        sampled_at -> Timestamp,
        contract -> Text,
        latest_block -> BigInt,
        scanned_to -> BigInt,
        donation_count -> BigInt,
        transactions -> BigInt,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_id -> Nullable<BigInt>,
        action -> Text,
        subject_user_id -> Nullable<BigInt>,
        subject_auction_id -> Nullable<BigInt>,
        amount -> Nullable<BigInt>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    charges (id) {
        id -> BigInt,
        user_id -> BigInt,
        amount -> BigInt,
        provider -> Text,
        provider_ref -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payouts (id) {
        id -> BigInt,
        user_id -> BigInt,
        amount -> BigInt,
        bank_account -> Text,
        status -> Text,
        requested_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<BigInt>,
        note -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(payouts, users);

diesel::table! {
    photos (id) {
        id -> Text,
        owner_id -> BigInt,
        width -> Integer,
        height -> Integer,
        bytes -> BigInt,
        thumb -> Text,
        display -> Text,
        original -> Text,
        auction_id -> Nullable<BigInt>,
        position -> Nullable<Integer>,
        created_at -> Timestamp,
        attached_at -> Nullable<Timestamp>,
        sale_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    auction_lots (auction_id) {
        auction_id -> BigInt,
        weight_g -> Nullable<BigInt>,
        length_cm -> Nullable<BigInt>,
        caught_at -> Nullable<Timestamp>,
        catch_area -> Nullable<Text>,
        catch_province -> Nullable<Text>,
        storage -> Nullable<Text>,
        pickup_province -> Nullable<Text>,
        pickup_place -> Nullable<Text>,
        courier_fee -> Nullable<BigInt>,
        suggested_label -> Nullable<Text>,
        suggested_name_ko -> Nullable<Text>,
        suggested_probability -> Nullable<Double>,
        suggested_unknown -> Nullable<Bool>,
    }
}

diesel::table! {
    watchlist (user_id, auction_id) {
        user_id -> BigInt,
        auction_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sales (id) {
        id -> BigInt,
        auction_id -> BigInt,
        seller_id -> BigInt,
        buyer_id -> BigInt,
        price -> BigInt,
        fee_paid -> BigInt,
        escrow -> BigInt,
        state -> Text,
        state_since -> Timestamp,
        offers_pickup -> Bool,
        courier_fee -> Nullable<BigInt>,
        delivery -> Nullable<Text>,
        recipient -> Nullable<Text>,
        phone -> Nullable<Text>,
        postcode -> Nullable<Text>,
        line1 -> Nullable<Text>,
        line2 -> Nullable<Text>,
        courier -> Nullable<Text>,
        tracking_number -> Nullable<Text>,
        handover_code -> Nullable<Text>,
        failed_handovers -> Integer,
        reminded_at -> Nullable<Timestamp>,
        dispute_reason -> Nullable<Text>,
        to_seller -> Nullable<BigInt>,
        to_buyer -> Nullable<BigInt>,
        ended_at -> Nullable<Timestamp>,
        version -> BigInt,
        created_at -> Timestamp,
        units -> Integer,
        bid_seq -> Nullable<BigInt>,
    }
}

diesel::table! {
    sale_events (id) {
        id -> BigInt,
        sale_id -> BigInt,
        event -> Text,
        actor_id -> Nullable<BigInt>,
        at -> Timestamp,
    }
}

diesel::table! {
    sale_ratings (sale_id, rater_id) {
        sale_id -> BigInt,
        rater_id -> BigInt,
        ratee_id -> BigInt,
        stars -> SmallInt,
        comment -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(sales, auctions);

diesel::table! {
    notifications (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        dedupe_key -> Text,
        auction_id -> Nullable<BigInt>,
        sale_id -> Nullable<BigInt>,
        pickup_id -> Nullable<BigInt>,
        text_ko -> Text,
        text_en -> Text,
        created_at -> Timestamp,
        read_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    notification_settings (user_id, kind) {
        user_id -> BigInt,
        kind -> Text,
        enabled -> SmallInt,
    }
}

diesel::table! {
    fish_models (id) {
        id -> BigInt,
        name -> Text,
        version -> Integer,
        digest -> Text,
        manifest -> Text,
        weights -> Binary,
        metrics -> Text,
        installed_by -> Text,
        installed_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}
