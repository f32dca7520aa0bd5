//! Where errors are reported: every bad event of an input with the line it
//! starts on (NDJSON lines, JSON array elements, a single document), and
//! every problem of one event, not only the first.

use schemas::input::{parse_events, InputError};

const GOOD: &str = r#"{"specversion":"1.0","id":"ID","source":"zabbix/nh-1","type":"outage.ended","time":"2026-10-04T10:00:00Z","tenant":"alver","data":{"service":"epost","outage_id":"OUT-1"}}"#;

fn good(id: &str) -> String {
    GOOD.replace("\"ID\"", &format!("{id:?}"))
}

/// Lines of the events of `input` that failed, in order.
fn bad_lines(input: &str) -> Vec<usize> {
    let events = parse_events(input.as_bytes()).unwrap_or_else(|e| panic!("unreadable: {e}"));
    events
        .iter()
        .filter(|e| e.result.is_err())
        .map(|e| e.line)
        .collect()
}

fn all_lines(input: &str) -> Vec<usize> {
    parse_events(input.as_bytes())
        .expect("readable")
        .iter()
        .map(|e| e.line)
        .collect()
}

#[test]
fn ndjson_reports_each_bad_line() {
    let input = [
        good("a"),
        good("b").replace("\"alver\"", "\"Alver\""),
        String::new(),
        good("c"),
        "{\"specversion\": \"1.0\",, }".to_string(),
        good("d"),
    ]
    .join("\n");
    assert_eq!(bad_lines(&input), [2, 5]);
    assert_eq!(all_lines(&input), [1, 2, 4, 5, 6]);
    // Windows line ends and a final newline change nothing.
    assert_eq!(bad_lines(&(input.replace('\n', "\r\n") + "\r\n")), [2, 5]);
}

#[test]
fn ndjson_with_a_broken_first_line_reports_every_line() {
    let input = [
        "{\"id\": }".to_string(),
        good("b"),
        "{\"x\": 1,}".to_string(),
    ]
    .join("\n");
    assert_eq!(bad_lines(&input), [1, 3]);
}

#[test]
fn array_reports_the_line_of_each_bad_element() {
    let pretty_bad = "  {\n    \"specversion\": \"0.3\"\n  }";
    let input = format!(
        "[\n  {},\n{pretty_bad},\n  {}, 7,\n\n  {}\n]\n",
        good("a"),
        good("c"),
        good("d")
    );
    assert_eq!(all_lines(&input), [2, 3, 6, 6, 8]);
    assert_eq!(bad_lines(&input), [3, 6]);
    assert_eq!(
        all_lines(&format!("[{}, {}]", good("a"), good("b"))),
        [1, 1]
    );
    assert_eq!(all_lines("[]"), Vec::<usize>::new());
}

#[test]
fn single_document_reports_its_first_line() {
    let pretty = format!(
        "\n\n{}\n",
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(GOOD).unwrap())
            .unwrap()
    );
    assert_eq!(all_lines(&pretty), [3]);
    assert_eq!(all_lines("\u{feff}  \n"), Vec::<usize>::new());
}

#[test]
fn unreadable_inputs_name_line_and_column() {
    for (input, line, column) in [
        (&b"{\n  \"a\": 1,\n  \"b\": \xff\n}"[..], 3, 8),
        (b"{\n  \"a\": 1,\n  \"b\": @\n}", 3, 8),
        (b"[1, 2", 1, 5),
        (b"[\n{\"a\": 1}\n{\"b\": 2}\n]", 3, 1),
        (b"42", 1, 1),
    ] {
        match parse_events(input) {
            Err(InputError {
                line: l,
                column: c,
                message,
            }) => {
                assert_eq!(
                    (l, c),
                    (line, column),
                    "{}: {message}",
                    String::from_utf8_lossy(input)
                )
            }
            Ok(events) => panic!(
                "{}: read as {} events",
                String::from_utf8_lossy(input),
                events.len()
            ),
        }
    }
}

#[test]
fn one_event_reports_all_its_problems() {
    // Three problems: a time without offset, an unknown priority, and a
    // missing incident_id.
    let input = r#"{"specversion":"1.0","id":"e1","source":"topdesk","type":"incident.opened",
        "time":"2026-10-04T10:00:00","tenant":"alver","data":{"service":"epost","priority":"P9"}}"#;
    let events = parse_events(input.as_bytes()).expect("readable");
    let errors = events[0].result.as_ref().expect_err("invalid");
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["time", "data.incident_id", "data.priority"],
        "{errors:#?}"
    );
}
