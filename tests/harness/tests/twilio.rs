//! The Twilio contract server over real HTTP: what Deepwork's escalation ladder relies
//! on (sending, listing, paging, statuses, inbound replies) and how it fails.

use deepwork_harness::twilio::{
    ACCOUNT_SID, API_KEY_SECRET, API_KEY_SID, AUTH_TOKEN, CallFate, Endpoint, Fault,
    MESSAGING_SERVICE_SID, SmsFate, TWILIO_NUMBER, TwilioContract, USER_PHONE,
};
use serde_json::Value;
use std::time::Duration;

/// A client signed in with the account's credentials.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(twilio: &TwilioContract) -> Api {
        Api {
            base: twilio.base.clone(),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, resource: &str) -> String {
        format!("{}/2010-04-01/Accounts/{ACCOUNT_SID}/{resource}", self.base)
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.expect("json body");
        (status, headers, body)
    }

    async fn post(&self, resource: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let request = self
            .http
            .post(self.url(resource))
            .basic_auth(ACCOUNT_SID, Some(AUTH_TOKEN))
            .form(fields);
        let (status, _, body) = self.send(request).await;
        (status, body)
    }

    async fn get(&self, url: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let request = self
            .http
            .get(url)
            .basic_auth(ACCOUNT_SID, Some(AUTH_TOKEN))
            .query(query);
        let (status, _, body) = self.send(request).await;
        (status, body)
    }

    async fn sms(&self, body: &str) -> Value {
        let (status, message) = self
            .post(
                "Messages.json",
                &[("To", USER_PHONE), ("From", TWILIO_NUMBER), ("Body", body)],
            )
            .await;
        assert_eq!(status, 201, "{message}");
        message
    }

    async fn fetch(&self, resource: &str, sid: &str) -> Value {
        let (status, body) = self
            .get(&self.url(&format!("{resource}/{sid}.json")), &[])
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

fn assert_error(status: u16, body: &Value, want_status: u16, code: u64) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], want_status, "{body}");
    assert_eq!(
        body["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}")
    );
}

fn sid_ok(sid: &Value, prefix: &str) -> bool {
    sid.as_str().is_some_and(|s| {
        s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn rfc2822(value: &Value) -> jiff::Timestamp {
    let text = value.as_str().expect("a date");
    jiff::fmt::rfc2822::parse(text)
        .expect("RFC 2822")
        .timestamp()
}

#[tokio::test]
async fn a_created_message_is_queued_and_can_be_fetched() {
    let twilio = TwilioContract::start().await;
    let api = Api::new(&twilio);
    let message = api.sms("Emergency: the build is on fire").await;
    assert!(sid_ok(&message["sid"], "SM"), "{message}");
    assert_eq!(message["account_sid"], ACCOUNT_SID);
    assert_eq!(message["to"], USER_PHONE);
    assert_eq!(message["from"], TWILIO_NUMBER);
    assert_eq!(message["body"], "Emergency: the build is on fire");
    assert_eq!(message["status"], "queued");
    assert_eq!(message["direction"], "outbound-api");
    assert_eq!(message["num_segments"], "1");
    assert_eq!(message["error_code"], Value::Null);
    assert_eq!(message["date_sent"], Value::Null);
    let created = rfc2822(&message["date_created"]);
    assert!(created <= jiff::Timestamp::now());
    rfc2822(&message["date_updated"]);
    let sid = message["sid"].as_str().expect("sid");
    assert_eq!(
        message["uri"],
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json")
    );

    let fetched = api.fetch("Messages", sid).await;
    assert_eq!(fetched["sid"], sid);
    assert_eq!(fetched["body"], message["body"]);

    let sent = twilio.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, USER_PHONE);
    assert_eq!(sent[0].from.as_deref(), Some(TWILIO_NUMBER));
    assert_eq!(sent[0].body, "Emergency: the build is on fire");
    assert_eq!(twilio.requests(Endpoint::CreateMessage), 1);
    assert_eq!(twilio.requests(Endpoint::FetchMessage), 1);

    let (status, missing) = api
        .get(
            &api.url("Messages/SM00000000000000000000000000000000.json"),
            &[],
        )
        .await;
    assert_error(status, &missing, 404, 20404);
}

#[tokio::test]
async fn credentials_are_checked() {
    let twilio = TwilioContract::start().await;
    let api = Api::new(&twilio);
    let fields = [("To", USER_PHONE), ("From", TWILIO_NUMBER), ("Body", "hi")];

    let with_key = api
        .http
        .post(api.url("Messages.json"))
        .basic_auth(API_KEY_SID, Some(API_KEY_SECRET))
        .form(&fields);
    let (status, _, body) = api.send(with_key).await;
    assert_eq!(status, 201, "{body}");

    let wrong = api
        .http
        .post(api.url("Messages.json"))
        .basic_auth(ACCOUNT_SID, Some("not-the-token"))
        .form(&fields);
    let (status, _, body) = api.send(wrong).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        serde_json::json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401})
    );

    let anonymous = api.http.get(api.url("Messages.json"));
    let (status, _, body) = api.send(anonymous).await;
    assert_error(status, &body, 401, 20003);

    let other = format!(
        "{}/2010-04-01/Accounts/AC11111111111111111111111111111111/Messages.json",
        twilio.base
    );
    let (status, body) = api.get(&other, &[]).await;
    assert_error(status, &body, 401, 20003);
    assert_eq!(twilio.sent().len(), 1);
}

#[tokio::test]
async fn bad_messages_are_refused_with_twilio_codes() {
    let twilio = TwilioContract::start().await;
    let api = Api::new(&twilio);
    let cases: [(&[(&str, &str)], u64); 7] = [
        (&[("From", TWILIO_NUMBER), ("Body", "x")], 21604),
        (
            &[("To", "5558675310"), ("From", TWILIO_NUMBER), ("Body", "x")],
            21211,
        ),
        (
            &[
                ("To", "+1 555 867 5310"),
                ("From", TWILIO_NUMBER),
                ("Body", "x"),
            ],
            21211,
        ),
        (&[("To", USER_PHONE), ("Body", "x")], 21603),
        (
            &[("To", USER_PHONE), ("From", "+15550001111"), ("Body", "x")],
            21606,
        ),
        (
            &[
                ("To", USER_PHONE),
                ("MessagingServiceSid", "MG00000000000000000000000000000000"),
                ("Body", "x"),
            ],
            21705,
        ),
        (&[("To", USER_PHONE), ("From", TWILIO_NUMBER)], 21602),
    ];
    for (fields, code) in cases {
        let (status, body) = api.post("Messages.json", fields).await;
        assert_error(status, &body, 400, code);
    }
    let (status, body) = api
        .post(
            "Messages.json",
            &[
                ("To", "+15550009999"),
                ("From", TWILIO_NUMBER),
                ("Body", "x"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    twilio.set_invalid("+15550009999");
    let (status, body) = api
        .post(
            "Messages.json",
            &[
                ("To", "+15550009999"),
                ("From", TWILIO_NUMBER),
                ("Body", "x"),
            ],
        )
        .await;
    assert_error(status, &body, 400, 21211);
    assert_eq!(
        body["message"],
        "The 'To' number +15550009999 is not a valid phone number."
    );
    assert_eq!(twilio.sent().len(), 1);
    assert_eq!(twilio.requests(Endpoint::CreateMessage), 9);
}

#[tokio::test]
async fn a_messaging_service_picks_the_sender_when_it_sends() {
    let twilio = TwilioContract::start().await;
    twilio.set_step(None);
    let api = Api::new(&twilio);
    let (status, message) = api
        .post(
            "Messages.json",
            &[
                ("To", USER_PHONE),
                ("MessagingServiceSid", MESSAGING_SERVICE_SID),
                ("Body", "x"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{message}");
    assert_eq!(message["from"], Value::Null);
    assert_eq!(message["num_segments"], "0");
    assert_eq!(message["messaging_service_sid"], MESSAGING_SERVICE_SID);
    twilio.finish();
    let sent = api
        .fetch("Messages", message["sid"].as_str().expect("sid"))
        .await;
    assert_eq!(sent["from"], TWILIO_NUMBER);
    assert_eq!(sent["num_segments"], "1");
}

#[tokio::test]
async fn messages_move_through_their_statuses() {
    let twilio = TwilioContract::start().await;
    twilio.set_step(None);
    twilio.set_sms_fate("+15550002222", SmsFate::Undelivered);
    twilio.set_sms_fate("+15550003333", SmsFate::Failed);
    let api = Api::new(&twilio);
    let delivered = api.sms("one").await["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    let mut sids = vec![delivered.clone()];
    for to in ["+15550002222", "+15550003333"] {
        let (status, body) = api
            .post(
                "Messages.json",
                &[("To", to), ("From", TWILIO_NUMBER), ("Body", "x")],
            )
            .await;
        assert_eq!(status, 201, "{body}");
        sids.push(body["sid"].as_str().expect("sid").to_owned());
    }
    let mut seen: Vec<Vec<String>> = vec![Vec::new(); 3];
    for round in 0..5 {
        if round > 0 {
            twilio.advance();
        }
        for (i, sid) in sids.iter().enumerate() {
            let status = api.fetch("Messages", sid).await["status"]
                .as_str()
                .expect("status")
                .to_owned();
            if seen[i].last() != Some(&status) {
                seen[i].push(status);
            }
        }
    }
    assert_eq!(seen[0], ["queued", "sending", "sent", "delivered"]);
    assert_eq!(seen[1], ["queued", "sending", "sent", "undelivered"]);
    assert_eq!(seen[2], ["queued", "failed"]);

    let done = api.fetch("Messages", &delivered).await;
    assert!(rfc2822(&done["date_sent"]) >= rfc2822(&done["date_created"]));
    let undelivered = api.fetch("Messages", &sids[1]).await;
    assert_eq!(undelivered["error_code"], 30003);
    assert!(undelivered["error_message"].is_string());
    let failed = api.fetch("Messages", &sids[2]).await;
    assert_eq!(failed["error_code"], 30500);
    assert_eq!(failed["date_sent"], Value::Null);
    assert_eq!(twilio.sent()[0].status(), "delivered");
}

#[tokio::test]
async fn statuses_also_move_as_time_passes() {
    let twilio = TwilioContract::start().await;
    twilio.set_step(Some(Duration::from_millis(20)));
    let api = Api::new(&twilio);
    let sid = api.sms("tick").await["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let message = api.fetch("Messages", &sid).await;
    assert_eq!(message["status"], "delivered");
    assert!(rfc2822(&message["date_updated"]) >= rfc2822(&message["date_created"]));
}

#[tokio::test]
async fn inbound_replies_show_up_in_the_list_newest_first() {
    let twilio = TwilioContract::start().await;
    twilio.set_step(None);
    let api = Api::new(&twilio);
    api.sms("Emergency: ack?").await;
    let reply = twilio.inbound(USER_PHONE, "ack");
    twilio.inbound("+15550004444", "wrong number");

    let (status, list) = api.get(&api.url("Messages.json"), &[]).await;
    assert_eq!(status, 200, "{list}");
    let bodies: Vec<&str> = list["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["body"].as_str().expect("body"))
        .collect();
    assert_eq!(bodies, ["wrong number", "ack", "Emergency: ack?"]);
    assert_eq!(list["page"], 0);
    assert_eq!(list["page_size"], 50);
    assert_eq!(list["next_page_uri"], Value::Null);
    assert_eq!(list["previous_page_uri"], Value::Null);

    let (_, replies) = api
        .get(
            &api.url("Messages.json"),
            &[("From", USER_PHONE), ("To", TWILIO_NUMBER)],
        )
        .await;
    let replies = replies["messages"].as_array().expect("messages").clone();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["sid"], reply);
    assert_eq!(replies[0]["direction"], "inbound");
    assert_eq!(replies[0]["status"], "received");
    assert_eq!(replies[0]["to"], TWILIO_NUMBER);
    assert_eq!(replies[0]["from"], USER_PHONE);
    let received = rfc2822(&replies[0]["date_sent"]);

    let today = received
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let tomorrow = received
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .tomorrow()
        .expect("date")
        .to_string();
    let count = |list: &Value| list["messages"].as_array().expect("messages").len();
    let inbound = [("To", TWILIO_NUMBER)];
    for (filter, value, want) in [
        ("DateSent", today.as_str(), 2),
        ("DateSent", tomorrow.as_str(), 0),
        ("DateSent>", today.as_str(), 2),
        ("DateSent<", today.as_str(), 2),
        ("DateSent>", tomorrow.as_str(), 0),
    ] {
        let (status, list) = api
            .get(&api.url("Messages.json"), &[inbound[0], (filter, value)])
            .await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(count(&list), want, "{filter}={value}");
    }
    // The outbound message counts for DateSent only once Twilio has sent it.
    let (_, outbound) = api
        .get(
            &api.url("Messages.json"),
            &[("To", USER_PHONE), ("DateSent", today.as_str())],
        )
        .await;
    assert_eq!(count(&outbound), 0);
    twilio.finish();
    let (_, outbound) = api
        .get(
            &api.url("Messages.json"),
            &[("To", USER_PHONE), ("DateSent", today.as_str())],
        )
        .await;
    assert_eq!(count(&outbound), 1);

    let just_before = (received - jiff::SignedDuration::from_secs(1)).to_string();
    let (_, list) = api
        .get(
            &api.url("Messages.json"),
            &[inbound[0], ("DateSent>", just_before.as_str())],
        )
        .await;
    assert_eq!(count(&list), 2);
    let (status, body) = api
        .get(&api.url("Messages.json"), &[("DateSent>", "last tuesday")])
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn lists_page_with_page_tokens() {
    let twilio = TwilioContract::start().await;
    let api = Api::new(&twilio);
    for i in 0..5 {
        api.sms(&format!("m{i}")).await;
    }
    let bodies = |list: &Value| -> Vec<String> {
        list["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["body"].as_str().expect("body").to_owned())
            .collect()
    };
    let (status, first) = api
        .get(
            &api.url("Messages.json"),
            &[("To", USER_PHONE), ("PageSize", "2")],
        )
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(bodies(&first), ["m4", "m3"]);
    assert_eq!(first["page"], 0);
    assert_eq!(first["page_size"], 2);
    assert_eq!(first["start"], 0);
    assert_eq!(first["end"], 1);
    let list = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json");
    assert_eq!(
        first["first_page_uri"],
        format!("{list}?To=%2B15558675310&PageSize=2&Page=0")
    );
    assert_eq!(first["previous_page_uri"], Value::Null);
    let next = first["next_page_uri"]
        .as_str()
        .expect("next page")
        .to_owned();
    assert!(next.contains("&Page=1&PageToken=PA"), "{next}");

    let (_, second) = api.get(&format!("{}{next}", twilio.base), &[]).await;
    assert_eq!(bodies(&second), ["m2", "m1"]);
    assert_eq!(second["page"], 1);
    assert_eq!(second["start"], 2);
    assert_eq!(second["uri"], next);
    let next = second["next_page_uri"]
        .as_str()
        .expect("next page")
        .to_owned();
    let (_, third) = api.get(&format!("{}{next}", twilio.base), &[]).await;
    assert_eq!(bodies(&third), ["m0"]);
    assert_eq!(third["next_page_uri"], Value::Null);

    let previous = third["previous_page_uri"]
        .as_str()
        .expect("previous page")
        .to_owned();
    assert!(previous.contains("&Page=1&PageToken=PB"), "{previous}");
    let (_, back) = api.get(&format!("{}{previous}", twilio.base), &[]).await;
    assert_eq!(bodies(&back), ["m2", "m1"]);

    let (status, body) = api
        .get(&api.url("Messages.json"), &[("PageToken", "PAnot-a-sid")])
        .await;
    assert_error(status, &body, 400, 21481);
    let (status, _) = api
        .get(&api.url("Messages.json"), &[("PageSize", "1001")])
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn faults_refuse_requests_then_clear() {
    let twilio = TwilioContract::start().await;
    let api = Api::new(&twilio);
    twilio.fail_next(
        2,
        Some(Endpoint::CreateMessage),
        Fault::RateLimited {
            retry_after: Some(3),
        },
    );
    let (status, list) = api.get(&api.url("Messages.json"), &[]).await;
    assert_eq!(status, 200, "{list}");
    for _ in 0..2 {
        let request = api
            .http
            .post(api.url("Messages.json"))
            .basic_auth(ACCOUNT_SID, Some(AUTH_TOKEN))
            .form(&[("To", USER_PHONE), ("From", TWILIO_NUMBER), ("Body", "x")]);
        let (status, headers, body) = api.send(request).await;
        assert_error(status, &body, 429, 20429);
        assert_eq!(headers[reqwest::header::RETRY_AFTER], "3");
    }
    api.sms("third time").await;
    assert_eq!(twilio.sent().len(), 1);

    twilio.fail_next(1, None, Fault::ServerError);
    let (status, body) = api.get(&api.url("Messages.json"), &[]).await;
    assert_error(status, &body, 500, 20500);
    twilio.fail_next(1, Some(Endpoint::CreateCall), Fault::Unavailable);
    let (status, body) = api
        .post(
            "Calls.json",
            &[
                ("To", USER_PHONE),
                ("From", TWILIO_NUMBER),
                ("Twiml", "<Response/>"),
            ],
        )
        .await;
    assert_error(status, &body, 503, 20503);
    assert!(twilio.calls().is_empty());

    twilio.set_down(true);
    let (status, body) = api.get(&api.url("Messages.json"), &[]).await;
    assert_error(status, &body, 503, 20503);
    twilio.set_down(false);
    let (status, _) = api.get(&api.url("Messages.json"), &[]).await;
    assert_eq!(status, 200);

    assert_eq!(twilio.requests(Endpoint::CreateMessage), 3);
    assert_eq!(twilio.requests(Endpoint::ListMessages), 4);
    assert_eq!(twilio.requests(Endpoint::CreateCall), 1);
}

#[tokio::test]
async fn calls_ring_and_end_as_set() {
    let twilio = TwilioContract::start().await;
    twilio.set_step(None);
    twilio.set_call_fate("+15550005555", CallFate::NoAnswer);
    twilio.set_call_fate("+15550006666", CallFate::Busy);
    let api = Api::new(&twilio);
    let twiml = "<Response><Say>Deepwork emergency. Text ack to stop.</Say></Response>";
    let (status, call) = api
        .post(
            "Calls.json",
            &[
                ("To", USER_PHONE),
                ("From", TWILIO_NUMBER),
                ("Twiml", twiml),
            ],
        )
        .await;
    assert_eq!(status, 201, "{call}");
    assert!(sid_ok(&call["sid"], "CA"), "{call}");
    assert_eq!(call["status"], "queued");
    assert_eq!(call["direction"], "outbound-api");
    assert_eq!(call["to"], USER_PHONE);
    assert_eq!(call["from"], TWILIO_NUMBER);
    assert_eq!(call["to_formatted"], "(555) 867-5310");
    assert_eq!(call["start_time"], Value::Null);
    let sid = call["sid"].as_str().expect("sid").to_owned();
    let mut seen = vec!["queued".to_owned()];
    for _ in 0..4 {
        twilio.advance();
        let status = api.fetch("Calls", &sid).await["status"]
            .as_str()
            .expect("status")
            .to_owned();
        if seen.last() != Some(&status) {
            seen.push(status);
        }
    }
    assert_eq!(seen, ["queued", "ringing", "in-progress", "completed"]);
    let done = api.fetch("Calls", &sid).await;
    assert!(done["duration"].is_string(), "{done}");
    rfc2822(&done["start_time"]);
    rfc2822(&done["end_time"]);

    for (to, end) in [("+15550005555", "no-answer"), ("+15550006666", "busy")] {
        let (status, call) = api
            .post(
                "Calls.json",
                &[
                    ("To", to),
                    ("From", TWILIO_NUMBER),
                    ("Url", "https://example.com/twiml"),
                ],
            )
            .await;
        assert_eq!(status, 201, "{call}");
        twilio.finish();
        let ended = api.fetch("Calls", call["sid"].as_str().expect("sid")).await;
        assert_eq!(ended["status"], end);
        assert_eq!(ended["duration"], Value::Null);
        assert_eq!(ended["end_time"], Value::Null);
    }

    let (status, listed) = api.get(&api.url("Calls.json"), &[("To", USER_PHONE)]).await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed["calls"].as_array().expect("calls").clone();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["sid"], sid.as_str());
    let (_, all) = api.get(&api.url("Calls.json"), &[("PageSize", "2")]).await;
    let newest: Vec<&str> = all["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["status"].as_str().expect("status"))
        .collect();
    assert_eq!(newest, ["busy", "no-answer"]);
    assert!(all["next_page_uri"].is_string(), "{all}");
    let (_, busy) = api.get(&api.url("Calls.json"), &[("Status", "busy")]).await;
    assert_eq!(busy["calls"].as_array().expect("calls").len(), 1);

    let calls = twilio.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].twiml.as_deref(), Some(twiml));
    assert_eq!(calls[1].url.as_deref(), Some("https://example.com/twiml"));
    assert_eq!(calls[2].status(), "busy");

    let cases: [(&[(&str, &str)], u64); 4] = [
        (&[("From", TWILIO_NUMBER), ("Twiml", twiml)], 21201),
        (&[("To", USER_PHONE), ("Twiml", twiml)], 21213),
        (
            &[
                ("To", USER_PHONE),
                ("From", "+15550001111"),
                ("Twiml", twiml),
            ],
            21210,
        ),
        (&[("To", USER_PHONE), ("From", TWILIO_NUMBER)], 21200),
    ];
    for (fields, code) in cases {
        let (status, body) = api.post("Calls.json", fields).await;
        assert_error(status, &body, 400, code);
    }
    let (status, body) = api
        .get(
            &api.url("Calls/CA00000000000000000000000000000000.json"),
            &[],
        )
        .await;
    assert_error(status, &body, 404, 20404);
    assert_eq!(twilio.requests(Endpoint::FetchCall), 8);
    assert_eq!(twilio.requests(Endpoint::ListCalls), 3);
}
