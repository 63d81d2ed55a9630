//! XML request bodies and responses.
//!
//! ServiceNow's REST APIs accept and return XML as well as JSON. Rather than
//! giving every handler a second code path, we map XML onto `serde_json::Value`
//! on the way in ([`read`]) and render `Value`s as XML on the way out
//! ([`write_result`], [`write_error`]), so one code path handles both formats.
//!
//! The reader is deliberately strict: no DOCTYPE (so no custom entity expansion
//! and no "billion laughs"), only the predefined entities and character
//! references, bounded nesting, one root element.

use std::borrow::Cow;

use quick_xml::errors::Error as QxError;
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use serde_json::{Map, Value};

/// Limits applied while reading an XML request body.
///
/// Depth counts element levels including the root: a root element is at depth 1,
/// its children at depth 2, and so on. A document whose deepest element is at
/// depth `MAX_DEPTH` is accepted; one level more is refused.
pub const MAX_DEPTH: usize = 64;

pub(crate) const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Why an XML request body was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum XmlError {
    #[error("XML is malformed: {reason} at byte {at}")]
    Malformed { reason: String, at: u64 },
    #[error("XML body is not valid UTF-8 (invalid byte at offset {at})")]
    InvalidUtf8 { at: usize },
    #[error("XML document type declarations (DOCTYPE) are not accepted")]
    DocType,
    #[error("XML nesting deeper than {} levels is not accepted", MAX_DEPTH)]
    TooDeep,
    #[error("XML body has no root element")]
    NoRoot,
    #[error("XML body has more than one root element")]
    MultipleRoots,
    #[error("XML body has text outside the root element")]
    TextOutsideRoot,
    #[error("XML root element must contain child elements, not text")]
    TextInRoot,
    #[error("XML element '<{0}>' mixes text with child elements, which is not accepted")]
    MixedContent(String),
    #[error("XML entity '&{0};' is not defined")]
    UndefinedEntity(String),
    #[error("XML character reference '&{0};' is not a valid character")]
    InvalidCharRef(String),
    #[error("XML element '<{0}>' is not closed before the end of the body")]
    Unclosed(String),
    #[error("XML text holds U+{0:04X}, a character XML does not allow")]
    InvalidChar(u32),
}

/// An element being read: its local name, its text and its child elements.
struct Frame {
    name: String,
    text: String,
    children: Map<String, Value>,
    has_children: bool,
}

impl Frame {
    fn new(name: &str) -> Self {
        Frame {
            name: name.to_owned(),
            text: String::new(),
            children: Map::new(),
            has_children: false,
        }
    }

    /// Adds a child element's value; a repeated name turns into an array.
    /// Element values are never arrays themselves, so an existing array can
    /// only come from an earlier repetition.
    fn add_child(&mut self, name: String, value: Value) {
        self.has_children = true;
        match self.children.get_mut(&name) {
            None => {
                self.children.insert(name, value);
            }
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        }
    }

    fn into_value(self) -> Result<Value, XmlError> {
        if !self.has_children {
            return Ok(Value::String(self.text));
        }
        if !is_blank(&self.text) {
            return Err(XmlError::MixedContent(self.name));
        }
        Ok(Value::Object(self.children))
    }
}

/// Parse a request body into JSON.
///
/// The root element's name is ignored; its children become the keys of the
/// returned object. `<request><entry>...</entry></request>` (ServiceNow's
/// Table API XML form) is unwrapped to `entry`'s children.
pub fn read(body: &[u8]) -> Result<Value, XmlError> {
    let text = std::str::from_utf8(body).map_err(|e| XmlError::InvalidUtf8 {
        at: e.valid_up_to(),
    })?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Frame> = None;

    loop {
        let at = reader.buffer_position();
        let event = reader.read_event().map_err(|e| XmlError::Malformed {
            reason: describe(&e),
            at: reader.error_position(),
        })?;
        match event {
            Event::Start(_) | Event::Empty(_) if stack.is_empty() && root.is_some() => {
                return Err(XmlError::MultipleRoots);
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(Frame::new(element_name(start.local_name().as_ref(), at)?));
            }
            Event::Empty(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let frame = Frame::new(element_name(start.local_name().as_ref(), at)?);
                close(frame, &mut stack, &mut root)?;
            }
            Event::End(_) => match stack.pop() {
                Some(frame) => close(frame, &mut stack, &mut root)?,
                // quick-xml reports unmatched end tags itself; be defensive.
                None => return Err(malformed("end tag without a start tag", at)),
            },
            // Only plain whitespace may stand outside the root, never CDATA or references.
            Event::CData(_) | Event::GeneralRef(_) if stack.is_empty() => {
                return Err(XmlError::TextOutsideRoot);
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::GeneralRef(r) => {
                let decoded = match r.resolve_char_ref() {
                    Ok(Some(c)) if is_xml_char(c) => c.to_string(),
                    Ok(Some(_)) | Err(_) => return Err(XmlError::InvalidCharRef(r.to_string())),
                    Ok(None) => match resolve_xml_entity(&r) {
                        Some(s) => s.to_owned(),
                        None => return Err(XmlError::UndefinedEntity(r.to_string())),
                    },
                };
                push_text(&mut stack, &decoded)?;
            }
            Event::DocType(_) => return Err(XmlError::DocType),
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
            Event::Eof => break,
        }
    }

    if let Some(open) = stack.pop() {
        return Err(XmlError::Unclosed(open.name));
    }
    let root = root.ok_or(XmlError::NoRoot)?;
    if !is_blank(&root.text) {
        return Err(if root.has_children {
            XmlError::MixedContent(root.name)
        } else {
            XmlError::TextInRoot
        });
    }
    let mut fields = root.children;
    if fields.len() == 1 {
        match fields.remove("entry") {
            Some(Value::Object(entry)) => return Ok(Value::Object(entry)),
            Some(Value::String(s)) if s.is_empty() => return Ok(Value::Object(Map::new())),
            Some(other) => {
                fields.insert("entry".to_owned(), other);
            }
            None => {}
        }
    }
    Ok(Value::Object(fields))
}

/// Finishes an element: attaches it to its parent, or makes it the root.
fn close(frame: Frame, stack: &mut [Frame], root: &mut Option<Frame>) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => {
            let name = frame.name.clone();
            parent.add_child(name, frame.into_value()?);
        }
        None => *root = Some(frame),
    }
    Ok(())
}

fn push_text(stack: &mut [Frame], text: &str) -> Result<(), XmlError> {
    if let Some(c) = text.chars().find(|c| !is_xml_char(*c)) {
        return Err(XmlError::InvalidChar(u32::from(c)));
    }
    match stack.last_mut() {
        Some(frame) => frame.text.push_str(text),
        None if is_blank(text) => {}
        None => return Err(XmlError::TextOutsideRoot),
    }
    Ok(())
}

/// An element's local name (its prefix removed), which becomes a key: it must be an XML name,
/// so no character XML forbids (a NUL, a control character) reaches a key. quick-xml reads
/// whatever stands between `<` and the first space, `/` or `>` as the name.
fn element_name(name: &str, at: u64) -> Result<&str, XmlError> {
    let mut chars = name.chars();
    match chars.next() {
        None => Err(malformed("element without a name", at)),
        Some(first) if is_name_start(first) && chars.all(is_name_char) => Ok(name),
        Some(_) => Err(malformed("element name is not a valid XML name", at)),
    }
}

fn malformed(reason: &str, at: u64) -> XmlError {
    XmlError::Malformed {
        reason: reason.to_owned(),
        at,
    }
}

/// quick-xml's own message, without its "syntax error:" style category prefix.
fn describe(error: &QxError) -> String {
    match error {
        QxError::Syntax(e) => e.to_string(),
        QxError::IllFormed(e) => e.to_string(),
        other => other.to_string(),
    }
}

fn is_blank(text: &str) -> bool {
    text.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// Characters allowed in an XML 1.0 document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Render a success envelope:
/// `<?xml version="1.0" encoding="UTF-8"?><response><result>...</result></response>`.
///
/// An array result becomes one `<result>` per item.
pub fn write_result(result: &Value) -> String {
    let mut out = String::from(DECLARATION);
    out.push_str("<response>");
    write_value(&mut out, "result", result);
    out.push_str("</response>");
    out
}

/// Render an answer without the `result` envelope: an object's fields inside `<response>`
/// (anything else as `<response>`'s one element, `result`).
pub fn write_bare(value: &Value) -> String {
    let Value::Object(fields) = value else {
        return write_result(value);
    };
    let mut out = String::from(DECLARATION);
    out.push_str("<response>");
    for (name, field) in fields {
        write_value(&mut out, &xml_name(name), field);
    }
    out.push_str("</response>");
    out
}

/// Render an error envelope:
/// `<response><error><message>M</message><detail>D</detail></error><status>failure</status></response>`.
pub fn write_error(message: &str, detail: Option<&str>) -> String {
    let mut out = String::from(DECLARATION);
    out.push_str("<response><error><message>");
    push_escaped(&mut out, message);
    out.push_str("</message>");
    match detail {
        Some(detail) => {
            out.push_str("<detail>");
            push_escaped(&mut out, detail);
            out.push_str("</detail>");
        }
        None => out.push_str("<detail/>"),
    }
    out.push_str("</error><status>failure</status></response>");
    out
}

/// Writes `value` as element(s) named `name` (already a valid XML name).
fn write_value(out: &mut String, name: &str, value: &Value) {
    let text = match value {
        Value::Array(items) => {
            for item in items {
                write_value(out, name, item);
            }
            return;
        }
        Value::Null => {
            out.extend(["<", name, "/>"]);
            return;
        }
        Value::Object(fields) => {
            out.extend(["<", name, ">"]);
            for (key, item) in fields {
                write_value(out, &xml_name(key), item);
            }
            out.extend(["</", name, ">"]);
            return;
        }
        Value::String(s) => Cow::Borrowed(s.as_str()),
        Value::Bool(_) | Value::Number(_) => Cow::Owned(value.to_string()),
    };
    out.extend(["<", name, ">"]);
    push_escaped(out, &text);
    out.extend(["</", name, ">"]);
}

/// Escapes text content; drops characters XML 1.0 cannot carry. `\r` is
/// written as a character reference so parsers do not normalise it away.
pub(crate) fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
}

/// Turns a JSON key into a valid XML element name: invalid characters become
/// `_`, and `_` is prefixed when the first character cannot start a name.
/// `:` is replaced too, so keys never turn into namespace prefixes.
pub(crate) fn xml_name(key: &str) -> Cow<'_, str> {
    let mut chars = key.chars();
    if chars.next().is_some_and(is_name_start) && chars.all(is_name_char) {
        return Cow::Borrowed(key);
    }
    let mut name = String::with_capacity(key.len() + 1);
    for c in key.chars() {
        if name.is_empty() && !is_name_start(c) && is_name_char(c) {
            name.push('_');
        }
        name.push(if is_name_char(c) { c } else { '_' });
    }
    if name.is_empty() {
        name.push('_');
    }
    Cow::Owned(name)
}

/// XML 1.0 (5th edition) NameStartChar, without `:`.
fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 (5th edition) NameChar, without `:`.
fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c,
            '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(xml: &str) -> Value {
        read(xml.as_bytes()).unwrap_or_else(|e| panic!("{xml:?} should parse: {e}"))
    }

    fn err(xml: &[u8]) -> XmlError {
        match read(xml) {
            Ok(v) => panic!(
                "{:?} should be refused, got {v}",
                String::from_utf8_lossy(xml)
            ),
            Err(e) => e,
        }
    }

    /// `n` nested elements (root included), the innermost holding `v`.
    fn nested(n: usize) -> String {
        let open: String = (0..n).map(|i| format!("<e{i}>")).collect();
        let close: String = (0..n).rev().map(|i| format!("</e{i}>")).collect();
        format!("{open}v{close}")
    }

    #[test]
    fn plain_form_uses_root_children_whatever_the_root_name() {
        let xml =
            "<record><short_description>Printer</short_description><priority>2</priority></record>";
        assert_eq!(
            ok(xml),
            json!({"short_description": "Printer", "priority": "2"})
        );
        assert_eq!(ok("<anything><a>1</a></anything>"), json!({"a": "1"}));
    }

    #[test]
    fn entry_form_is_unwrapped() {
        let xml = "<request><entry><short_description>x</short_description><active>true</active></entry></request>";
        assert_eq!(ok(xml), json!({"short_description": "x", "active": "true"}));
        assert_eq!(ok("<request><entry/></request>"), json!({}));
        // Only when `entry` is the one and only child element.
        assert_eq!(
            ok("<request><entry><a>1</a></entry><b>2</b></request>"),
            json!({"entry": {"a": "1"}, "b": "2"})
        );
        assert_eq!(
            ok("<request><entry><a>1</a></entry><entry><a>2</a></entry></request>"),
            json!({"entry": [{"a": "1"}, {"a": "2"}]})
        );
        assert_eq!(
            ok("<request><entry>text</entry></request>"),
            json!({"entry": "text"})
        );
    }

    #[test]
    fn nested_elements_become_objects() {
        let xml = "<r><caller><name>Ann</name><dept><id>7</id></dept></caller></r>";
        assert_eq!(
            ok(xml),
            json!({"caller": {"name": "Ann", "dept": {"id": "7"}}})
        );
    }

    #[test]
    fn repeated_names_become_arrays_in_order() {
        let xml = "<r><ids><id>a</id><id>b</id><id>c</id></ids><one><id>x</id></one></r>";
        assert_eq!(
            ok(xml),
            json!({"ids": {"id": ["a", "b", "c"]}, "one": {"id": "x"}})
        );
        assert_eq!(
            ok("<r><v><k>1</k></v><v>s</v></r>"),
            json!({"v": [{"k": "1"}, "s"]})
        );
    }

    #[test]
    fn empty_elements_are_empty_strings() {
        assert_eq!(
            ok("<r><a/><b></b><c /></r>"),
            json!({"a": "", "b": "", "c": ""})
        );
        assert_eq!(ok("<r/>"), json!({}));
        assert_eq!(ok("<r>\n  </r>"), json!({}));
    }

    #[test]
    fn entities_and_char_refs_are_decoded() {
        let xml = "<r><t>&lt;a&gt; &amp; &quot;q&quot; &apos;s&apos; &#65;&#x42;&#x1F600;</t></r>";
        assert_eq!(ok(xml), json!({"t": "<a> & \"q\" 's' AB\u{1F600}"}));
    }

    #[test]
    fn cdata_is_text() {
        let xml = "<r><t>a<![CDATA[<b>&amp;</b>]]>c</t><u><![CDATA[]]></u></r>";
        assert_eq!(ok(xml), json!({"t": "a<b>&amp;</b>c", "u": ""}));
    }

    #[test]
    fn whitespace_is_kept_in_text_and_ignored_between_elements() {
        let xml = "<r>\n  <a>  padded  </a>\n  <b>   </b>\n  <c>\n    <d>1</d>\n  </c>\n</r>\n";
        assert_eq!(
            ok(xml),
            json!({"a": "  padded  ", "b": "   ", "c": {"d": "1"}})
        );
    }

    #[test]
    fn attributes_comments_pis_declaration_and_prefixes_are_ignored() {
        let xml = "\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- hi -->\
            <ns:request xmlns:ns=\"urn:x\" a=\"1\"><?pi data?><ns:name lang='en'>n</ns:name>\
            <!-- c --><plain x='y'/></ns:request><!-- bye -->";
        assert_eq!(ok(xml), json!({"name": "n", "plain": ""}));
    }

    #[test]
    fn refusals() {
        assert_eq!(err(b""), XmlError::NoRoot);
        assert_eq!(err(b" \n\t "), XmlError::NoRoot);
        assert_eq!(
            err(b"<?xml version=\"1.0\"?><!-- only -->"),
            XmlError::NoRoot
        );
        assert_eq!(err(b"<!DOCTYPE r><r/>"), XmlError::DocType);
        let laughs = b"<!DOCTYPE r [<!ENTITY a \"ha\"><!ENTITY b \"&a;&a;&a;\">]><r><x>&b;</x></r>";
        assert_eq!(err(laughs), XmlError::DocType);
        assert_eq!(
            err(b"<r><x>&foo;</x></r>"),
            XmlError::UndefinedEntity("foo".into())
        );
        assert_eq!(
            err(b"<r><x>&#0;</x></r>"),
            XmlError::InvalidCharRef("#0".into())
        );
        assert_eq!(
            err(b"<r><x>&#1;</x></r>"),
            XmlError::InvalidCharRef("#1".into())
        );
        assert_eq!(
            err(b"<r><x>&#xZZ;</x></r>"),
            XmlError::InvalidCharRef("#xZZ".into())
        );
        assert_eq!(err(b"<a/><b/>"), XmlError::MultipleRoots);
        assert_eq!(err(b"<a></a><b></b>"), XmlError::MultipleRoots);
        assert_eq!(err(b"hello<r/>"), XmlError::TextOutsideRoot);
        assert_eq!(err(b"<r/>hello"), XmlError::TextOutsideRoot);
        assert_eq!(err(b"<r/>&amp;"), XmlError::TextOutsideRoot);
        assert_eq!(err(b"&#32;<r/>"), XmlError::TextOutsideRoot);
        assert_eq!(err(b"<r/><![CDATA[ ]]>"), XmlError::TextOutsideRoot);
        assert_eq!(err(b"<r>just text</r>"), XmlError::TextInRoot);
        assert_eq!(
            err(b"<r><a>1</a>stray</r>"),
            XmlError::MixedContent("r".into())
        );
        assert_eq!(
            err(b"<r><a>x<b>1</b></a></r>"),
            XmlError::MixedContent("a".into())
        );
        assert_eq!(
            err(b"<r><a><b>1</b>&amp;</a></r>"),
            XmlError::MixedContent("a".into())
        );
        assert_eq!(err(b"<r><a>1</a>"), XmlError::Unclosed("r".into()));
        assert_eq!(
            err(b"<r><a>1</r>"),
            XmlError::Malformed {
                reason: "expected `</a>`, but `</r>` was found".into(),
                at: 7,
            }
        );
        assert!(matches!(err(b"</r>"), XmlError::Malformed { at: 0, .. }));
        assert!(matches!(
            err(b"<r><a>1</a"),
            XmlError::Malformed { at: 7, .. }
        ));
        assert!(matches!(
            err(b"<r><a>x & y</a></r>"),
            XmlError::Malformed { .. }
        ));
        assert!(matches!(
            err(b"<r><a>x < y</a></r>"),
            XmlError::Malformed { .. }
        ));
        assert_eq!(err(b"<r><a>\xFF</a></r>"), XmlError::InvalidUtf8 { at: 6 });
    }

    /// Found by `fuzz/run.sh` (xml_body; input kept in `fuzz/regressions/xml_body/`): element
    /// names were taken as quick-xml found them, so a NUL or a control character could reach a
    /// key. Names must now be XML names.
    #[test]
    fn element_names_must_be_xml_names() {
        let invalid = XmlError::Malformed {
            reason: "element name is not a valid XML name".into(),
            at: 19,
        };
        assert_eq!(err(b"<r xmlns:p=\"urn:p\"><p:#\0\0\0)/></r>"), invalid);
        for document in [
            &b"<r><a\0>x</a\0></r>"[..],
            b"<r><a\x01/></r>",
            b"<r><1a>x</1a></r>",
            b"<r><-a/></r>",
            b"<r><a#b/></r>",
            b"<\x7f/>",
        ] {
            assert!(
                matches!(err(document), XmlError::Malformed { .. }),
                "{}",
                String::from_utf8_lossy(document)
            );
        }
        // Every XML name is still read: letters of any script, digits, `-`, `.`, `_`, prefixes.
        assert_eq!(
            ok("<r><_a-1.b>x</_a-1.b><p:name>y</p:name><\u{e9}t\u{e9}>z</\u{e9}t\u{e9}></r>"),
            json!({"_a-1.b": "x", "name": "y", "\u{e9}t\u{e9}": "z"})
        );
    }

    #[test]
    fn error_messages_are_sentences() {
        let cases = [
            (
                XmlError::DocType,
                "XML document type declarations (DOCTYPE) are not accepted",
            ),
            (
                XmlError::TooDeep,
                "XML nesting deeper than 64 levels is not accepted",
            ),
            (XmlError::NoRoot, "XML body has no root element"),
            (
                XmlError::UndefinedEntity("foo".into()),
                "XML entity '&foo;' is not defined",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
        assert_eq!(
            err(b"<r><a>1</a").to_string(),
            "XML is malformed: tag not closed: `>` not found before end of input at byte 7"
        );
    }

    #[test]
    fn depth_limit_counts_element_levels_including_the_root() {
        // 64 levels: root e0 .. innermost e63 — accepted.
        let mut value = &ok(&nested(MAX_DEPTH));
        for i in 1..MAX_DEPTH {
            value = &value[format!("e{i}")];
        }
        assert_eq!(value, "v");
        // 65 levels — refused, whether the innermost element is `<x></x>` or `<x/>`.
        assert_eq!(err(nested(MAX_DEPTH + 1).as_bytes()), XmlError::TooDeep);
        let open = "<a>".repeat(MAX_DEPTH - 1);
        let close = "</a>".repeat(MAX_DEPTH - 1);
        assert!(read(format!("{open}<b/>{close}").as_bytes()).is_ok());
        let deeper = format!("<a>{open}<b/>{close}</a>");
        assert_eq!(err(deeper.as_bytes()), XmlError::TooDeep);
        // Far deeper input fails fast instead of exhausting memory or the stack.
        assert_eq!(err("<a>".repeat(100_000).as_bytes()), XmlError::TooDeep);
    }

    #[test]
    fn write_result_envelopes() {
        let head = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
        assert_eq!(
            write_result(&json!({"n": 42, "none": null, "ok": true, "sys_id": "abc"})),
            format!(
                "{head}<response><result><n>42</n><none/><ok>true</ok><sys_id>abc</sys_id></result></response>"
            )
        );
        assert_eq!(
            write_result(&json!([{"a": "1"}, {"a": "2"}])),
            format!(
                "{head}<response><result><a>1</a></result><result><a>2</a></result></response>"
            )
        );
        assert_eq!(
            write_result(&json!([])),
            format!("{head}<response></response>")
        );
        assert_eq!(
            write_result(&json!("s")),
            format!("{head}<response><result>s</result></response>")
        );
        assert_eq!(
            write_result(&Value::Null),
            format!("{head}<response><result/></response>")
        );
        assert_eq!(
            write_result(
                &json!({"mappingIds": ["a", "b"], "none": [], "nested": {"x": [1, null]}})
            ),
            format!(
                "{head}<response><result><mappingIds>a</mappingIds><mappingIds>b</mappingIds>\
                 <nested><x>1</x><x/></nested></result></response>"
            )
        );
    }

    #[test]
    fn write_bare_answers() {
        let head = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
        assert_eq!(
            write_bare(
                &json!({"message": "m", "segment": {"codes": [{"a": "1"}, {"a": "2"}]},
                                "success": true})
            ),
            format!(
                "{head}<response><message>m</message><segment><codes><a>1</a></codes>\
                 <codes><a>2</a></codes></segment><success>true</success></response>"
            )
        );
        // Not an object: as a result.
        assert_eq!(write_bare(&json!("s")), write_result(&json!("s")));
    }

    #[test]
    fn write_error_envelopes() {
        let head = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
        assert_eq!(
            write_error(
                "No Record found",
                Some("Record doesn't exist or ACL restricts the record retrieval")
            ),
            format!(
                "{head}<response><error><message>No Record found</message><detail>Record doesn't exist \
                 or ACL restricts the record retrieval</detail></error><status>failure</status></response>"
            )
        );
        assert_eq!(
            write_error("a < b & c", None),
            format!(
                "{head}<response><error><message>a &lt; b &amp; c</message><detail/></error>\
                 <status>failure</status></response>"
            )
        );
        assert_eq!(
            read(write_error("m", Some("d")).as_bytes()),
            Ok(json!({"error": {"message": "m", "detail": "d"}, "status": "failure"}))
        );
    }

    #[test]
    fn values_and_keys_are_escaped() {
        let value = json!({"a<b&c>": "x <&> y ]]>", "1st": "n", "": "e", "ns:key": "k", "ok-key.1": "o", "sp ace": "s"});
        let xml = write_result(&value);
        assert!(
            xml.contains("<a_b_c_>x &lt;&amp;&gt; y ]]&gt;</a_b_c_>"),
            "{xml}"
        );
        for tag in ["<_1st>", "<_>", "<ns_key>", "<ok-key.1>", "<sp_ace>"] {
            assert!(xml.contains(tag), "{tag} missing in {xml}");
        }
        assert_eq!(
            read(xml.as_bytes()),
            Ok(
                json!({"result": {"a_b_c_": "x <&> y ]]>", "_1st": "n", "_": "e", "ns_key": "k",
                "ok-key.1": "o", "sp_ace": "s"}})
            )
        );
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped_and_cr_survives() {
        let xml = write_result(&json!({"t": "a\u{0}b\u{1B}c\u{FFFE}d\r\ne\tf"}));
        assert_eq!(
            read(xml.as_bytes()),
            Ok(json!({"result": {"t": "abcd\r\ne\tf"}}))
        );
    }

    #[test]
    fn round_trip_of_string_valued_objects() {
        let record = json!({
            "short_description": "Disk <full> & \"slow\"",
            "padded": "  spaces kept  ",
            "empty": "",
            "unicode": "é€😀",
            "caller_id": {"link": "https://x/api/now/table/sys_user/1", "value": "1"},
            "deep": {"a": {"b": {"c": "d"}}},
        });
        let xml = write_result(&record);
        assert_eq!(read(xml.as_bytes()), Ok(json!({"result": record})));
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len())]
        }
    }

    /// Pieces of XML, so random input reaches past the first error (the fuzz loop here and
    /// the property tests share them).
    pub(super) const SNIPPETS: &[&str] = &[
        "<",
        ">",
        "/",
        "</",
        "/>",
        "&",
        ";",
        "&amp;",
        "&lt",
        "&lt;",
        "&#",
        "&#x",
        "&#0;",
        "&#65;",
        "<a>",
        "</a>",
        "<b/>",
        "<entry>",
        "</entry>",
        "<request>",
        "</request>",
        "<![CDATA[",
        "]]>",
        "<!--",
        "-->",
        "<?",
        "?>",
        "<!DOCTYPE r>",
        "<!ENTITY",
        "<!",
        "\"",
        "'",
        "=",
        " ",
        "\n",
        "\r",
        "x:",
        "é",
        "😀",
        "\u{0}",
        "\u{1}",
        "<?xml version=\"1.0\"?>",
        "text",
    ];

    const SEEDS: &[&str] = &[
        "<request><entry><a>1</a><b>two</b></entry></request>",
        "<?xml version=\"1.0\"?><r><x a=\"1\">t&amp;&#65;</x><y/><y><z>q</z></y><![CDATA[ ]]></r>",
        "<r>\n <ids><id>a</id><id>b</id></ids>\n <!-- c --> <n:k xmlns:n='u'>v</n:k>\n</r>",
    ];

    /// Anything `read` accepts, rendered again, must still be readable XML.
    /// Returns whether the input was accepted.
    fn check_no_panic(input: &[u8]) -> bool {
        let Ok(value) = read(input) else {
            return false;
        };
        let xml = write_result(&value);
        match read(xml.as_bytes()) {
            Ok(_) | Err(XmlError::TooDeep) => true,
            Err(e) => panic!("re-rendered {xml:?} unreadable: {e}"),
        }
    }

    #[test]
    fn never_panics_on_random_or_mutated_input() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let len = rng.below(80);
            let bytes: Vec<u8> = (0..len)
                .map(|_| match rng.below(3) {
                    0 => rng.next() as u8,
                    _ => *rng.pick(b"<>/&;#x!?[]-=\"' \nabe:CDATA0123456789"),
                })
                .collect();
            check_no_panic(&bytes);
        }
        let mut accepted = 0;
        for _ in 0..3000 {
            let mut doc = rng.pick(SEEDS).as_bytes().to_vec();
            for _ in 0..=rng.below(4) {
                let at = rng.below(doc.len() + 1);
                match rng.below(5) {
                    0 if at < doc.len() => doc[at] = rng.next() as u8,
                    1 => doc.truncate(at),
                    2 => {
                        let end = (at + rng.below(8)).min(doc.len());
                        doc.drain(at..end);
                    }
                    3 => {
                        let copy = doc[at..].to_vec();
                        doc.extend_from_slice(&copy);
                    }
                    _ => {
                        let snippet = rng.pick(SNIPPETS).as_bytes();
                        doc.splice(at..at, snippet.iter().copied());
                    }
                }
            }
            accepted += usize::from(check_no_panic(&doc));
        }
        // The mutations must leave enough documents valid to exercise the happy path too.
        assert!(
            accepted > 50,
            "only {accepted} mutated documents were accepted"
        );
    }

    fn random_string(rng: &mut XorShift) -> String {
        const CHARS: &[char] = &[
            'a', 'Z', '0', '-', '.', '_', ':', ' ', '<', '>', '&', '"', '\'', ';', '#', ']', '\t',
            '\n', '\r', '\u{0}', '\u{1}', '\u{7F}', '\u{B7}', '\u{300}', 'é', '€', '😀',
            '\u{FFFE}', '\u{FFFF}',
        ];
        (0..rng.below(8)).map(|_| *rng.pick(CHARS)).collect()
    }

    fn random_value(rng: &mut XorShift, depth: usize) -> Value {
        match rng.below(if depth == 0 { 4 } else { 6 }) {
            0 => Value::Null,
            1 => json!(rng.next() & 1 == 0),
            2 => json!(rng.below(100_000) as i64 - 50_000),
            3 => Value::String(random_string(rng)),
            4 => Value::Array(
                (0..rng.below(3))
                    .map(|_| random_value(rng, depth - 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..rng.below(4))
                    .map(|_| (random_string(rng), random_value(rng, depth - 1)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn written_xml_is_always_well_formed() {
        let mut rng = XorShift(0x0123_4567_89AB_CDEF);
        for _ in 0..2000 {
            let value = random_value(&mut rng, 4);
            let xml = write_result(&value);
            assert!(
                read(xml.as_bytes()).is_ok(),
                "{value} rendered unreadable XML {xml:?}"
            );
            let xml = write_error(&random_string(&mut rng), Some(&random_string(&mut rng)));
            assert!(read(xml.as_bytes()).is_ok(), "unreadable error XML {xml:?}");
        }
    }
}

#[cfg(test)]
mod properties {
    //! Property tests (proptest) of the XML reader and writer: reading never panics, what is
    //! written reads back, and what is read holds only characters XML allows. Each property runs
    //! 256 cases; set `PROPTEST_CASES` (read by proptest itself) for a longer run, e.g.
    //! `PROPTEST_CASES=100000 cargo test --lib xml::properties`.

    use std::ops::RangeInclusive;

    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use super::{XmlError, read, write_error, write_result};

    /// XML 1.0 (5th edition) `NameStartChar`, without `:`.
    const NAME_START: &[RangeInclusive<char>] = &[
        'A'..='Z',
        '_'..='_',
        'a'..='z',
        '\u{C0}'..='\u{D6}',
        '\u{D8}'..='\u{F6}',
        '\u{F8}'..='\u{2FF}',
        '\u{370}'..='\u{37D}',
        '\u{37F}'..='\u{1FFF}',
        '\u{200C}'..='\u{200D}',
        '\u{2070}'..='\u{218F}',
        '\u{2C00}'..='\u{2FEF}',
        '\u{3001}'..='\u{D7FF}',
        '\u{F900}'..='\u{FDCF}',
        '\u{FDF0}'..='\u{FFFD}',
        '\u{10000}'..='\u{EFFFF}',
    ];

    /// XML 1.0 `NameChar` beyond `NameStartChar`.
    const NAME_MORE: &[RangeInclusive<char>] = &[
        '-'..='-',
        '.'..='.',
        '0'..='9',
        '\u{B7}'..='\u{B7}',
        '\u{300}'..='\u{36F}',
        '\u{203F}'..='\u{2040}',
    ];

    /// The XML 1.0 `Char` production: what a document may hold.
    fn is_char(c: char) -> bool {
        matches!(c,
            '\t' | '\n' | '\r'
            | '\u{20}'..='\u{D7FF}'
            | '\u{E000}'..='\u{FFFD}'
            | '\u{10000}'..='\u{10FFFF}')
    }

    /// A valid element name (no prefix).
    fn name() -> impl Strategy<Value = String> {
        let start = prop::char::ranges(NAME_START.into());
        let more = prop_oneof![
            prop::char::ranges(NAME_START.into()),
            prop::char::ranges(NAME_MORE.into()),
        ];
        (start, prop::collection::vec(more, 0..8))
            .prop_map(|(first, rest)| std::iter::once(first).chain(rest).collect())
    }

    /// Any text, or text dense in what XML escapes, normalises or cannot carry.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[<>&;#'\"\\]\\r\\n\\t \u{0}\u{1}\u{85}\u{2028}\u{FEFF}\u{FFFE}a-z]{0,16}",
        ]
    }

    /// A non-empty object whose leaves are strings (an empty object reads back as "").
    fn object() -> impl Strategy<Value = Value> {
        let leaf = text().prop_map(Value::String);
        let value = leaf.prop_recursive(4, 48, 4, |inner| {
            prop::collection::btree_map(name(), inner, 1..4)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
        });
        prop::collection::btree_map(name(), value, 1..5)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    /// `value` with every string stripped of the characters XML cannot carry (the writer
    /// drops them).
    fn carried(value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(s.chars().filter(|c| is_char(*c)).collect()),
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), carried(v)))
                    .collect::<Map<_, _>>(),
            ),
            other => other.clone(),
        }
    }

    /// Any JSON, keys included (keys need not be XML names: the writer maps them).
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(text(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn xml_soup() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(super::tests::SNIPPETS), 0..40)
            .prop_map(|s| s.concat().into_bytes())
    }

    /// Every string in a value read from XML.
    fn strings(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            Value::Object(fields) => fields.iter().for_each(|(k, v)| {
                out.push(k.clone());
                strings(v, out);
            }),
            _ => {}
        }
    }

    proptest! {
        #![proptest_config(crate::proptest_config::config())]

        #[test]
        fn never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = read(&bytes);
        }

        #[test]
        fn never_panics_on_xml_soup(bytes in xml_soup()) {
            let _ = read(&bytes);
        }

        /// `read(write_result(v))` is `{"result": v}` for string-valued objects with valid
        /// names, whatever their text (less the characters XML cannot carry).
        #[test]
        fn written_objects_read_back(value in object()) {
            let xml = write_result(&value);
            let expected = json!({"result": carried(&value)});
            prop_assert_eq!(read(xml.as_bytes()), Ok(expected), "{}", xml);
        }

        #[test]
        fn written_errors_read_back(message in text(), detail in text()) {
            let xml = write_error(&message, Some(&detail));
            let expected = json!({
                "error": {"message": carried(&json!(message)), "detail": carried(&json!(detail))},
                "status": "failure",
            });
            prop_assert_eq!(read(xml.as_bytes()), Ok(expected), "{}", xml);
        }

        /// Whatever JSON the server renders as XML is a document its own reader accepts.
        #[test]
        fn written_json_is_well_formed(value in any_json()) {
            let xml = write_result(&value);
            match read(xml.as_bytes()) {
                Ok(_) | Err(XmlError::TooDeep) => {}
                Err(e) => prop_assert!(false, "{} rendered unreadable XML {:?}: {}", value, xml, e),
            }
        }

        /// The reader is strict: a document it accepts holds only characters XML allows, so a
        /// NUL or another control character never reaches a record.
        #[test]
        fn what_is_read_holds_only_xml_characters(
            text in text(),
            soup in xml_soup(),
        ) {
            let escaped = text.replace('&', "&amp;").replace('<', "&lt;");
            for document in [format!("<r><a>{escaped}</a></r>").into_bytes(), soup] {
                if let Ok(value) = read(&document) {
                    let mut found = Vec::new();
                    strings(&value, &mut found);
                    for s in found {
                        let document = String::from_utf8_lossy(&document);
                        prop_assert!(s.chars().all(is_char), "accepted {:?} from {:?}", s, document);
                    }
                }
            }
        }
    }
}
