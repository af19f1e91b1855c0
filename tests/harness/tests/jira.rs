//! The Jira Cloud contract server over real HTTP: the user, JQL search (parsing,
//! precedence, relative and absolute dates in the user's zone, errors, paging, fields,
//! changelog), comments with ADF mentions, and how requests fail (401, 429).

mod common;

use common::{at, send};
use deepwork_harness::jira::{API_TOKEN, BOB, EMAIL, JiraContract, ME};
use serde_json::{Value, json};

/// A client signed in with the user's API token.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(jira: &JiraContract) -> Api {
        Api {
            base: jira.base.clone(),
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .basic_auth(EMAIL, Some(API_TOKEN))
            .query(query);
        let (status, _, body) = send(request).await;
        (status, body)
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(EMAIL, Some(API_TOKEN))
            .json(body);
        let (status, _, body) = send(request).await;
        (status, body)
    }

    async fn search(&self, jql: &str, fields: &str) -> (u16, Value) {
        self.get(
            "/rest/api/3/search/jql",
            &[("jql", jql), ("fields", fields)],
        )
        .await
    }

    /// The keys a search finds, in order; the search must succeed.
    async fn keys(&self, jql: &str) -> Vec<String> {
        let (status, body) = self.search(jql, "summary").await;
        assert_eq!(status, 200, "{jql}: {body}");
        keys(&body)
    }
}

fn keys(body: &Value) -> Vec<String> {
    body["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| i["key"].as_str().expect("key").to_owned())
        .collect()
}

#[tokio::test]
async fn myself_is_the_user_with_their_time_zone() {
    let jira = JiraContract::start().await;
    let (status, me) = Api::new(&jira).get("/rest/api/3/myself", &[]).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["accountId"], ME);
    assert_eq!(me["displayName"], "Alice");
    assert_eq!(me["emailAddress"], EMAIL);
    assert_eq!(me["timeZone"], "Europe/Berlin");
}

#[tokio::test]
async fn wrong_or_revoked_credentials_are_refused_with_401() {
    let jira = JiraContract::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/rest/api/3/myself", jira.base);
    for request in [
        http.get(&url),
        http.get(&url).basic_auth(EMAIL, Some("wrong")),
        http.get(&url)
            .basic_auth("bob@example.com", Some(API_TOKEN)),
    ] {
        let response = request.send().await.expect("request");
        assert_eq!(response.status().as_u16(), 401);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["status-code"], 401);
    }
    let api = Api::new(&jira);
    assert_eq!(api.get("/rest/api/3/myself", &[]).await.0, 200);
    jira.state.lock().expect("state").revoke();
    assert_eq!(api.get("/rest/api/3/myself", &[]).await.0, 401);
}

#[tokio::test]
async fn rate_limit_is_429_with_retry_after_then_lifts() {
    let jira = JiraContract::start().await;
    {
        let mut state = jira.state.lock().expect("state");
        state.rate_limit_next = 1;
        state.retry_after = 7;
    }
    let api = Api::new(&jira);
    let request = api
        .http
        .get(format!("{}/rest/api/3/myself", jira.base))
        .basic_auth(EMAIL, Some(API_TOKEN));
    let (status, headers, _) = send(request).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert_eq!(headers["ratelimit-reason"], "jira-burst-based");
    let reset = headers["x-ratelimit-reset"].to_str().expect("reset");
    assert!(
        reset.ends_with('Z') && reset.len() == "2026-11-29T09:12Z".len(),
        "{reset}"
    );
    assert_eq!(api.get("/rest/api/3/myself", &[]).await.0, 200);
}

#[tokio::test]
async fn search_answers_only_the_fields_asked_for() {
    let jira = JiraContract::start().await;
    jira.state
        .lock()
        .expect("state")
        .create_issue("DW-1", "Fix the login", BOB, Some(ME));
    let api = Api::new(&jira);
    let (status, body) = api
        .search("assignee = currentUser()", "summary,status,assignee")
        .await;
    assert_eq!(status, 200, "{body}");
    let issue = &body["issues"][0];
    assert_eq!(issue["key"], "DW-1");
    assert!(issue["self"].as_str().expect("self").ends_with(&format!(
        "/rest/api/3/issue/{}",
        issue["id"].as_str().expect("id")
    )));
    let fields = issue["fields"].as_object().expect("fields");
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["assignee", "status", "summary"]);
    assert_eq!(fields["summary"], "Fix the login");
    assert_eq!(fields["status"]["name"], "To Do");
    assert_eq!(fields["assignee"]["accountId"], ME);
    assert_eq!(body["isLast"], true);
    assert!(body.get("nextPageToken").is_none(), "{body}");

    // Without `fields`, the enhanced search gives ids only.
    let (_, bare) = api
        .get("/rest/api/3/search/jql", &[("jql", "project = DW")])
        .await;
    assert_eq!(bare["issues"][0], json!({ "id": issue["id"] }));

    let (_, all) = api.search("project = DW", "*all,-comment").await;
    let fields = all["issues"][0]["fields"].as_object().expect("fields");
    assert!(fields.contains_key("reporter") && fields.contains_key("updated"));
    assert!(!fields.contains_key("comment"));
}

#[tokio::test]
async fn and_binds_tighter_than_or_and_keywords_ignore_case() {
    let jira = JiraContract::start().await;
    {
        let mut state = jira.state.lock().expect("state");
        state.create_issue("DW-1", "mine in DW", BOB, Some(ME));
        state.create_issue("DW-2", "bob's in DW", BOB, Some(BOB));
        state.create_issue("OPS-1", "reported by me", ME, None);
        state.create_issue("OPS-2", "nobody's", BOB, None);
    }
    let api = Api::new(&jira);
    let sorted = |mut keys: Vec<String>| {
        keys.sort();
        keys
    };
    assert_eq!(
        sorted(
            api.keys("project = OPS and assignee = currentUser() or reporter = currentUser()")
                .await
        ),
        ["OPS-1"]
    );
    assert_eq!(
        sorted(
            api.keys("project = DW AND (assignee = currentUser() OR reporter = currentUser())")
                .await
        ),
        ["DW-1"]
    );
    assert_eq!(
        sorted(
            api.keys(&format!(
                "assignee in (currentUser(), \"{BOB}\") ORDER BY key asc"
            ))
            .await
        ),
        ["DW-1", "DW-2"]
    );
    // `!=` never matches an empty assignee; `IS EMPTY` finds it.
    assert_eq!(
        sorted(
            api.keys("project = OPS AND assignee != currentUser()")
                .await
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        sorted(api.keys("project = OPS AND assignee IS EMPTY").await),
        ["OPS-1", "OPS-2"]
    );
    assert_eq!(
        sorted(
            api.keys("project = OPS AND NOT reporter = currentUser()")
                .await
        ),
        ["OPS-2"]
    );
    assert_eq!(
        api.keys("project in (DW, OPS) order by key DESC").await,
        ["OPS-2", "OPS-1", "DW-2", "DW-1"]
    );
}

#[tokio::test]
async fn watchers_are_reporter_assignees_commenters_and_explicit() {
    let jira = JiraContract::start().await;
    {
        let mut state = jira.state.lock().expect("state");
        state.create_issue("DW-1", "reported by me", ME, None);
        state.create_issue("DW-2", "assigned to me, then away", BOB, Some(ME));
        state.assign("DW-2", BOB);
        state.create_issue("DW-3", "I commented", BOB, None);
        state.comment("DW-3", ME, "looking", &[]);
        state.create_issue("DW-4", "I watch", BOB, None);
        state.watch("DW-4", ME);
        state.create_issue("DW-5", "not mine", BOB, None);
    }
    let mut watched = Api::new(&jira).keys("watcher = currentUser()").await;
    watched.sort();
    assert_eq!(watched, ["DW-1", "DW-2", "DW-3", "DW-4"]);
}

#[tokio::test]
async fn relative_periods_count_back_from_now() {
    let jira = JiraContract::start().await;
    let start = at("2026-11-29T08:00:00Z");
    {
        let mut state = jira.state.lock().expect("state");
        state.clock = Some(start);
        state.create_issue("DW-1", "old", BOB, Some(ME));
        state.clock = Some(at("2026-11-29T09:50:00Z"));
        state.create_issue("DW-2", "new", BOB, Some(ME));
        state.clock = Some(at("2026-11-29T10:00:00Z"));
    }
    let api = Api::new(&jira);
    assert_eq!(api.keys("updated >= -15m").await, ["DW-2"]);
    assert_eq!(api.keys("updated >= \"-15\"").await, ["DW-2"]);
    assert_eq!(
        api.keys("updated > \"-3h\" ORDER BY updated ASC").await,
        ["DW-1", "DW-2"]
    );
    assert_eq!(api.keys("updated < -30m").await, ["DW-1"]);
    assert_eq!(
        api.keys("created >= -1d AND created <= now() ORDER BY created DESC")
            .await,
        ["DW-2", "DW-1"]
    );
    assert_eq!(
        api.keys("updated >= \"-1w 2d\" ORDER BY updated").await,
        ["DW-2", "DW-1"]
    );

    // A comment moves `updated`.
    jira.state
        .lock()
        .expect("state")
        .comment("DW-1", BOB, "ping", &[ME]);
    assert_eq!(
        api.keys("updated >= -15m ORDER BY updated DESC").await,
        ["DW-1", "DW-2"]
    );
}

#[tokio::test]
async fn absolute_dates_are_read_in_the_users_time_zone() {
    let jira = JiraContract::start().await;
    {
        let mut state = jira.state.lock().expect("state");
        state.clock = Some(at("2026-11-29T08:10:00Z"));
        state.create_issue("DW-1", "updated at 09:10 in Berlin", BOB, Some(ME));
    }
    let api = Api::new(&jira);
    let (_, body) = api.search("key = DW-1", "updated").await;
    assert_eq!(
        body["issues"][0]["fields"]["updated"],
        "2026-11-29T09:10:00.000+0100"
    );

    // "08:30" is 07:30 UTC in Berlin, so an issue updated at 08:10 UTC is after it: a
    // client sending UTC wall-clock times here would get it wrongly.
    assert_eq!(api.keys("updated >= \"2026/11/29 08:30\"").await, ["DW-1"]);
    assert!(api.keys("updated >= \"2026-11-29 09:30\"").await.is_empty());
    assert_eq!(api.keys("updated >= \"2026-11-29\"").await, ["DW-1"]);
    jira.state.lock().expect("state").time_zone = "UTC".into();
    assert!(api.keys("updated >= \"2026/11/29 08:30\"").await.is_empty());
}

#[tokio::test]
async fn malformed_jql_is_400_with_jiras_messages() {
    let jira = JiraContract::start().await;
    jira.state
        .lock()
        .expect("state")
        .create_issue("DW-1", "x", BOB, Some(ME));
    let api = Api::new(&jira);
    let cases = [
        (
            "assignee foo currentUser()",
            "Error in the JQL Query: Expecting operator but got 'foo'. The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'. (line 1, character 10)",
        ),
        (
            "assignee = currentUser() AND",
            "Error in the JQL Query: Expecting a field name before the end of the query. (line 1, character 29)",
        ),
        (
            "assignee = ",
            "Error in the JQL Query: Expecting either a value, list or function before the end of the query. (line 1, character 12)",
        ),
        (
            "status = \"In Progress",
            "Error in the JQL Query: The quoted string 'In Progress' has not been completed. (line 1, character 10)",
        ),
        (
            "project = DW reporter = currentUser()",
            "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'reporter'. (line 1, character 14)",
        ),
        (
            "(project = DW",
            "Error in the JQL Query: Expecting ')' before the end of the query. (line 1, character 14)",
        ),
        (
            "mentioned = currentUser()",
            "Field 'mentioned' does not exist or you do not have permission to view it.",
        ),
        (
            "assignee > currentUser()",
            "The operator '>' is not supported by the 'assignee' field.",
        ),
        (
            "assignee = alice@example.com",
            "The value 'alice@example.com' does not exist for the field 'assignee'.",
        ),
        (
            "project = NOPE",
            "The value 'NOPE' does not exist for the field 'project'.",
        ),
        (
            "updated >= \"2026-11-29T08:00:00Z\"",
            "Date value '2026-11-29T08:00:00Z' for field 'updated' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.",
        ),
        (
            "updated >= startOfDay()",
            "Unable to find JQL function 'startOfDay()'.",
        ),
        (
            "ORDER BY updated DESC",
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
        ),
        (
            "",
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
        ),
        (
            "project = DW ORDER BY summary",
            "Not able to sort using field 'summary'.",
        ),
    ];
    for (jql, message) in cases {
        let (status, body) = api.search(jql, "summary").await;
        assert_eq!(status, 400, "{jql}: {body}");
        assert_eq!(
            body,
            json!({ "errorMessages": [message], "errors": {} }),
            "{jql}"
        );
    }
}

#[tokio::test]
async fn pages_follow_next_page_token_over_get_and_post() {
    let jira = JiraContract::start().await;
    {
        let mut state = jira.state.lock().expect("state");
        for n in 1..=5 {
            state.create_issue(&format!("DW-{n}"), "x", BOB, Some(ME));
        }
    }
    let api = Api::new(&jira);
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut query = vec![
            ("jql", "assignee = currentUser() ORDER BY key ASC"),
            ("fields", "summary"),
            ("maxResults", "2"),
        ];
        if let Some(token) = &token {
            query.push(("nextPageToken", token));
        }
        let (status, body) = api.get("/rest/api/3/search/jql", &query).await;
        assert_eq!(status, 200, "{body}");
        seen.extend(keys(&body));
        if body["isLast"] == true {
            assert!(body.get("nextPageToken").is_none());
            break;
        }
        token = Some(body["nextPageToken"].as_str().expect("token").to_owned());
    }
    assert_eq!(seen, ["DW-1", "DW-2", "DW-3", "DW-4", "DW-5"]);

    let request =
        json!({ "jql": "project = DW ORDER BY key DESC", "fields": ["summary"], "maxResults": 3 });
    let (status, first) = api.post("/rest/api/3/search/jql", &request).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(keys(&first), ["DW-5", "DW-4", "DW-3"]);
    let mut next = request.clone();
    next["nextPageToken"] = first["nextPageToken"].clone();
    let (_, second) = api.post("/rest/api/3/search/jql", &next).await;
    assert_eq!(keys(&second), ["DW-2", "DW-1"]);
    assert_eq!(second["isLast"], true);

    let (status, _) = api
        .get(
            "/rest/api/3/search/jql",
            &[("jql", "project = DW"), ("nextPageToken", "bogus")],
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn changelog_records_assignments_newest_first() {
    let jira = JiraContract::start().await;
    {
        let mut state = jira.state.lock().expect("state");
        state.create_issue("DW-1", "x", BOB, None);
        state.assign("DW-1", BOB);
        state.assign("DW-1", ME);
    }
    let (status, body) = Api::new(&jira)
        .get(
            "/rest/api/3/search/jql",
            &[
                ("jql", "assignee = currentUser()"),
                ("fields", "assignee"),
                ("expand", "changelog"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let histories = body["issues"][0]["changelog"]["histories"]
        .as_array()
        .expect("histories");
    assert_eq!(histories.len(), 2);
    let latest = &histories[0];
    assert_eq!(latest["author"]["accountId"], BOB);
    assert!(
        latest["created"]
            .as_str()
            .expect("created")
            .ends_with("+0100")
    );
    let item = &latest["items"][0];
    assert_eq!(item["field"], "assignee");
    assert_eq!(item["fieldtype"], "jira");
    assert_eq!(item["from"], BOB);
    assert_eq!(item["fromString"], "Bob");
    assert_eq!(item["to"], ME);
    assert_eq!(item["toString"], "Alice");
    assert_eq!(histories[1]["items"][0]["from"], Value::Null);
}

#[tokio::test]
async fn comments_are_adf_with_mentions_and_page() {
    let jira = JiraContract::start().await;
    {
        let mut state = jira.state.lock().expect("state");
        state.create_issue("DW-1", "x", BOB, Some(ME));
        state.comment(
            "DW-1",
            BOB,
            "can you look?\nsee https://example.com/log",
            &[ME],
        );
        state.comment("DW-1", BOB, "second", &[]);
        state.comment("DW-1", BOB, "third", &[]);
    }
    let api = Api::new(&jira);
    let (_, body) = api.search("key = DW-1", "comment").await;
    let field = &body["issues"][0]["fields"]["comment"];
    assert_eq!(field["total"], 3);
    let first = &field["comments"][0];
    assert_eq!(first["author"]["accountId"], BOB);
    assert_eq!(first["author"]["displayName"], "Bob");
    assert_eq!(first["body"]["type"], "doc");
    let inline = first["body"]["content"][0]["content"]
        .as_array()
        .expect("inline");
    assert_eq!(
        inline[0],
        json!({ "type": "mention", "attrs": { "id": ME, "text": "@Alice", "accessLevel": "" } })
    );
    let kinds: Vec<&str> = inline
        .iter()
        .map(|n| n["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        kinds,
        ["mention", "text", "text", "hardBreak", "text", "inlineCard"]
    );
    assert_eq!(inline[5]["attrs"]["url"], "https://example.com/log");

    let (status, page) = api
        .get(
            "/rest/api/3/issue/DW-1/comment",
            &[
                ("startAt", "1"),
                ("maxResults", "1"),
                ("orderBy", "created"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["startAt"], 1);
    assert_eq!(page["total"], 3);
    assert_eq!(
        page["comments"][0]["body"]["content"][0]["content"][0]["text"],
        "second"
    );
    let (_, newest) = api
        .get("/rest/api/3/issue/DW-1/comment", &[("orderBy", "-created")])
        .await;
    assert_eq!(
        newest["comments"][0]["body"]["content"][0]["content"][0]["text"],
        "third"
    );
    let (status, missing) = api.get("/rest/api/3/issue/DW-9/comment", &[]).await;
    assert_eq!(status, 404);
    assert_eq!(
        missing["errorMessages"][0],
        "Issue does not exist or you do not have permission to see it."
    );
}

#[tokio::test]
async fn a_posted_comment_is_the_users_and_moves_updated() {
    let jira = JiraContract::start().await;
    {
        let mut state = jira.state.lock().expect("state");
        state.clock = Some(at("2026-11-29T08:00:00Z"));
        state.create_issue("DW-1", "x", BOB, None);
        state.clock = Some(at("2026-11-29T09:00:00Z"));
    }
    let api = Api::new(&jira);
    let body = json!({ "body": { "type": "doc", "version": 1, "content": [{ "type": "paragraph", "content": [
        { "type": "mention", "attrs": { "id": BOB, "text": "@Bob" } },
        { "type": "text", "text": " back in 25 minutes (focus block)" }
    ] }] } });
    let (status, comment) = api.post("/rest/api/3/issue/DW-1/comment", &body).await;
    assert_eq!(status, 201, "{comment}");
    assert_eq!(comment["author"]["accountId"], ME);
    assert_eq!(comment["body"], body["body"]);
    assert_eq!(comment["created"], "2026-11-29T10:00:00.000+0100");
    let state = jira.now();
    let issue = state.issue("DW-1").expect("issue");
    assert_eq!(issue.updated, at("2026-11-29T09:00:00Z"));
    assert!(issue.watchers.iter().any(|w| w == ME));

    let (status, refused) = api
        .post(
            "/rest/api/3/issue/DW-1/comment",
            &json!({ "body": "plain text" }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        refused["errors"]["comment"],
        "Comment body can not be empty!"
    );
    assert_eq!(
        api.post("/rest/api/3/issue/NOPE-1/comment", &body).await.0,
        404
    );
}

#[tokio::test]
async fn every_request_is_logged_with_its_query() {
    let jira = JiraContract::start().await;
    jira.state
        .lock()
        .expect("state")
        .create_issue("DW-1", "x", BOB, Some(ME));
    let api = Api::new(&jira);
    api.search("assignee = currentUser()", "summary").await;
    api.post("/rest/api/3/search/jql", &json!({ "jql": "project = DW" }))
        .await;
    api.get("/rest/api/2/search", &[("jql", "x")]).await;
    assert_eq!(
        jira.now().calls,
        [
            "GET /rest/api/3/search/jql?jql=assignee+%3D+currentUser%28%29&fields=summary",
            "POST /rest/api/3/search/jql",
            "GET /rest/api/2/search?jql=x",
        ]
    );
}
