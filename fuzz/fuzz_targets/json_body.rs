//! The request-body reader (`http::body::read`): the first line of the input is the
//! `Content-Type` header's text (an input without a line break has no header), the rest is the
//! body. Never a panic; a refusal is a 415 or the platform's 400; a blank body is no body; what
//! is read goes through `into_object` (what the handlers call) without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::http::body;

fuzz_target!(|data: &[u8]| {
    let (content_type, bytes) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (std::str::from_utf8(&data[..at]).ok(), &data[at + 1..]),
        None => (None, data),
    };
    match body::read(content_type, bytes) {
        Ok(read) => {
            let _ = read.into_object();
        }
        Err(e) => {
            let unreadable =
                e.status.as_u16() == 400 && e.message == "Exception while reading request";
            let unsupported = e.status.as_u16() == 415;
            assert!(unreadable || unsupported, "{e:?}");
            // A blank body is refused only for its type.
            if bytes.iter().all(u8::is_ascii_whitespace) {
                assert!(unsupported, "{e:?}");
            }
        }
    }
});
