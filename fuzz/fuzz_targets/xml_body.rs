//! The XML request-body reader. Never a panic; what it reads holds only characters XML allows
//! (so no NUL reaches a database); whatever it reads renders back as XML it can read again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use switchboard::http::xml::{self, XmlError};

fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings(v, out);
        }),
        _ => {}
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = xml::read(data) else {
        return;
    };
    let mut texts = Vec::new();
    strings(&value, &mut texts);
    for text in &texts {
        assert!(text.chars().all(is_xml_char), "{text:?}");
    }
    // A response echoes what was read: it must be well-formed (its envelope adds two levels,
    // which may pass the reader's depth limit).
    let written = xml::write_result(&value);
    match xml::read(written.as_bytes()) {
        Ok(_) | Err(XmlError::TooDeep) => {}
        Err(e) => panic!("{e}: {written}"),
    }
});
