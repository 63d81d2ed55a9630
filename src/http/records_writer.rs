//! A success envelope of records, written field by field straight into the response body in the
//! negotiated format.
//!
//! Records are the bulk of what the server sends (a Table API page is tens of kilobytes, a large
//! one megabytes). Building a `serde_json::Value` tree for them first and serialising it after
//! cost more CPU than reading the rows, and held the page in memory twice over. The bytes are the
//! same as [`super::conventions`] writes for the equivalent `Value` (a unit test holds the two
//! to it), so clients cannot tell which path answered.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::negotiate::Format;
use super::respond::Payload;
use super::xml;

/// Writes `{"result": RECORD}` or `{"result": [RECORD, ...]}` (or the XML equivalents): call
/// [`begin_record`](Self::begin_record), the fields, [`end_record`](Self::end_record) per record,
/// then [`into_response`](Self::into_response).
///
/// Field names must be distinct within a record; callers write them in ascending order, as a
/// `serde_json::Map` would.
pub struct RecordsWriter {
    format: Format,
    list: bool,
    out: Vec<u8>,
    records: usize,
    fields_in_record: usize,
    /// Reused for XML escaping, so that writing a value allocates nothing.
    scratch: String,
}

impl RecordsWriter {
    /// For exactly one record: `{"result": {...}}`.
    pub fn one(format: Format) -> Self {
        Self::new(format, false)
    }

    /// For a list of records: `{"result": [...]}`.
    pub fn list(format: Format) -> Self {
        Self::new(format, true)
    }

    fn new(format: Format, list: bool) -> Self {
        let mut out = Vec::with_capacity(4096);
        match format {
            Format::Json if list => out.extend_from_slice(b"{\"result\":["),
            Format::Json => out.extend_from_slice(b"{\"result\":"),
            Format::Xml => {
                out.extend_from_slice(xml::DECLARATION.as_bytes());
                out.extend_from_slice(b"<response>");
            }
        }
        RecordsWriter {
            format,
            list,
            out,
            records: 0,
            fields_in_record: 0,
            scratch: String::new(),
        }
    }

    pub fn begin_record(&mut self) {
        match self.format {
            Format::Json if self.records > 0 => self.out.extend_from_slice(b",{"),
            Format::Json => self.out.push(b'{'),
            Format::Xml => self.out.extend_from_slice(b"<result>"),
        }
        self.records += 1;
        self.fields_in_record = 0;
    }

    pub fn end_record(&mut self) {
        match self.format {
            Format::Json => self.out.push(b'}'),
            Format::Xml => self.out.extend_from_slice(b"</result>"),
        }
    }

    /// A field whose value is a string.
    pub fn text(&mut self, name: &str, value: &str) {
        self.open(name);
        self.string(value);
        self.close(name);
    }

    /// A field whose value is an object of strings (a reference with its link or display
    /// value), entries in ascending order of key.
    pub fn object(&mut self, name: &str, entries: &[(&str, &str)]) {
        self.open(name);
        if self.format == Format::Json {
            self.out.push(b'{');
        }
        for (i, (key, value)) in entries.iter().enumerate() {
            match self.format {
                Format::Json => {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.string(key);
                    self.out.push(b':');
                    self.string(value);
                }
                Format::Xml => {
                    self.xml_tag(b"<", key);
                    self.string(value);
                    self.xml_tag(b"</", key);
                }
            }
        }
        if self.format == Format::Json {
            self.out.push(b'}');
        }
        self.close(name);
    }

    /// The finished envelope as a response, with the given status and headers.
    pub fn into_response(self, status: StatusCode, headers: HeaderMap) -> Response {
        let (format, body) = self.finish();
        let payload = Payload::Encoded {
            format,
            body: body.into(),
        };
        super::respond::encoded(status, headers, payload)
    }

    /// The finished envelope: its format and bytes.
    pub fn finish(mut self) -> (Format, Vec<u8>) {
        match self.format {
            Format::Json if self.list => self.out.extend_from_slice(b"]}"),
            // Not reached by callers (one record is always written); the same as `{"result": null}`.
            Format::Json if self.records == 0 => self.out.extend_from_slice(b"null}"),
            Format::Json => self.out.push(b'}'),
            Format::Xml if !self.list && self.records == 0 => {
                self.out.extend_from_slice(b"<result/></response>")
            }
            Format::Xml => self.out.extend_from_slice(b"</response>"),
        }
        (self.format, self.out)
    }

    fn open(&mut self, name: &str) {
        match self.format {
            Format::Json => {
                if self.fields_in_record > 0 {
                    self.out.push(b',');
                }
                self.string(name);
                self.out.push(b':');
            }
            Format::Xml => self.xml_tag(b"<", name),
        }
        self.fields_in_record += 1;
    }

    fn close(&mut self, name: &str) {
        if self.format == Format::Xml {
            self.xml_tag(b"</", name);
        }
    }

    fn xml_tag(&mut self, start: &[u8], name: &str) {
        self.out.extend_from_slice(start);
        self.out.extend_from_slice(xml::xml_name(name).as_bytes());
        self.out.push(b'>');
    }

    /// A string value: quoted and escaped in JSON, escaped text in XML.
    fn string(&mut self, value: &str) {
        match self.format {
            // Writing a `str` into a `Vec` cannot fail.
            Format::Json => serde_json::to_writer(&mut self.out, value)
                .expect("a string always serialises into a Vec"),
            Format::Xml => {
                self.scratch.clear();
                xml::push_escaped(&mut self.scratch, value);
                self.out.extend_from_slice(self.scratch.as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use super::*;

    /// What the writer must produce: what `conventions` renders for the same `Value`.
    fn rendered_as_value(format: Format, result: &Value) -> Vec<u8> {
        match format {
            Format::Json => serde_json::to_vec(&json!({ "result": result })).unwrap(),
            Format::Xml => xml::write_result(result).into_bytes(),
        }
    }

    /// A record: field to either a string or an object of strings.
    type TestRecord = Vec<(String, Result<String, Vec<(String, String)>>)>;

    fn write(writer: &mut RecordsWriter, record: &TestRecord) {
        writer.begin_record();
        for (name, value) in record {
            match value {
                Ok(text) => writer.text(name, text),
                Err(entries) => {
                    let entries: Vec<(&str, &str)> = entries
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    writer.object(name, &entries);
                }
            }
        }
        writer.end_record();
    }

    fn as_value(record: &TestRecord) -> Value {
        let fields: Map<String, Value> = record
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    Ok(text) => Value::String(text.clone()),
                    Err(entries) => Value::Object(
                        entries
                            .iter()
                            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                            .collect(),
                    ),
                };
                (name.clone(), value)
            })
            .collect();
        Value::Object(fields)
    }

    /// Field names as a `Map` orders them (ascending, distinct), any text in the values.
    fn record() -> impl Strategy<Value = TestRecord> {
        let text = "(?s).{0,12}";
        let entries = proptest::collection::btree_map("[a-z_]{1,8}", text, 0..4)
            .prop_map(|m| m.into_iter().collect::<Vec<_>>());
        let value = prop_oneof![text.prop_map(Ok), entries.prop_map(Err),];
        proptest::collection::btree_map("[a-z_][a-z0-9_.]{0,10}|[^<>&]{1,6}", value, 0..6)
            .prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        #![proptest_config(crate::proptest_config::config())]

        #[test]
        fn a_list_is_what_the_value_path_renders(
            records in proptest::collection::vec(record(), 0..4),
            xml_format in any::<bool>(),
        ) {
            let format = if xml_format { Format::Xml } else { Format::Json };
            let mut writer = RecordsWriter::list(format);
            for r in &records {
                write(&mut writer, r);
            }
            let expected = Value::Array(records.iter().map(as_value).collect());
            let (written_format, bytes) = writer.finish();
            prop_assert_eq!(written_format, format);
            prop_assert_eq!(
                String::from_utf8(bytes).unwrap(),
                String::from_utf8(rendered_as_value(format, &expected)).unwrap()
            );
        }

        #[test]
        fn one_record_is_what_the_value_path_renders(record in record(), xml_format in any::<bool>()) {
            let format = if xml_format { Format::Xml } else { Format::Json };
            let mut writer = RecordsWriter::one(format);
            write(&mut writer, &record);
            let (_, bytes) = writer.finish();
            prop_assert_eq!(
                String::from_utf8(bytes).unwrap(),
                String::from_utf8(rendered_as_value(format, &as_value(&record))).unwrap()
            );
        }
    }

    #[test]
    fn escapes_in_both_formats() {
        let record: TestRecord = vec![
            ("a".into(), Ok("\"q\" \\ <&> \u{1}\r\n".into())),
            (
                "ref".into(),
                Err(vec![
                    ("link".into(), "http://h/x?a=1&b=2".into()),
                    ("value".into(), "v".into()),
                ]),
            ),
        ];
        for format in [Format::Json, Format::Xml] {
            let mut writer = RecordsWriter::one(format);
            write(&mut writer, &record);
            let (_, bytes) = writer.finish();
            assert_eq!(
                bytes,
                rendered_as_value(format, &as_value(&record)),
                "{format:?}"
            );
        }
        let mut writer = RecordsWriter::one(Format::Json);
        write(&mut writer, &record);
        assert_eq!(
            String::from_utf8(writer.finish().1).unwrap(),
            r#"{"result":{"a":"\"q\" \\ <&> \u0001\r\n","ref":{"link":"http://h/x?a=1&b=2","value":"v"}}}"#
        );
    }

    #[test]
    fn empty_list_and_missing_record() {
        for format in [Format::Json, Format::Xml] {
            let (_, bytes) = RecordsWriter::list(format).finish();
            assert_eq!(bytes, rendered_as_value(format, &json!([])));
            let (_, bytes) = RecordsWriter::one(format).finish();
            assert_eq!(bytes, rendered_as_value(format, &Value::Null));
        }
    }
}
