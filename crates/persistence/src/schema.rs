//! The diesel schema, shared by both backends. The SQL lives in
//! `migrations/mysql` and `migrations/sqlite`; the two must declare the same
//! columns with compatible types (checked by the migration tests).

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        nickname -> Text,
        nickname_key -> Text,
        name -> Text,
        phone -> Nullable<Text>,
        address -> Nullable<Text>,
        province -> Nullable<Text>,
        bank_account -> Nullable<Text>,
        account_type -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
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
diesel::allow_tables_to_appear_in_same_query!(users, user_roles, refresh_tokens);
