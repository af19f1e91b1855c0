//! What the Jira and Confluence contract tests' clients share.

use serde_json::Value;

/// Sends `request`: the status, the headers and the JSON body (`Null` when the body is
/// not JSON).
pub async fn send(request: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// An instant written in RFC 3339.
pub fn at(text: &str) -> jiff::Timestamp {
    text.parse().expect("timestamp")
}
