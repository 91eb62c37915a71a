//! The account rules alone: parse what a sign-up form sends (each bad field
//! named), hash the password with argon2id and check it at login.
//!
//! `cargo run -p sitga-user --example signup`

// An example prints, and stops at the first surprise.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use sitga_user::{
    AccountType, Email, Nickname, Password, Province, hash_password, verify_password,
};

fn main() {
    let email = Email::parse("  Angler@Example.COM ").unwrap();
    let nickname = Nickname::parse("바다사나이").unwrap();
    let password = Password::parse("correct horse battery").unwrap();
    let province = Province::parse("busan").unwrap();
    let account = AccountType::parse("member").unwrap();
    println!(
        "{} / {} / {} / {:?}",
        email.as_str(),
        nickname.as_str(),
        province.code(),
        account
    );

    // Bad input names the field and says what is wrong.
    for (what, result) in [
        ("e-mail", Email::parse("not-an-email").map(|_| ())),
        ("nickname", Nickname::parse("").map(|_| ())),
        ("password", Password::parse("short").map(|_| ())),
    ] {
        let e = result.unwrap_err();
        println!("{what}: {} — {}", e.field, e.message);
    }

    let hash = hash_password(&password).unwrap();
    assert!(verify_password(&password, &hash));
    assert!(!verify_password(
        &Password::parse("wrong horse battery").unwrap(),
        &hash
    ));
    println!("the argon2id hash verifies the password and refuses another");
}
