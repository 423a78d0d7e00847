//! `wsx probe` output: a text table (one line per offer, printed as it
//! goes) or, with `--json`, one JSON array at the end.

use super::attempt::{Answer, AttemptError};

/// Width of the offer column of the table.
const OFFER_WIDTH: usize = 100;

/// One offer and what became of it.
pub struct Row {
    /// The `Sec-WebSocket-Extensions` value sent (empty: none sent).
    pub offer: String,
    /// The server's answer, or why there was none.
    pub result: Result<Answer, AttemptError>,
}

/// The table's header line.
pub fn text_header() -> String {
    format!("{:<OFFER_WIDTH$} {:>6}  accepted", "offer", "status")
}

/// One table line: offer, status, accepted extensions (`(none)`), or the
/// error.
pub fn text_line(row: &Row) -> String {
    let offer = if row.offer.is_empty() {
        "(no offer)"
    } else {
        &row.offer
    };
    match &row.result {
        Ok(Answer {
            status,
            problem: Some(p),
            ..
        }) => format!("{offer:<OFFER_WIDTH$} {status:>6}  error: {p}"),
        Ok(a) => format!(
            "{offer:<OFFER_WIDTH$} {:>6}  {}",
            a.status,
            a.accepted.as_deref().unwrap_or("(none)")
        ),
        Err(e) => format!("{offer:<OFFER_WIDTH$} {:>6}  error: {e}", "-"),
    }
}

/// One `--json` entry. Fields are written in this order.
#[derive(serde::Serialize)]
struct JsonRow<'a> {
    /// The `Sec-WebSocket-Extensions` value sent (`""`: none sent).
    offer: &'a str,
    /// The HTTP status; null without an HTTP answer.
    status: Option<u16>,
    /// The `Sec-WebSocket-Extensions` answered; null when absent.
    accepted: Option<&'a str>,
    /// Why the attempt failed (no answer, or a bad 101); omitted otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl<'a> From<&'a Row> for JsonRow<'a> {
    fn from(row: &'a Row) -> Self {
        match &row.result {
            Ok(a) => JsonRow {
                offer: &row.offer,
                status: Some(a.status),
                accepted: a.accepted.as_deref(),
                error: a.problem.clone(),
            },
            Err(e) => JsonRow {
                offer: &row.offer,
                status: None,
                accepted: None,
                error: Some(e.to_string()),
            },
        }
    }
}

/// The JSON array of every row, one object per line.
pub fn json(rows: &[Row]) -> Result<String, serde_json::Error> {
    let items = rows
        .iter()
        .map(|r| serde_json::to_string(&JsonRow::from(r)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(format!("[\n{}\n]\n", items.join(",\n")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn rows() -> Vec<Row> {
        vec![
            Row {
                offer: "permessage-deflate".into(),
                result: Ok(Answer {
                    status: 101,
                    accepted: Some("permessage-deflate".into()),
                    problem: None,
                }),
            },
            Row {
                offer: String::new(),
                result: Ok(Answer {
                    status: 101,
                    accepted: None,
                    problem: None,
                }),
            },
            Row {
                offer: "mux".into(),
                result: Err(AttemptError::Transport("connection \"reset\"".into())),
            },
        ]
    }

    #[test]
    fn json_is_an_array_of_offer_status_accepted() {
        let v: Value = serde_json::from_str(&json(&rows()).unwrap()).unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(a.len(), 3);
        let keys: Vec<&String> = a[0].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert_eq!(a[0]["status"], 101);
        assert_eq!(a[0]["accepted"], "permessage-deflate");
        assert!(a[0].get("error").is_none());
        assert_eq!(a[1]["offer"], "");
        assert!(a[1]["accepted"].is_null());
        assert!(a[2]["status"].is_null());
        assert_eq!(a[2]["error"], "connection \"reset\"");
    }

    #[test]
    fn text_lines_end_with_accepted_none_or_error() {
        let lines: Vec<String> = rows().iter().map(text_line).collect();
        assert!(lines[0].ends_with(" 101  permessage-deflate"));
        assert!(lines[1].starts_with("(no offer) "));
        assert!(lines[1].ends_with("(none)"));
        assert!(lines[2].ends_with("-  error: connection \"reset\""));
    }
}
