//! The WebSocket frame decoder never panics and always names a reason for
//! a frame it refuses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err((code, message)) = sitga_api::ws::decode_frame(text) {
        assert!(!code.as_str().is_empty() && !message.is_empty());
    }
});
